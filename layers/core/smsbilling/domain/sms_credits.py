"""What an SMS sent from prepaid credits costs, and what its end consumes. Pure.

A partner's API send (logic/api_send.py) is priced in credits by route: **1 credit per sent part**
unless the admin's :class:`CreditRates` (one entity, id ``default``) says otherwise for the route
(the destination's operator) or for the partner (:class:`~smsbilling.domain.tariff.RouteCredits`
picks the most specific rate). The credits are reserved as a *pending* ``sms_credits`` transfer
(D partner credit block, C platform credits consumed) before the MT is queued, under
:func:`reservation_id` of the MT id; the MT's final state settles it (docs/billing.md, "Sending
from credits"):

* every part the operator accepted (the submit answered with an operator id) is **consumed**,
  whatever the receipt says later: the operator took it, the platform pays for it;
* every part never accepted (refused at creation, refused by the operator, never answered before
  the deadline) is **refunded**: the pending transfer is posted for the accepted share only
  (:func:`consumed_legs`), or voided when no part was accepted.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import Entity
from smsbilling.domain.ledger import Leg, Transfer, TransferKind, transfer_id
from smsbilling.domain.mt import Mt
from smsbilling.domain.tariff import ANY_ROUTE, Direction, RouteCredits

CREDIT_RATES_ID = "default"


class CreditRate(BaseModel):
    """Credits per sent part on one route (an operator id, or ``*``), for everyone or one partner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: str = Field(min_length=1, max_length=64, description="the destination's operator id, or '*'")
    partner_id: str | None = Field(default=None, max_length=64, description="None: every partner")
    credits_per_part: int = Field(ge=0, le=1_000_000)


class CreditRates(Entity):
    """The admin's credit prices for sending (one item, id ``default``); absent: 1 per part."""

    type_name: ClassVar[str] = "CREDITRATES"
    id_fields: ClassVar[tuple[str, ...]] = ("rates_id",)
    rates_id: str = CREDIT_RATES_ID
    outbound_default: int = Field(default=1, ge=0, le=1_000_000)
    rates: tuple[CreditRate, ...] = ()


def route_credits(rates: CreditRates | None) -> RouteCredits:
    """The pricing rule of the stored rates (the defaults when there are none)."""
    if rates is None:
        return RouteCredits()
    per_route = {
        (Direction.OUTBOUND, r.route): r.credits_per_part for r in rates.rates if r.partner_id is None
    }
    per_partner = {
        (r.partner_id, Direction.OUTBOUND, r.route): r.credits_per_part
        for r in rates.rates
        if r.partner_id is not None
    }
    per_route.pop((Direction.OUTBOUND, ANY_ROUTE), None)  # the default says that already
    return RouteCredits(outbound_default=rates.outbound_default, per_route=per_route, per_partner=per_partner)


def send_credits(rule: RouteCredits, partner_id: str, operator_id: str, parts: int) -> int:
    """Credits to reserve for an MT of ``parts`` parts to a subscriber of ``operator_id``."""
    return rule.credits_for(partner_id, Direction.OUTBOUND, operator_id, parts)


def reservation_id(message_id: str) -> str:
    """The id of the pending ``sms_credits`` transfer holding an MT's credits."""
    return transfer_id(message_id, str(TransferKind.SMS_CREDITS))


def accepted_parts(mt: Mt) -> int:
    """Parts an operator accepted (their submit was answered with an operator id)."""
    return sum(1 for part in mt.parts if part.key is not None)


def consumed_legs(reserved: Transfer, *, parts: int, accepted: int) -> tuple[Leg, ...] | None:
    """The legs to post for ``accepted`` of ``parts`` parts; None: nothing is consumed (void it).

    Reservations are ``credits_per_part * parts``, so the share is exact; a reservation that is
    not (written by hand) is consumed rounding down, in the partner's favour.
    """
    if not reserved.pending:
        raise ValueError(f"{reserved.id} is not a reservation")
    if parts <= 0 or not 0 <= accepted <= parts:
        raise ValueError(f"accepted {accepted} of {parts} parts")
    if accepted == parts:
        return reserved.legs
    debit = next(leg for leg in reserved.legs if leg.amount > 0)
    credit = next(leg for leg in reserved.legs if leg.amount < 0)
    consumed = debit.amount * accepted // parts
    if consumed == 0:
        return None
    return (Leg(debit.account, consumed), Leg(credit.account, -consumed))
