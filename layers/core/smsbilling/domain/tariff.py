"""Tariff plans: what a subscriber pays, who gets what, and what sending costs.

Amounts are ``int`` minor units of the plan's currency (VAT-inclusive subscriber prices), rates are
basis points (10,000 = 100 %), outgoing SMS costs are micro-units (see
:mod:`smsbilling.domain.money`). Everything that does not depend on the partner's step (VAT, net,
operator share, the aggregator's gross) is computed once when a :class:`NumberTariff` is built,
so rating a message is a bisect and two multiplications.

Plans
-----
A :class:`TariffPlan` is either *common* (``partner_id is None``) or *individual* (one partner) and
is in force from ``effective_from_ms`` (inclusive) to ``effective_to_ms`` (exclusive, open if
None). :meth:`PlanBook.plan_for` picks, for a partner at an instant, the latest individual plan in
force, else the latest common plan in force.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from smsbilling.domain.money import (
    BPS_DENOMINATOR,
    MicroMoney,
    Money,
    apply_bps,
    check_bps,
    check_currency,
    round_half_up_div,
)


class TariffError(ValueError):
    """An invalid tariff, or no tariff where one is needed."""


class StepBasis(StrEnum):
    COUNT = "count"
    """Steps by the number of billed messages in the period."""
    INCOME = "income"
    """Steps by the aggregator's gross income from the partner in the period (minor units)."""


@dataclass(frozen=True, slots=True)
class CommissionStep:
    threshold: int
    """Period traffic (in the scale's basis) from which this step applies, inclusive."""
    commission_bps: int
    """The aggregator's deduction from the gross income (after VAT and the operator share)."""


@dataclass(frozen=True, slots=True)
class CommissionScale:
    """The scale of interest deductions: steps by the partner's traffic in the period."""

    basis: StepBasis
    steps: tuple[CommissionStep, ...]
    thresholds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].threshold != 0:
            raise TariffError("a scale needs steps, the first at threshold 0")
        thresholds = tuple(step.threshold for step in self.steps)
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise TariffError("step thresholds must increase strictly")
        for step in self.steps:
            check_bps(step.commission_bps, "commission_bps")
        object.__setattr__(self, "thresholds", thresholds)

    def step_index(self, traffic: int) -> int:
        return bisect.bisect_right(self.thresholds, traffic) - 1

    @classmethod
    def flat(cls, commission_bps: int) -> CommissionScale:
        return cls(StepBasis.COUNT, (CommissionStep(0, commission_bps),))


@dataclass(frozen=True, slots=True)
class NumberTariff:
    """The operator's terms for one short number: price incl. VAT, VAT rate, operator share."""

    operator: str
    short_number: str
    currency: str
    price: int
    vat_bps: int
    operator_share_bps: int
    vat: int = field(init=False)
    net: int = field(init=False)
    operator_share: int = field(init=False)
    gross: int = field(init=False)
    """What the operator passes on: net of VAT and of its share. Split between aggregator and partner."""

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if type(self.price) is not int or self.price < 0:
            raise TariffError(f"price must be a non-negative int, got {self.price!r}")
        check_bps(self.vat_bps, "vat_bps")
        check_bps(self.operator_share_bps, "operator_share_bps")
        # VAT is included in the price: vat = price * rate / (1 + rate), rounded by the one helper.
        vat = round_half_up_div(self.price * self.vat_bps, BPS_DENOMINATOR + self.vat_bps)
        net = self.price - vat
        share = apply_bps(net, self.operator_share_bps)
        object.__setattr__(self, "vat", vat)
        object.__setattr__(self, "net", net)
        object.__setattr__(self, "operator_share", share)
        object.__setattr__(self, "gross", net - share)


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


ANY_ROUTE = "*"


