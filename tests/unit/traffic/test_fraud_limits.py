"""The fraud-limit control over memory stores: which limits cover a message, one count, the findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.fraud_limits import FraudLimit, LimitScope, counted_by, limit_problem
from smsbilling.domain.traffic import Action, ControlName, Direction, Finding, MessageFacts, Window
from smsbilling.logic.fraud_limits import FraudLimitControl
from smsbilling.logic.traffic_control import CounterHit, TrafficGuard
from smsbilling.settings import TrafficLimits

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
NO_FLOOD = TrafficLimits(mo_per_subscriber_per_minute_max=0, mo_per_subscriber_per_hour_max=0)


def limit(limit_id: str = "lim1", **fields: Any) -> FraudLimit:
    values: dict[str, Any] = {
        "scope": "subscriber",
        "window": "minute",
        "threshold": 2,
        "action": "reject",
        "created_at": T0,
    }
    return FraudLimit.model_validate(values | {"limit_id": limit_id} | fields)


def mo(n: int = 0, *, msisdn: str = "447700900123", at: datetime = T0, **fields: Any) -> MessageFacts:
    values: dict[str, Any] = {
        "direction": Direction.MO,
        "message_id": f"mo-{n}-{msisdn}",
        "at": at,
        "msisdn": msisdn,
        "operator_id": "op1",
        "partner_id": "p1",
        "service_id": "svc1",
        "short_number": "6001",
        "price": 150,
        "currency": "GBP",
    }
    return MessageFacts.model_validate(values | fields)


class CountingCounters(MemoryTrafficCounters):
    """Memory counters that record each count call (one per message, the control promises)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[CounterHit]]] = []

    def count(self, message_id: str, hits: Any, *, at_s: int) -> list[int]:
        self.calls.append((message_id, list(hits)))
        return super().count(message_id, hits, at_s=at_s)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, settings: TrafficLimits = NO_FLOOD, *limits: FraudLimit) -> None:
        self.entities = MemoryEntityStore()
        self.counters = CountingCounters()
        self.clock = Clock()
        for one in limits:
            self.entities.put(one)
        self.control = FraudLimitControl(self.entities, self.counters, lambda: settings, clock=self.clock)

    def findings(self, facts: MessageFacts) -> list[Finding]:
        return list(self.control.check(facts).findings)


def test_the_message_over_the_threshold_and_every_one_after_it_is_found() -> None:
    world = World(NO_FLOOD, limit())
    assert world.findings(mo(1)) == [] and world.findings(mo(2)) == []
    [third] = world.findings(mo(3))
    assert third == Finding(
        ControlName.FRAUD_LIMIT,
        "lim1",
        Action.REJECT,
        "over 2 messages per minute for subscriber 447700900123",
    )
    assert counted_by(limit(direction="mo"), mo()).reason.startswith("over 2 MOs per minute")  # type: ignore[union-attr]
    assert [f.rule_id for f in world.findings(mo(4))] == ["lim1"]
    # Each subscriber has a counter of its own (no scope_value: every value separately).
    assert world.findings(mo(1, msisdn="447700900124")) == []
    # A new minute starts from nothing.
    assert world.findings(mo(5, at=T0 + timedelta(seconds=60))) == []


def test_a_redelivered_message_adds_nothing_but_sees_the_window() -> None:
    world = World(NO_FLOOD, limit())
    assert world.findings(mo(1)) == [] and world.findings(mo(1)) == [] and world.findings(mo(2)) == []
    assert world.findings(mo(1)) == []  # the total is 2: not over
    assert len(world.findings(mo(3))) == 1


def test_every_applying_limit_is_counted_in_one_call() -> None:
    world = World(
        TrafficLimits(mo_per_subscriber_per_minute_max=3, mo_per_subscriber_per_hour_max=10),
        limit("per-sub", threshold=5),
        limit("per-op", scope="operator", scope_value="op1", window="hour", threshold=100, action="alert"),
        limit("platform", scope="platform", window="day", threshold=1000, action="hold"),
        limit("other-op", scope="operator", scope_value="op2"),
        limit("mts", direction="mt"),
        limit("off", enabled=False),
    )
    world.findings(mo(1))
    [(message_id, hits)] = world.counters.calls
    assert message_id == "mo-1-447700900123"
    assert [(h.key, h.window, h.shards) for h in hits] == [
        ("FLOOD#mo#447700900123", Window.MINUTE, 1),
        ("FLOOD#mo#447700900123", Window.HOUR, 1),
        ("FL#per-op#count#operator=op1", Window.HOUR, 64),  # hot scopes spread over counter_hot_shards
        ("FL#per-sub#count#subscriber=447700900123", Window.MINUTE, 1),
        ("FL#platform#count#platform=*", Window.DAY, 64),
    ]


