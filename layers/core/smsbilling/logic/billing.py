"""Billing: rate a message and post its charge; confirm or cancel MT-billing; close a period.

Talks to the ledger only through :class:`~smsbilling.ports.LedgerStore`. Every write is a transfer
whose id comes from the business key, so a redelivered message or a re-run close posts nothing
twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsbilling.domain import postings
from smsbilling.domain.ledger import PostResult, TransferKind, transfer_id
from smsbilling.domain.rating import (
    PeriodTally,
    PeriodTraffic,
    RatedMessage,
    Recount,
    ServiceRef,
    Split,
    rate,
    recount,
)
from smsbilling.domain.tariff import PlanBook
from smsbilling.ports import LedgerStore


@dataclass(frozen=True, slots=True)
class Charged:
    split: Split
    result: PostResult | None
    """None when the message is free (nothing to post)."""


@dataclass(frozen=True, slots=True)
class PeriodClosed:
    recount: Recount
    result: PostResult | None
    """None when the final step changes nothing."""


class BillingService:
    def __init__(self, store: LedgerStore, plans: PlanBook) -> None:
        self._store = store
        self._plans = plans

    def charge(
        self, message: RatedMessage, service: ServiceRef, traffic: PeriodTraffic, *, mt_billing: bool = False
    ) -> Charged:
        """Rate ``message`` and post its charge (pending if MT-billing)."""
        plan = self._plans.plan_for(service.partner_id, message.at_ms)
        split = rate(message, service, plan, traffic)
        transfer = postings.charge(message, service, split, mt_billing=mt_billing)
        return Charged(split, None if transfer is None else self._store.post(transfer))

    def confirm_mt(self, message_id: str) -> PostResult:
        """The billed MT was delivered: post its pending charge."""
        return self._store.post_pending(transfer_id(message_id, str(TransferKind.MT_CHARGE)))

    def cancel_mt(self, message_id: str) -> PostResult:
        """The billed MT failed: void its pending charge."""
        return self._store.void_pending(transfer_id(message_id, str(TransferKind.MT_CHARGE)))

    def close_period(self, service: ServiceRef, period: str, tally: PeriodTally, at_ms: int) -> PeriodClosed:
        """Recount the period at its final step and post the one adjustment (idempotent per period)."""
        plan = self._plans.plan_for(service.partner_id, at_ms)
        result = recount(tally, plan.scale, plan.referral_bps)
        transfer = postings.recount_adjustment(service, period, tally.currency, result, at_ms)
        return PeriodClosed(result, None if transfer is None else self._store.post(transfer))