@dataclass(frozen=True, slots=True)
class RouteCredits:
    """Credits per SMS part by route. Defaults: 1 per sent part, 0 per received part.

    Overrides, most specific first: (partner, direction, route), (partner, direction, ``*``),
    (direction, route), then the default of the direction.
    """

    outbound_default: int = 1
    inbound_default: int = 0
    per_route: Mapping[tuple[Direction, str], int] = field(default_factory=dict)
    per_partner: Mapping[tuple[str, Direction, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = [self.outbound_default, self.inbound_default, *self.per_route.values()]
        if any(type(v) is not int or v < 0 for v in [*values, *self.per_partner.values()]):
            raise TariffError("route credits must be non-negative ints")

    def credits_for(self, partner_id: str, direction: Direction, route: str, parts: int) -> int:
        per_part = self.per_partner.get((partner_id, direction, route))
        if per_part is None:
            per_part = self.per_partner.get((partner_id, direction, ANY_ROUTE))
        if per_part is None:
            per_part = self.per_route.get((direction, route))
        if per_part is None:
            per_part = self.outbound_default if direction is Direction.OUTBOUND else self.inbound_default
        return per_part * parts


@dataclass(frozen=True, slots=True)
class CreditLimits:
    """How far below zero a partner's prepaid credits may go (0 = strictly prepaid)."""

    default_credits: int = 0
    per_partner: Mapping[str, int] = field(default_factory=dict)

    def limit_for(self, partner_id: str) -> int:
        return self.per_partner.get(partner_id, self.default_credits)


@dataclass(frozen=True, slots=True)
class TariffPlan:
    plan_id: str
    currency: str
    effective_from_ms: int
    numbers: Mapping[tuple[str, str], NumberTariff]
    """By (operator, short number)."""
    scale: CommissionScale
    referral_bps: int = 0
    """The referrer's commission, in bps of the referred partner's share; paid by the platform."""
    partner_id: str | None = None
    effective_to_ms: int | None = None
    outgoing: Mapping[tuple[str, str], MicroMoney] = field(default_factory=dict)
    """Cost of one outgoing SMS part by (operator, route), to the platform."""

    def __post_init__(self) -> None:
        check_currency(self.currency)
        check_bps(self.referral_bps, "referral_bps")
        if self.effective_to_ms is not None and self.effective_to_ms <= self.effective_from_ms:
            raise TariffError(f"plan {self.plan_id} ends before it starts")
        for (operator, number), tariff in self.numbers.items():
            if (tariff.operator, tariff.short_number, tariff.currency) != (operator, number, self.currency):
                raise TariffError(f"plan {self.plan_id}: tariff keyed {operator}/{number} does not match")
        if any(cost.currency != self.currency for cost in self.outgoing.values()):
            raise TariffError(f"plan {self.plan_id}: outgoing costs must be in {self.currency}")

    def in_force(self, at_ms: int) -> bool:
        ends = self.effective_to_ms
        return self.effective_from_ms <= at_ms and (ends is None or at_ms < ends)

    def number(self, operator: str, short_number: str) -> NumberTariff:
        tariff = self.numbers.get((operator, short_number))
        if tariff is None:
            raise TariffError(f"plan {self.plan_id} has no tariff for {operator}/{short_number}")
        return tariff

    def outgoing_cost(self, operator: str, route: str, parts: int) -> Money:
        rate = self.outgoing.get((operator, route))
        if rate is None:
            raise TariffError(f"plan {self.plan_id} has no outgoing cost for {operator}/{route}")
        return rate.times(parts).to_money()


class PlanBook:
    """All plans; picks the one in force for a partner at an instant."""

    def __init__(self, plans: Iterable[TariffPlan]) -> None:
        self._by_owner: dict[str | None, list[TariffPlan]] = {}
        for plan in plans:
            self._by_owner.setdefault(plan.partner_id, []).append(plan)
        for owned in self._by_owner.values():
            owned.sort(key=lambda plan: plan.effective_from_ms, reverse=True)

    def plan_for(self, partner_id: str, at_ms: int) -> TariffPlan:
        for owner in (partner_id, None):
            for plan in self._by_owner.get(owner, ()):
                if plan.in_force(at_ms):
                    return plan
        raise TariffError(f"no plan in force for {partner_id} at {at_ms}")