def test_flood_and_fraud_findings_come_from_the_same_count() -> None:
    world = World(
        TrafficLimits(mo_per_subscriber_per_minute_max=2, mo_per_subscriber_per_hour_max=0),
        limit("per-range", scope="number_range", threshold=3, action="hold"),
    )
    assert world.findings(mo(1)) == [] and world.findings(mo(2)) == []
    [flood] = world.findings(mo(3))
    assert flood == Finding(
        ControlName.FLOOD,
        "mo_per_subscriber_per_minute",
        Action.REJECT,
        "over 2 MOs per minute from subscriber 447700900123",
    )
    # Another subscriber of the same block of 100 numbers: its own flood counter, the range's shared one.
    [held] = world.findings(mo(4, msisdn="447700900199"))
    assert held == Finding(
        ControlName.FRAUD_LIMIT,
        "per-range",
        Action.HOLD,
        "over 3 messages per minute for number range 4477009001xx",
    )
    assert world.findings(mo(5, msisdn="447700900200")) == []  # the next block
    assert len(world.counters.calls) == 5
    # The flood limit is for MOs only (the range limit, for any direction, counts MTs too).
    world.findings(mo(6, direction=Direction.MT, msisdn="447700900300"))
    assert [h.key for h in world.counters.calls[-1][1]] == ["FL#per-range#count#number_range=4477009003"]


def test_a_number_range_with_a_value_covers_numbers_starting_with_it() -> None:
    world = World(NO_FLOOD, limit("r", scope="number_range", scope_value="4477009001", threshold=1))
    assert world.findings(mo(1, msisdn="447700900100")) == []
    assert [f.reason for f in world.findings(mo(2, msisdn="447700900199"))] == [
        "over 1 messages per minute for number range 4477009001"
    ]
    assert world.findings(mo(3, msisdn="447700900200")) == []


def test_amount_limits_sum_prices_in_their_currency_only() -> None:
    world = World(
        NO_FLOOD,
        limit(
            "money", scope="short_number", scope_value="6001", metric="amount", currency="GBP", threshold=400
        ),
    )
    assert world.findings(mo(1)) == [] and world.findings(mo(2)) == []  # 300
    assert world.findings(mo(3, currency="EUR")) == []  # not counted
    assert world.findings(mo(4, price=0)) == []  # nothing to add: not judged
    assert world.findings(mo(5, price=100)) == []  # 400: not over
    [over] = world.findings(mo(6, price=1))
    assert over.reason == "over 4.00 GBP per minute for short number 6001"
    assert world.counters.totals(
        [CounterHit("FL#money#amount#short_number=6001", Window.MINUTE, shards=64)], at_s=mo().at_s
    ) == [401]


def test_a_count_limit_with_a_currency_counts_only_that_currency() -> None:
    world = World(NO_FLOOD, limit(currency="EUR", threshold=1))
    assert world.findings(mo(1)) == [] and world.findings(mo(2)) == []
    assert world.findings(mo(3, currency="EUR")) == []
    assert len(world.findings(mo(4, currency="EUR"))) == 1


@pytest.mark.parametrize(
    ("scope", "value", "facts", "applies"),
    [
        ("partner", "p1", {}, True),
        ("partner", "p2", {}, False),
        ("partner", None, {"partner_id": None}, False),  # an unrouted message has no partner
        ("service", "svc1", {}, True),
        ("operator", None, {}, True),
        ("short_number", "6002", {}, False),
        ("subscriber", "447700900123", {}, True),
        ("subscriber", "447700900124", {}, False),
        ("platform", None, {"partner_id": None}, True),
    ],
)
def test_which_scope_covers_a_message(
    scope: str, value: str | None, facts: dict[str, Any], applies: bool
) -> None:
    counted = counted_by(limit(scope=scope, scope_value=value), mo(**facts))
    assert (counted is not None) is applies


def test_directions() -> None:
    mt = mo(direction=Direction.MT)
    assert counted_by(limit(direction="mo"), mt) is None
    assert counted_by(limit(direction="mt"), mt) is not None
    assert counted_by(limit(direction="any"), mt) is not None
    assert counted_by(limit(direction="any"), mo()) is not None


