"""Rating and recount, worked by hand (comments show the arithmetic), plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.rating import (
    PeriodTally,
    PeriodTraffic,
    RatedMessage,
    ServiceRef,
    Split,
    rate,
    recount,
)
from smsbilling.domain.tariff import (
    CommissionScale,
    CommissionStep,
    NumberTariff,
    StepBasis,
    TariffError,
    TariffPlan,
)
from tests.unit.billing.plans import COUNT_SCALE, INCOME_SCALE, NUMBER, OP, RUB, plan

SERVICE = ServiceRef("svc-1", "p1", referrer_id="r1")


def msg(i: int = 0, number: str = NUMBER) -> RatedMessage:
    return RatedMessage(f"m{i}", OP, number, at_ms=1_000 + i)


def parts(split: Split) -> tuple[int, int, int, int, int]:
    return split.vat, split.operator_share, split.aggregator, split.partner, split.referral


def test_worked_example_first_step() -> None:
    # price 30000 (300.00 RUB incl. VAT 20 %)
    # vat = 30000*2000/12000 = 5000; net = 25000; operator 45 % = 11250; gross = 13750
    # 1st message of the period -> step 0 (commission 40 %): partner = 13750*60 % = 8250
    # aggregator = 13750 - 8250 = 5500; referral 10 % of 8250 = 825 (paid by the platform)
    split = rate(msg(), SERVICE, plan(), PeriodTraffic())
    assert parts(split) == (5000, 11250, 5500, 8250, 825)
    assert (split.step_index, split.commission_bps, split.gross) == (0, 4000, 13750)
    assert 5000 + 11250 + 5500 + 8250 == split.price == 30000


def test_worked_example_higher_steps_and_rounding() -> None:
    # 3rd message (2 before it) reaches threshold 3 -> step 1 (30 %): partner = 13750*70 % = 9625
    # aggregator = 4125; referral = 962.5 -> 963 (half up)
    assert parts(rate(msg(), SERVICE, plan(), PeriodTraffic(count=2))) == (5000, 11250, 4125, 9625, 963)
    # 1000th message -> step 2 (20 %): partner = 11000, aggregator = 2750, referral = 1100
    assert parts(rate(msg(), SERVICE, plan(), PeriodTraffic(count=999))) == (5000, 11250, 2750, 11000, 1100)


def test_worked_example_odd_amounts() -> None:
    # 9.99 EUR incl. 19 % VAT: vat 160, net 839, operator 33.33 % -> 280, gross 559
    # commission 35 %: partner = 559 * 65 % = 363.35 -> 363; aggregator = 559 - 363 = 196
    # referral 5 %: 363 * 5 % = 18.15 -> 18
    tariff = NumberTariff("o", "1", "EUR", price=999, vat_bps=1_900, operator_share_bps=3_333)
    eur = TariffPlan("eur", "EUR", 0, {("o", "1"): tariff}, CommissionScale.flat(3_500), referral_bps=500)
    split = rate(RatedMessage("m", "o", "1", 5), SERVICE, eur, PeriodTraffic())
    assert parts(split) == (160, 280, 196, 363, 18)
    assert 160 + 280 + 196 + 363 == 999


def test_income_basis_uses_gross_income_including_this_message() -> None:
    # steps by gross income: 0 -> 40 %, 30000 -> 30 %. Gross per message 13750.
    p = plan(INCOME_SCALE)
    assert rate(msg(), SERVICE, p, PeriodTraffic(count=1, income=13_750)).step_index == 0  # 27500 < 30000
    assert rate(msg(), SERVICE, p, PeriodTraffic(count=2, income=27_500)).step_index == 1  # 41250 >= 30000


def test_unknown_number_and_self_referral_are_refused() -> None:
    with pytest.raises(TariffError):
        rate(msg(number="0000"), SERVICE, plan(), PeriodTraffic())
    with pytest.raises(TariffError):
        ServiceRef("s", "p1", referrer_id="p1")


def rate_period(p: TariffPlan, count: int) -> PeriodTally:
    """Rate ``count`` messages one after another, as the MO processor does, and tally them."""
    tally = PeriodTally(RUB)
    for i in range(count):
        tally = tally.add(rate(msg(i), SERVICE, p, tally.traffic()))
    return tally


def test_recount_up_a_step_count_basis() -> None:
    # 4 messages: reached 1, 2 -> step 0 (partner 8250, referral 825); reached 3, 4 -> step 1 (9625, 963)
    tally = rate_period(plan(), 4)
    line = tally.lines[13_750]
    assert (line.count, line.partner_booked, line.referral_booked) == (4, 35_750, 3_576)
    # final traffic 4 -> step 1 from the start: partner 4 * 9625 = 38500 (+2750), referral 4 * 963 = 3852 (+276)
    result = recount(tally, COUNT_SCALE, 1_000)
    assert (result.step_index, result.partner_delta, result.referral_delta) == (1, 2_750, 276)
    assert recount(result.tally, COUNT_SCALE, 1_000).partner_delta == 0  # recount is idempotent


def test_recount_up_a_step_income_basis() -> None:
    # gross 13750 each: 13750, 27500 -> step 0 (8250 each); 41250 -> step 1 (9625): booked 26125
    # final income 41250 -> step 1 for all three: 3 * 9625 = 28875 -> +2750
    tally = rate_period(plan(INCOME_SCALE), 3)
    result = recount(tally, INCOME_SCALE, 1_000)
    assert (result.partner_delta, result.referral_delta) == (2_750, 3 * 963 - (825 + 825 + 963))


def test_recount_mixed_prices_is_per_message_not_on_the_total() -> None:
    # one 300 RUB (gross 13750) and one 100 RUB (vat 1667, net 8333, op 50 % = 4167, gross 4166)
    # flat 35 %: partner 13750*65 % = 8937.5 -> 8938; 4166*65 % = 2707.9 -> 2708; sum 11646
    # (on the total it would be 17916*65 % = 11645.4 -> 11645: the rule re-rates each message)
    flat = plan(CommissionScale.flat(3_500))
    tally = PeriodTally(RUB)
    for i, number in enumerate([NUMBER, "5555"]):
        tally = tally.add(rate(msg(i, number), SERVICE, flat, tally.traffic()))
    assert sorted(tally.lines) == [4_166, 13_750]
    assert sum(line.partner_booked for line in tally.lines.values()) == 8_938 + 2_708
    assert recount(tally, flat.scale, 1_000).partner_delta == 0


def test_recount_down_when_booked_above_the_final_step() -> None:
    # two messages booked at 30 % (9625 each) but the period ends with 2 -> step 0 (8250): -2750
    tally = PeriodTally(RUB)
    for i in range(2):
        tally = tally.add(rate(msg(i), SERVICE, plan(), PeriodTraffic(count=5)))
    assert recount(tally, COUNT_SCALE, 1_000).partner_delta == -2 * 1_375


_tariffs = st.builds(
    NumberTariff,
    operator=st.just(OP),
    short_number=st.just(NUMBER),
    currency=st.just(RUB),
    price=st.integers(0, 10**9),
    vat_bps=st.integers(0, 10_000),
    operator_share_bps=st.integers(0, 10_000),
)


@given(_tariffs, st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10**6))
def test_every_split_sums_to_the_price(
    tariff: NumberTariff, commission: int, referral: int, count: int
) -> None:
    p = TariffPlan(
        "x", RUB, 0, {(OP, NUMBER): tariff}, CommissionScale.flat(commission), referral_bps=referral
    )
    split = rate(msg(), SERVICE, p, PeriodTraffic(count=count))
    assert split.vat + split.operator_share + split.aggregator + split.partner == split.price
    assert min(split.vat, split.operator_share, split.aggregator, split.partner, split.referral) >= 0
    assert split.referral <= split.partner


@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.sampled_from([COUNT_SCALE, INCOME_SCALE]))
def test_recount_ends_as_if_the_final_step_applied_from_the_start(
    choice: list[int], scale: CommissionScale
) -> None:
    numbers = [NUMBER, "5555"]
    p = plan(scale)
    tally = PeriodTally(RUB)
    messages = [msg(i, numbers[c % 2]) for i, c in enumerate(choice)]
    for m in messages:
        tally = tally.add(rate(m, SERVICE, p, tally.traffic()))
    result = recount(tally, scale, p.referral_bps)
    final_traffic = PeriodTraffic(count=tally.count - 1, income=tally.income)  # "reaches" the final total
    final = [rate(m, SERVICE, p, final_traffic) for m in messages]
    if scale.basis is StepBasis.INCOME:  # income reached = before + this gross: force the final step
        forced = TariffPlan(
            "f", RUB, 0, p.numbers, CommissionScale.flat(result.commission_bps), p.referral_bps
        )
        final = [rate(m, SERVICE, forced, PeriodTraffic()) for m in messages]
    booked = sum(line.partner_booked for line in tally.lines.values())
    assert booked + result.partner_delta == sum(s.partner for s in final)
    booked_ref = sum(line.referral_booked for line in tally.lines.values())
    assert booked_ref + result.referral_delta == sum(s.referral for s in final)


def test_flat_scale_needs_no_recount() -> None:
    flat = plan(CommissionScale(StepBasis.COUNT, (CommissionStep(0, 2_500),)))
    assert recount(rate_period(flat, 7), flat.scale, 1_000).partner_delta == 0
