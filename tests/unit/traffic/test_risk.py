"""The online risk score: each signal with worked examples, the sum, thresholds to actions, reasons.

Domain (domain/risk.py) first, then the control (logic/risk.py) over the in-memory counters and
entities, then the OTP verify path that feeds the conversion signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.entities import Partner, PartnerStatus
from smsbilling.domain.risk import (
    DEFAULT_THRESHOLDS,
    MixCounts,
    RiskPolicy,
    RiskScore,
    RiskSignal,
    RiskThreshold,
    RiskWeights,
    Signal,
    Velocity,
    combine,
    new_partner,
    number_range,
    operator_mix,
    otp_conversion,
    ramp,
    range_label,
    range_velocity,
    subscriber_velocity,
)
from smsbilling.domain.traffic import REASON_CHARS_MAX, Action, ControlName, Direction, MessageFacts, Window
from smsbilling.logic import otp
from smsbilling.logic.risk import OtpVerifications, RiskControl, otp_verified_hit
from smsbilling.logic.traffic_control import CounterHit, DiscardAlerts, TrafficGuard
from smsbilling.settings import RiskLimits
from tests.unit.otp.world import OtpWorld

LIMITS = RiskLimits()
W = RiskWeights()
T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)  # a Sunday noon, on a minute's start


# --- ramp and the signals ----------------------------------------------------------------------------


def test_ramp_is_zero_to_normal_linear_to_high_then_one() -> None:
    assert [ramp(v, 10, 40) for v in (0, 10, 25, 40, 400)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert ramp(5, 5, 5) == 0.0 and ramp(6, 5, 5) == 1.0  # high <= normal: a step


@pytest.mark.parametrize(
    ("direction", "velocity", "points", "explanation"),
    [
        # hour: (25 - 10) / (40 - 10) = 0.5 of 30 points; the minute's 2 is under its normal 3
        (Direction.MO, Velocity(2, 25), 15, "25 messages from 447700900123 this hour"),
        # minute: (10 - 3) / (10 - 3) = 1: the full 30, told by the minute
        (Direction.MT, Velocity(10, 12), 30, "10 messages to 447700900123 this minute"),
        (Direction.MO, Velocity(3, 10), 0, "10 messages from 447700900123 this hour"),  # at normal: none
        (Direction.MO, Velocity(1, 1), 0, "1 message from 447700900123 this hour"),
    ],
)
def test_subscriber_velocity(direction: Direction, velocity: Velocity, points: int, explanation: str) -> None:
    signal = subscriber_velocity("447700900123", direction, velocity, weight=30, limits=LIMITS)
    assert signal == Signal(RiskSignal.SUBSCRIBER_VELOCITY, points, explanation)


def test_number_range_drops_the_last_digits_and_never_gets_shorter_than_four() -> None:
    assert number_range("447700900123", 2) == "4477009001"
    assert range_label("447700900123", 2) == "4477009001xx"
    assert range_label("447700900123", 3) == "447700900xxx"
    assert number_range("12345", 3) == "1234"


def test_range_velocity() -> None:
    # hour: (50 - 20) / (80 - 20) = 0.5 of 60; minute (5) at its normal
    signal = range_velocity("447700900123", Direction.MT, Velocity(5, 50), weight=60, limits=LIMITS)
    assert signal == Signal(RiskSignal.RANGE_VELOCITY, 30, "50 messages to range 4477009001xx this hour")
    # minute: (20 - 5) / (20 - 5) = 1, full weight
    burst = range_velocity("447700900177", Direction.MO, Velocity(20, 20), weight=60, limits=LIMITS)
    assert (burst.points, burst.explanation) == (60, "20 messages from range 4477009001xx this minute")
    coarse = RiskLimits(range_suffix_digits=4)
    assert (
        "range 44770090xxxx"
        in range_velocity("447700900123", Direction.MO, Velocity(1, 1), weight=1, limits=coarse).explanation
    )


@pytest.mark.parametrize(
    ("age", "points", "explanation"),
    [
        (timedelta(hours=3), 25, "new partner (created today)"),  # 1 - 0.125/30 of 25 = 24.9 -> 25
        (timedelta(days=6), 20, "new partner (6 days old)"),  # 1 - 6/30 = 0.8 of 25
        (timedelta(days=30), 0, "new partner (30 days old)"),
        (timedelta(days=400), 0, "new partner (400 days old)"),
        (timedelta(seconds=-5), 25, "new partner (created today)"),  # created a moment after: clock skew
        (None, 0, "no partner"),
    ],
)
def test_new_partner_fades_over_the_new_partner_days(
    age: timedelta | None, points: int, explanation: str
) -> None:
    assert new_partner(age, 25, LIMITS) == Signal(RiskSignal.NEW_PARTNER, points, explanation)


def test_operator_mix_counts_share_points_above_the_partners_own_normal() -> None:
    # today 60 of 100 on op2 (60 %), earlier this month 200 of 1,000 (20 %): 40 points of excess,
    # (40 - 20) / (50 - 20) = 2/3 of 25 = 16.7 -> 17
    counts = MixCounts(today_operator=60, today_all=100, month_operator=260, month_all=1100)
    signal = operator_mix("op2", counts, 25, LIMITS)
    assert signal == Signal(
        RiskSignal.OPERATOR_MIX, 17, "operator op2 has 60% of the partner's messages today (normally 20%)"
    )
    # A partner whose only operator is op1 is 100 % op1 every day: no excess, no points.
    single = MixCounts(today_operator=80, today_all=80, month_operator=2080, month_all=2080)
    assert operator_mix("op1", single, 25, LIMITS).points == 0
    # At or above 50 points of excess: the full weight.
    jump = MixCounts(today_operator=55, today_all=55 + 45, month_operator=55, month_all=1100)
    assert operator_mix("op2", jump, 25, LIMITS).points == 25


def test_operator_mix_needs_volume_today_and_a_baseline() -> None:
    thin_today = MixCounts(today_operator=49, today_all=49, month_operator=49, month_all=1049)
    thin_base = MixCounts(today_operator=100, today_all=100, month_operator=100, month_all=299)
    for counts in (thin_today, thin_base):
        signal = operator_mix("op2", counts, 25, LIMITS)
        assert (signal.points, signal.explanation) == (0, "too little traffic to judge the operator mix")


def test_operator_mix_baseline_is_last_month_when_the_month_has_only_today() -> None:
    first_day = MixCounts(
        today_operator=100,
        today_all=100,
        month_operator=100,
        month_all=100,
        previous_operator=0,
        previous_all=900,
    )
    assert first_day.baseline == (0, 900)
    assert operator_mix("op2", first_day, 25, LIMITS).points == 25  # 100 % today, 0 % last month


@pytest.mark.parametrize(
    ("sent", "verified", "points", "explanation"),
    [
        (19, 0, 0, "only 19 OTP codes sent today"),  # under the volume that means anything
        (100, 80, 0, "OTP conversion 80% (80 of 100 codes verified today)"),
        (100, 50, 0, "OTP conversion 50% (50 of 100 codes verified today)"),
        (100, 30, 22, "OTP conversion 30% (30 of 100 codes verified today)"),  # (50-30)/(50-10) of 45 = 22.5
        (100, 10, 45, "OTP conversion 10% (10 of 100 codes verified today)"),
        (200, 3, 45, "OTP conversion 2% (3 of 200 codes verified today)"),
    ],
)
def test_otp_conversion(sent: int, verified: int, points: int, explanation: str) -> None:
    assert otp_conversion(sent, verified, 45, LIMITS) == Signal(
        RiskSignal.OTP_CONVERSION, points, explanation
    )


# --- the score and the policy -------------------------------------------------------------------------


def test_combine_sums_caps_at_100_and_lists_contributors_strongest_first() -> None:
    velocity = Signal(RiskSignal.RANGE_VELOCITY, 60, "40 messages to range 4477009001xx this hour")
    newbie = Signal(RiskSignal.NEW_PARTNER, 25, "new partner (created today)")
    quiet = Signal(RiskSignal.SUBSCRIBER_VELOCITY, 0, "1 message to 447700900123 this hour")
    scored = combine([newbie, quiet, velocity])
    assert scored == RiskScore(85, (velocity, newbie))
    assert (
        scored.reason() == "risk 85: 40 messages to range 4477009001xx this hour; new partner (created today)"
    )
    otp_low = Signal(RiskSignal.OTP_CONVERSION, 45, "OTP conversion 2% (3 of 200 codes verified today)")
    assert combine([velocity, newbie, otp_low]).score == 100
    assert combine([quiet]) == RiskScore(0, ()) and combine([]).reason() == "risk 0"


def test_reason_names_at_most_three_signals_and_fits_on_the_message() -> None:
    signals = [Signal(RiskSignal.RANGE_VELOCITY, 10 + n, f"signal {n}") for n in range(5)]
    assert combine(signals).reason() == "risk 60: signal 4; signal 3; signal 2"
    long = [Signal(RiskSignal.RANGE_VELOCITY, 50, "y" * 150), Signal(RiskSignal.NEW_PARTNER, 40, "z" * 60)]
    reason = combine(long).reason()
    assert reason == "risk 90: " + "y" * 150  # the second would not fit
    assert len(f"risk: {reason}; {'z' * 60}") > REASON_CHARS_MAX >= len(f"risk: {reason}")


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (0, None),
        (59, None),
        (60, Action.ALERT),
        (79, Action.ALERT),
        (80, Action.HOLD),
        (95, Action.REJECT),
        (100, Action.REJECT),
    ],
)
def test_default_thresholds_turn_scores_into_actions(score: int, action: Action | None) -> None:
    found = RiskPolicy().threshold_for(score)
    assert (None if found is None else found.action) == action


def test_policy_defaults_and_rule_ids() -> None:
    policy = RiskPolicy()
    assert policy.enabled and policy.thresholds == DEFAULT_THRESHOLDS
    assert [t.rule_id for t in policy.thresholds] == ["score60", "score80", "score95"]
    assert {s: policy.weights.of(s) for s in RiskSignal} == {
        RiskSignal.SUBSCRIBER_VELOCITY: 30,
        RiskSignal.RANGE_VELOCITY: 60,
        RiskSignal.NEW_PARTNER: 25,
        RiskSignal.OPERATOR_MIX: 25,
        RiskSignal.OTP_CONVERSION: 45,
    }
    assert RiskPolicy(thresholds=()).threshold_for(100) is None  # watch only


@pytest.mark.parametrize(
    "thresholds",
    [
        [(80, "hold"), (60, "alert")],  # not sorted
        [(60, "alert"), (60, "hold")],  # two alike
        [(60, "reject"), (80, "alert")],  # a higher score asking for less
    ],
)
def test_policy_refuses_thresholds_out_of_order(thresholds: list[tuple[int, str]]) -> None:
    with pytest.raises(ValidationError):
        RiskPolicy(thresholds=tuple(RiskThreshold(score_min=m, action=Action(a)) for m, a in thresholds))


def test_policy_refuses_negative_weights_and_scores_outside_1_to_100() -> None:
    with pytest.raises(ValidationError):
        RiskWeights(new_partner=-1)
    for score_min in (0, 101):
        with pytest.raises(ValidationError):
            RiskThreshold(score_min=score_min, action=Action.ALERT)


# --- the control -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, *, partner_age: timedelta = timedelta(days=365)) -> None:
        self.counters = MemoryTrafficCounters()
        self.entities = MemoryEntityStore()
        self.clock = Clock()
        self.entities.put(
            Partner(
                partner_id="p1",
                name="P1",
                email="p1@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=T0 - partner_age,
            )
        )
        self.control = RiskControl(self.counters, self.entities, LIMITS, cache_s=30, clock=self.clock)
        self.ids = iter(range(1_000_000))

    def facts(self, msisdn: str = "447700900123", *, at: datetime = T0, **extra: Any) -> MessageFacts:
        values: dict[str, Any] = {
            "direction": Direction.MO,
            "message_id": f"m{next(self.ids)}",
            "at": at,
            "msisdn": msisdn,
            "operator_id": "op1",
            "partner_id": "p1",
            "service_id": "s1",
            "short_number": "4444",
        } | extra
        return MessageFacts(**values)

    def policy(self, **fields: Any) -> None:
        self.entities.put(RiskPolicy(**fields))
        self.clock.now += 31  # past the cache


def test_a_pumping_run_over_one_range_for_a_new_partner_is_alerted_then_held() -> None:
    """Twenty MOs from sequential numbers of one range within a minute, to a partner created today."""
    world = World(partner_age=timedelta(hours=1))
    results = [
        world.control.check(world.facts(f"4477009001{n:02d}", at=T0 + timedelta(seconds=n)))
        for n in range(20)
    ]
    scores = [r.risk_score for r in results]
    # new partner 25 (1 h of 30 days: 24.97), plus the range's minute: (n - 5) / 15 of 60 from the 6th
    assert scores[:5] == [25] * 5
    assert scores[5:] == [25 + round(60 * (n - 5) / 15) for n in range(6, 21)]
    actions = [r.findings[0].action if r.findings else None for r in results]
    assert actions[:13] == [None] * 13  # 25 + 32 = 57 at the 13th
    assert actions[13:18] == [Action.ALERT] * 5  # 61 .. 77
    assert actions[18:] == [Action.HOLD] * 2  # 81, 85
    held = results[-1].findings[0]
    assert (held.control, held.rule_id, held.label()) == (ControlName.RISK, "score80", "risk:score80:hold")
    assert (
        held.reason == "risk 85: 20 messages from range 4477009001xx this minute; new partner (created today)"
    )


def test_the_same_partner_established_and_quiet_scores_nothing() -> None:
    world = World()
    result = world.control.check(world.facts())
    assert (result.findings, result.risk_score) == ((), 0)


def test_a_message_checked_again_is_counted_once() -> None:
    world = World(partner_age=timedelta(hours=1))
    burst = [world.facts(f"4477009001{n:02d}") for n in range(10)]
    first = [world.control.check(f).risk_score for f in burst]
    again = world.control.check(burst[3]).risk_score
    assert again == first[-1] == 25 + 20  # 10 in the range's minute: (10 - 5) / 15 of 60
    totals = world.counters.totals(
        [CounterHit("RISK#rng#mo#p1#4477009001", Window.MINUTE)], at_s=int(T0.timestamp())
    )
    assert totals == [10]


def test_counters_are_per_partner_and_per_direction() -> None:
    world = World()
    for n in range(12):
        world.control.check(world.facts(at=T0 + timedelta(seconds=n)))  # one subscriber, 12 MOs to p1
    mt = world.control.check(world.facts(direction=Direction.MT, purpose="api"))
    other = world.control.check(world.facts(partner_id="p2"))  # unknown partner: no age either
    last = world.control.check(world.facts(at=T0 + timedelta(seconds=13)))
    assert (mt.risk_score, other.risk_score) == (0, 0)
    # 13 MOs: subscriber minute (13 >= 10): 30, the range's minute (13 - 5) / 15 of 60 = 32
    assert last.risk_score == 62 and last.findings[0].action is Action.ALERT
    assert last.findings[0].reason == (
        "risk 62: 13 messages from range 4477009001xx this minute; 13 messages from 447700900123 this minute"
    )


def test_policy_is_read_from_the_entities_and_cached() -> None:
    world = World(partner_age=timedelta(hours=1))
    numbers = (f"4477{n:06d}00" for n in range(100))  # one per range: no velocities
    assert world.control.check(world.facts(next(numbers))).risk_score == 25  # none stored: the defaults
    world.entities.put(
        RiskPolicy(
            weights=RiskWeights(new_partner=50),
            thresholds=(RiskThreshold(score_min=40, action=Action.REJECT),),
        )
    )
    assert world.control.check(world.facts(next(numbers))).risk_score == 25  # cached
    world.clock.now += 29
    assert world.control.check(world.facts(next(numbers))).risk_score == 25
    world.clock.now += 2
    result = world.control.check(world.facts(next(numbers)))
    assert result.risk_score == 50
    assert [f.label() for f in result.findings] == ["risk:score40:reject"]
    assert result.findings[0].reason == "risk 50: new partner (created today)"


def test_a_disabled_policy_scores_nothing_and_counts_nothing() -> None:
    world = World(partner_age=timedelta(hours=1))
    world.policy(enabled=False)
    assert world.control.check(world.facts()) == world.control.check(world.facts())
    assert world.control.check(world.facts()).risk_score is None
    assert world.counters.totals_by_window == {}


def test_no_thresholds_stores_the_score_and_never_acts() -> None:
    world = World(partner_age=timedelta(hours=1))
    world.policy(thresholds=(), weights=RiskWeights(new_partner=100))
    result = world.control.check(world.facts())
    assert (result.risk_score, result.findings) == (100, ())


def test_operator_mix_in_the_control_against_earlier_this_month() -> None:
    world = World()
    yesterday = T0 - timedelta(days=1)
    for n in range(300):  # the normal: op1 only
        world.control.check(world.facts(f"44770{n:05d}00", at=yesterday + timedelta(seconds=n * 60)))
    today = [world.facts(f"44771{n:05d}00", at=T0 + timedelta(minutes=n)) for n in range(30)]
    today += [
        world.facts(f"44772{n:05d}00", at=T0 + timedelta(minutes=30 + n), operator_id="op2")
        for n in range(40)
    ]
    results = [world.control.check(f) for f in today]
    # op2's 40th: 40 of 70 today (57 %), 0 % before: full 25 points; its 20th: 20 of 50, 40 %: (40-20)/30 of 25
    assert results[-1].risk_score == 25 and results[-1].findings == ()
    assert results[49].risk_score == round(25 * (40 - 20) / 30)
    assert results[48].risk_score == 0  # 49 messages today: too few to judge
    assert (
        operator_mix_explained(world, today[-1])
        == "operator op2 has 57% of the partner's messages today (normally 0%)"
    )


def operator_mix_explained(world: World, facts: MessageFacts) -> str:
    (signal,) = [s for s in world.control.signals(facts, RiskPolicy()) if s.signal is RiskSignal.OPERATOR_MIX]
    return signal.explanation


def test_operator_mix_on_the_first_of_the_month_compares_with_last_month() -> None:
    world = World()
    first = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n in range(300):
        world.control.check(world.facts(f"44770{n:05d}00", at=first - timedelta(days=1, seconds=n)))
    results = [
        world.control.check(
            world.facts(f"44772{n:05d}00", at=first + timedelta(minutes=n), operator_id="op2")
        )
        for n in range(50)
    ]
    assert results[-1].risk_score == 25  # 100 % op2 today, 0 % last month


def test_otp_conversion_in_the_control_reads_the_verified_codes() -> None:
    world = World()
    verifications = OtpVerifications(world.counters, LIMITS)
    sends = [
        world.facts(f"4477{n:06d}00", at=T0 + timedelta(minutes=n), direction=Direction.MT, purpose="otp")
        for n in range(40)
    ]
    results = []
    for n, facts in enumerate(sends):
        results.append(world.control.check(facts))
        if n % 10 == 0:  # one code in ten typed in
            verifications.count_verified("p1", f"otp{n}", T0 + timedelta(minutes=n, seconds=30))
    # 19 sent: not judged; the 20th: 2 of 20 verified (10 %): the full 45
    assert [r.risk_score for r in results[:19]] == [0] * 19
    assert results[19].risk_score == 45
    # the 40th: 4 of 40 (10 %): 45, so with the default policy it is not acted on
    assert results[-1].risk_score == 45 and results[-1].findings == ()
    # a non-OTP MT of the same partner is not judged by OTP conversion
    assert (
        world.control.check(world.facts("447799999900", direction=Direction.MT, purpose="api")).risk_score
        == 0
    )


def test_a_code_verified_twice_counts_once() -> None:
    world = World()
    verifications = OtpVerifications(world.counters, LIMITS)
    for _ in range(2):
        verifications.count_verified("p1", "otp1", T0)
    assert world.counters.totals([otp_verified_hit("p1", LIMITS)], at_s=int(T0.timestamp())) == [1]


def test_the_guard_stores_the_score_and_shows_the_reason() -> None:
    world = World(partner_age=timedelta(hours=1))
    world.policy(weights=RiskWeights(new_partner=96))
    verdict = TrafficGuard(controls=[world.control], alerts=DiscardAlerts()).check(world.facts())
    assert verdict.risk_score == 96 and verdict.action is Action.REJECT
    assert verdict.reason == "risk: risk 96: new partner (created today)"
    assert verdict.labels == ("risk:score95:reject",)


def test_a_message_without_msisdn_or_partner_still_gets_a_score() -> None:
    world = World()
    assert world.control.check(world.facts("", partner_id=None, operator_id=None)).risk_score == 0
    assert world.counters.totals_by_window == {}


# --- the OTP verify path counts verified codes ---------------------------------------------------------


class FailingCounters:
    def count(self, message_id: str, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        raise RuntimeError("counters table unavailable")

    def totals(self, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        raise RuntimeError("counters table unavailable")


def _sent(world: OtpWorld) -> str:
    sent = otp.send_code(
        otp.OtpRequest(partner_id="p1", service_id="otp1", msisdn="447700900123"),
        now=world.clock(),
        entities=world.entities,
        store=world.store,
        limiter=world.limiter,
        events=world.events,
        limits=world.limits,
    )
    return sent.otp_id


def test_verify_counts_a_good_code_once_and_nothing_else() -> None:
    world, counters = OtpWorld(), MemoryTrafficCounters()
    verified = OtpVerifications(counters, LIMITS)
    at_s = int(world.clock().timestamp())

    def count() -> int:
        return counters.totals([otp_verified_hit("p1", LIMITS)], at_s=at_s)[0]

    wrong, right = _sent(world), _sent(world)
    answer = otp.verify_code("p1", wrong, "not-it", now=world.clock(), store=world.store, verified=verified)
    assert not answer.valid and count() == 0
    code = world.code_of(right)
    assert otp.verify_code("p1", right, code, now=world.clock(), store=world.store, verified=verified).valid
    assert count() == 1
    again = otp.verify_code("p1", right, code, now=world.clock(), store=world.store, verified=verified)
    assert (again.valid, again.reason, count()) == (False, otp.VerifyReason.USED, 1)


def test_verify_answers_valid_even_when_the_count_fails(caplog: pytest.LogCaptureFixture) -> None:
    world = OtpWorld()
    otp_id = _sent(world)
    verified = OtpVerifications(FailingCounters(), LIMITS)
    answer = otp.verify_code(
        "p1", otp_id, world.code_of(otp_id), now=world.clock(), store=world.store, verified=verified
    )
    assert answer.valid
    assert "not counted" in caplog.text