def test_rules_are_cached_for_rules_cache_s() -> None:
    settings = NO_FLOOD.model_copy(update={"rules_cache_s": 30.0})
    world = World(settings)
    assert world.findings(mo(1)) == []
    world.entities.put(limit(threshold=1))
    assert world.findings(mo(2)) == [] and world.counters.calls == []  # not read yet: nothing counted
    world.clock.now += 30
    assert world.findings(mo(3)) == []  # counted from now on: 1
    assert len(world.findings(mo(4))) == 1
    world.entities.put(limit(threshold=1, enabled=False))
    assert len(world.findings(mo(5))) == 1
    world.clock.now += 29.9
    assert len(world.findings(mo(6))) == 1
    world.clock.now += 0.1
    assert world.findings(mo(7)) == []
    assert len(world.counters.calls) == 2  # once over, the counter is judged without counting


def test_a_counter_seen_over_is_judged_without_counting_for_the_rest_of_its_window() -> None:
    world = World(
        TrafficLimits(mo_per_subscriber_per_minute_max=0, mo_per_subscriber_per_hour_max=50),
        limit("per-sub", threshold=2),
    )
    assert world.findings(mo(1)) == [] and world.findings(mo(2)) == []
    assert [f.rule_id for f in world.findings(mo(3))] == ["per-sub"]
    assert [f.rule_id for f in world.findings(mo(4))] == ["per-sub"]
    # The over counter is left out of the count; the flood counter (not over) is still counted.
    assert [h.key for h in world.counters.calls[-1][1]] == ["FLOOD#mo#447700900123"]
    assert world.counters.totals(
        [CounterHit("FL#per-sub#count#subscriber=447700900123", Window.MINUTE)], at_s=mo().at_s
    ) == [3]
    # A new window counts again; so does a changed threshold.
    assert world.findings(mo(5, at=T0 + timedelta(minutes=1))) == []
    assert len(world.counters.calls[-1][1]) == 2
    world.entities.put(limit("per-sub", threshold=4))
    world.clock.now += 60
    assert world.findings(mo(6)) == []  # 4: not over 4
    assert [f.rule_id for f in world.findings(mo(7))] == ["per-sub"]


def test_no_applying_limit_no_count() -> None:
    world = World(NO_FLOOD, limit(scope="partner", scope_value="p9"))
    assert world.control.check(mo(1)).findings == ()
    assert world.counters.calls == []


def test_a_reject_stops_the_guard_and_every_finding_is_an_alert() -> None:
    raised: list[Any] = []

    class Sink:
        def raise_alert(self, event: Any) -> None:
            raised.append(event)

    world = World(
        NO_FLOOD,
        limit("a", threshold=1, action="alert"),
        limit("b", scope="number_range", threshold=1, action="reject"),
    )
    guard = TrafficGuard(controls=[world.control], alerts=Sink())
    assert guard.check(mo(1)).action is None
    verdict = guard.check(mo(2))
    assert verdict.action is Action.REJECT
    assert verdict.reason == "fraud_limit: over 1 messages per minute for number range 4477009001xx"
    assert sorted(verdict.labels) == ["fraud_limit:a:alert", "fraud_limit:b:reject"]
    assert len(raised) == 2


@pytest.mark.parametrize(
    ("fields", "problem_field"),
    [
        ({"metric": "amount"}, "currency"),
        ({"scope": "platform", "scope_value": "x"}, "scope_value"),
        ({"scope": "subscriber", "scope_value": "+447700900123"}, "scope_value"),
        ({"scope": "number_range", "scope_value": "0044"}, "scope_value"),
        ({"scope": "short_number", "scope_value": "12"}, "scope_value"),
        ({"scope": "partner", "scope_value": "has space"}, "scope_value"),
    ],
)
def test_limit_problems(fields: dict[str, Any], problem_field: str) -> None:
    found = limit_problem(limit(**fields))
    assert found is not None and found[0] == problem_field


def test_good_limits_have_no_problem() -> None:
    for fields in (
        {},
        {"metric": "amount", "currency": "GBP"},
        {"scope": "platform"},
        {"scope": "number_range", "scope_value": "4477009001"},
        {"scope": "short_number", "scope_value": "6001"},
        {"scope": LimitScope.PARTNER.value, "scope_value": "p1"},
    ):
        assert limit_problem(limit(**fields)) is None, fields
