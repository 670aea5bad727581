"""Plans used by the billing tests, with the numbers worked out by hand in the tests."""

from __future__ import annotations

from smsbilling.domain.money import MicroMoney
from smsbilling.domain.tariff import CommissionScale, CommissionStep, NumberTariff, StepBasis, TariffPlan

RUB = "RUB"
OP = "op1"
NUMBER = "4444"

# 300.00 RUB incl. 20 % VAT; the operator keeps 45 % of the net.
TARIFF_300 = NumberTariff(OP, NUMBER, RUB, price=30_000, vat_bps=2_000, operator_share_bps=4_500)
# 100.00 RUB incl. 20 % VAT; the operator keeps 50 %.
TARIFF_100 = NumberTariff(OP, "5555", RUB, price=10_000, vat_bps=2_000, operator_share_bps=5_000)

COUNT_SCALE = CommissionScale(
    StepBasis.COUNT,
    (CommissionStep(0, 4_000), CommissionStep(3, 3_000), CommissionStep(1_000, 2_000)),
)
INCOME_SCALE = CommissionScale(StepBasis.INCOME, (CommissionStep(0, 4_000), CommissionStep(30_000, 3_000)))


def plan(
    scale: CommissionScale = COUNT_SCALE,
    *,
    plan_id: str = "common",
    partner_id: str | None = None,
    start_ms: int = 0,
    end_ms: int | None = None,
    referral_bps: int = 1_000,
) -> TariffPlan:
    return TariffPlan(
        plan_id=plan_id,
        currency=RUB,
        effective_from_ms=start_ms,
        effective_to_ms=end_ms,
        numbers={(OP, NUMBER): TARIFF_300, (OP, "5555"): TARIFF_100},
        scale=scale,
        referral_bps=referral_bps,
        partner_id=partner_id,
        outgoing={(OP, "direct"): MicroMoney(350_000, RUB)},  # 0.35 RUB per part
    )
