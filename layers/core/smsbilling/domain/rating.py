"""Rating: the split of one billed message, and the recount of a period by its final step.

The split of a price ``P`` (minor units, VAT included) on a plan step with commission ``c`` bps::

    vat       = round(P * vat_bps / (10,000 + vat_bps))        # NumberTariff, precomputed
    net       = P - vat
    operator  = round(net * operator_share_bps / 10,000)       # NumberTariff, precomputed
    gross     = net - operator                                 # what the operator passes on
    partner   = round(gross * (10,000 - c) / 10,000)
    aggregator= gross - partner                                # the platform absorbs rounding
    referral  = round(partner * referral_bps / 10,000)         # paid by the platform, on top

``round`` is :func:`~smsbilling.domain.money.round_half_up_div`. By construction
``vat + operator + aggregator + partner == P`` exactly.

Steps. The step is chosen by the partner's period traffic *including* the message being rated
(the message that reaches a threshold is rated at the new step). ``traffic`` is what was counted
*before* it.

Recount rule. At the close of a period the partner's step is the one its final traffic reaches,
and every message of the period is re-rated at that step, message by message (not on the period
total), so the period ends exactly as if the final step had applied from its start. The
difference between what was booked (including earlier adjustments) and that target is posted as
one adjustment transfer (see :mod:`smsbilling.domain.postings`). Because messages in a period
share a few prices, the tally keeps one line per distinct gross amount, and the recount is
``sum(count * round(gross * (10,000 - c_final) / 10,000))`` per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from smsbilling.domain.money import BPS_DENOMINATOR, round_half_up_div
from smsbilling.domain.tariff import CommissionScale, StepBasis, TariffError, TariffPlan


@dataclass(frozen=True, slots=True)
class RatedMessage:
    message_id: str
    operator: str
    short_number: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class ServiceRef:
    service_id: str
    partner_id: str
    referrer_id: str | None = None

    def __post_init__(self) -> None:
        if self.referrer_id == self.partner_id:
            raise TariffError(f"partner {self.partner_id} cannot refer itself")


@dataclass(frozen=True, slots=True)
class PeriodTraffic:
    """The partner's billed traffic in the period so far (before the message being rated)."""

    count: int = 0
    income: int = 0
    """The aggregator's gross income from the partner, minor units."""


@dataclass(frozen=True, slots=True)
class Split:
    currency: str
    price: int
    vat: int
    operator_share: int
    gross: int
    aggregator: int
    partner: int
    referral: int
    step_index: int
    commission_bps: int


def rate(message: RatedMessage, service: ServiceRef, plan: TariffPlan, traffic: PeriodTraffic) -> Split:
    """Split one message's price by ``plan`` at the step its period traffic reaches. Pure."""
    del service  # the plan was chosen for the service's partner; kept for the signature's sake
    tariff = plan.number(message.operator, message.short_number)
    gross = tariff.gross
    scale = plan.scale
    reached = traffic.count + 1 if scale.basis is StepBasis.COUNT else traffic.income + gross
    index = scale.step_index(reached)
    commission = scale.steps[index].commission_bps
    partner = round_half_up_div(gross * (BPS_DENOMINATOR - commission), BPS_DENOMINATOR)
    referral = round_half_up_div(partner * plan.referral_bps, BPS_DENOMINATOR)
    return Split(
        tariff.currency,
        tariff.price,
        tariff.vat,
        tariff.operator_share,
        gross,
        gross - partner,
        partner,
        referral,
        index,
        commission,
    )


def partner_share(gross: int, commission_bps: int) -> int:
    return round_half_up_div(gross * (BPS_DENOMINATOR - commission_bps), BPS_DENOMINATOR)


@dataclass(frozen=True, slots=True)
class TallyLine:
    """Messages of one gross amount in a period, and what was booked for them so far."""

    count: int = 0
    partner_booked: int = 0
    referral_booked: int = 0


@dataclass(frozen=True, slots=True)
class PeriodTally:
    """A partner's billed traffic in one period, per distinct gross amount (immutable)."""

    currency: str
    lines: Mapping[int, TallyLine] = MappingProxyType({})

    @property
    def count(self) -> int:
        return sum(line.count for line in self.lines.values())

    @property
    def income(self) -> int:
        return sum(gross * line.count for gross, line in self.lines.items())

    def traffic(self) -> PeriodTraffic:
        return PeriodTraffic(self.count, self.income)

    def add(self, split: Split) -> PeriodTally:
        if split.currency != self.currency:
            raise TariffError(f"tally is in {self.currency}, split in {split.currency}")
        line = self.lines.get(split.gross, TallyLine())
        new = TallyLine(
            line.count + 1, line.partner_booked + split.partner, line.referral_booked + split.referral
        )
        return PeriodTally(self.currency, MappingProxyType({**self.lines, split.gross: new}))


@dataclass(frozen=True, slots=True)
class Recount:
    step_index: int
    commission_bps: int
    partner_delta: int
    """Positive: the partner gets more (the platform gives back commission)."""
    referral_delta: int
    tally: PeriodTally
    """The tally as booked once the adjustment is posted."""


def recount(tally: PeriodTally, scale: CommissionScale, referral_bps: int) -> Recount:
    """Re-rate every message of the period at the step its final traffic reaches."""
    traffic = tally.count if scale.basis is StepBasis.COUNT else tally.income
    index = scale.step_index(traffic)
    commission = scale.steps[index].commission_bps
    partner_delta = referral_delta = 0
    lines: dict[int, TallyLine] = {}
    for gross, line in tally.lines.items():
        per_partner = partner_share(gross, commission)
        per_referral = round_half_up_div(per_partner * referral_bps, BPS_DENOMINATOR)
        target = TallyLine(line.count, line.count * per_partner, line.count * per_referral)
        partner_delta += target.partner_booked - line.partner_booked
        referral_delta += target.referral_booked - line.referral_booked
        lines[gross] = target
    return Recount(
        index, commission, partner_delta, referral_delta, PeriodTally(tally.currency, MappingProxyType(lines))
    )
