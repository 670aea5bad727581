"""Tariff plans: precomputed shares, scales, plan selection by date and partner, route credits."""

from __future__ import annotations

import pytest

from smsbilling.domain.money import Money
from smsbilling.domain.tariff import (
    CommissionScale,
    CommissionStep,
    CreditLimits,
    Direction,
    NumberTariff,
    PlanBook,
    RouteCredits,
    StepBasis,
    TariffError,
)
from tests.unit.billing.plans import COUNT_SCALE, OP, RUB, TARIFF_300, plan


def test_number_tariff_precomputes_the_fixed_part_of_the_split() -> None:
    # vat = 30000 * 2000 / 12000 = 5000; net = 25000; operator = 25000 * 45 % = 11250; gross = 13750
    assert (TARIFF_300.vat, TARIFF_300.net, TARIFF_300.operator_share, TARIFF_300.gross) == (
        5000,
        25000,
        11250,
        13750,
    )
    # 9.99 EUR incl. 19 % VAT: vat = 999 * 1900 / 11900 = 159.50 -> 160; net 839;
    # operator 33.33 %: 839 * 3333 / 10000 = 279.64 -> 280; gross 559
    odd = NumberTariff("o", "1", "EUR", price=999, vat_bps=1_900, operator_share_bps=3_333)
    assert (odd.vat, odd.net, odd.operator_share, odd.gross) == (160, 839, 280, 559)
    no_vat = NumberTariff("o", "1", "EUR", price=500, vat_bps=0, operator_share_bps=0)
    assert (no_vat.vat, no_vat.gross) == (0, 500)


@pytest.mark.parametrize("price", [-1, 1.5, True])
def test_number_tariff_refuses_bad_prices(price: object) -> None:
    with pytest.raises((TariffError, ValueError)):
        NumberTariff("o", "1", RUB, price=price, vat_bps=0, operator_share_bps=0)  # type: ignore[arg-type]


def test_scale_steps() -> None:
    assert [COUNT_SCALE.step_index(n) for n in (0, 1, 2, 3, 999, 1000, 10**9)] == [0, 0, 0, 1, 1, 2, 2]
    with pytest.raises(TariffError):
        CommissionScale(StepBasis.COUNT, (CommissionStep(5, 100),))  # must start at 0
    with pytest.raises(TariffError):
        CommissionScale(StepBasis.COUNT, (CommissionStep(0, 100), CommissionStep(0, 50)))
    with pytest.raises(ValueError):
        CommissionScale(StepBasis.COUNT, (CommissionStep(0, 10_001),))
    assert CommissionScale.flat(2_500).step_index(123) == 0


def test_plan_in_force_individual_before_common() -> None:
    common_a = plan(plan_id="A", start_ms=0)
    common_b = plan(plan_id="B", start_ms=100)
    own = plan(plan_id="p1-own", partner_id="p1", start_ms=50, end_ms=150)
    book = PlanBook([common_b, own, common_a])
    assert book.plan_for("p1", 10).plan_id == "A"
    assert book.plan_for("p1", 50).plan_id == "p1-own"  # from is inclusive
    assert book.plan_for("p1", 120).plan_id == "p1-own"  # individual beats the newer common plan
    assert book.plan_for("p1", 150).plan_id == "B"  # to is exclusive
    assert book.plan_for("p2", 99).plan_id == "A"
    assert book.plan_for("p2", 100).plan_id == "B"
    with pytest.raises(TariffError):
        PlanBook([common_b]).plan_for("p2", 99)


def test_plan_validation_and_lookups() -> None:
    p = plan()
    assert p.number(OP, "4444") is TARIFF_300
    with pytest.raises(TariffError):
        p.number(OP, "0000")
    # 0.35 RUB per part: 3 parts = 1.05 RUB = 105 kopecks
    assert p.outgoing_cost(OP, "direct", 3) == Money(105, RUB)
    with pytest.raises(TariffError):
        p.outgoing_cost(OP, "other", 1)
    with pytest.raises(TariffError):
        plan(start_ms=10, end_ms=10)


def test_route_credits_defaults_and_overrides() -> None:
    credits = RouteCredits(
        per_route={(Direction.OUTBOUND, "premium"): 3, (Direction.INBOUND, "hlr"): 1},
        per_partner={("vip", Direction.OUTBOUND, "*"): 0, ("p1", Direction.OUTBOUND, "premium"): 2},
    )
    assert credits.credits_for("p9", Direction.OUTBOUND, "direct", parts=3) == 3  # default 1 per part
    assert credits.credits_for("p9", Direction.INBOUND, "direct", parts=3) == 0  # default 0 received
    assert credits.credits_for("p9", Direction.OUTBOUND, "premium", parts=2) == 6  # route override
    assert credits.credits_for("p9", Direction.INBOUND, "hlr", parts=1) == 1
    assert credits.credits_for("p1", Direction.OUTBOUND, "premium", parts=2) == 4  # partner + route
    assert credits.credits_for("vip", Direction.OUTBOUND, "premium", parts=5) == 0  # partner, any route
    with pytest.raises(TariffError):
        RouteCredits(outbound_default=-1)


def test_credit_limits() -> None:
    limits = CreditLimits(default_credits=0, per_partner={"trusted": 500})
    assert limits.limit_for("new") == 0
    assert limits.limit_for("trusted") == 500
