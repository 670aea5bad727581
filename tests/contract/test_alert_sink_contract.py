"""One contract for the alert sink: the in-memory fake, DynamoDB Local, the local cloud.

A key's first raise creates one open record and tells staff once; repeats only count and move
``last_at``; an acknowledgement survives repeats; concurrent raises of one key end in one record
with the exact count and exactly one notification.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_alerts import DynamoAlertSink
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_subscriptions import create_entities_table
from smsbilling.adapters.memory_alerts import MemoryAlertSink
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.alerts import (
    ACKNOWLEDGEMENT_FIELDS,
    Alert,
    AlertStatus,
    acknowledged,
    alert_id_of,
    listing_pk,
)
from smsbilling.domain.traffic import Action, AlertEvent, ControlName, Direction, Finding, MessageFacts

from .stores import KINDS, dynamodb_client

T0 = datetime(2026, 11, 22, 12, 5, 0, tzinfo=UTC)
FINDING = Finding(ControlName.FRAUD_LIMIT, "op1-hourly", Action.HOLD, "over 100 messages an hour")


@dataclass
class Recorder:
    opened: list[Alert] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alert_opened(self, alert: Alert) -> None:
        with self.lock:
            self.opened.append(alert)


@dataclass
class World:
    sink: MemoryAlertSink | DynamoAlertSink
    store: MemoryEntityStore | DynamoEntityStore
    notices: Recorder

    def alert(self, event: AlertEvent) -> Alert:
        found = self.store.get(Alert, alert_id_of(event.key))
        assert found is not None
        return found

    def listed(self, status: AlertStatus) -> list[Alert]:
        items, _ = self.store.page(Alert, listing_pk(status), limit=100)
        return items


@pytest.fixture(params=KINDS)
def world(request: pytest.FixtureRequest) -> World:
    notices = Recorder()
    if request.param == "memory":
        memory_store = MemoryEntityStore()
        return World(MemoryAlertSink(memory_store, [notices]), memory_store, notices)
    client: Any = dynamodb_client(request, request.param)
    table = f"entities-{uuid.uuid4().hex[:12]}"
    create_entities_table(client, table)
    return World(DynamoAlertSink(client, table, [notices]), DynamoEntityStore(client, table), notices)


def event(message_id: str, at: datetime = T0, finding: Finding = FINDING) -> AlertEvent:
    facts = MessageFacts(
        direction=Direction.MO,
        message_id=message_id,
        at=at,
        msisdn="447700900123",
        text="WIN a prize now",
        operator_id="op1",
        partner_id="p1",
        short_number="4444",
        price=150,
        currency="GBP",
    )
    return AlertEvent.of(finding, facts)


def test_a_first_raise_opens_an_alert_and_tells_staff_once(world: World) -> None:
    world.sink.raise_alert(event("m1"))
    alert = world.alert(event("m1"))
    assert alert.status is AlertStatus.OPEN
    assert (alert.count, alert.first_at, alert.last_at) == (1, T0, T0)
    assert (alert.control, alert.rule_id, alert.action) == (
        ControlName.FRAUD_LIMIT,
        "op1-hourly",
        Action.HOLD,
    )
    assert (alert.reason, alert.sample_message_id) == ("over 100 messages an hour", "m1")
    assert (alert.partner_id, alert.operator_id, alert.direction) == ("p1", "op1", Direction.MO)
    assert alert.acknowledged_by is None and alert.note == ""
    assert [a.alert_id for a in world.notices.opened] == [alert.alert_id]
    assert world.notices.opened[0].count == 1
    assert [a.alert_id for a in world.listed(AlertStatus.OPEN)] == [alert.alert_id]


def test_repeats_are_counted_on_one_record_without_another_notice(world: World) -> None:
    for n in range(5):
        world.sink.raise_alert(event(f"m{n}", T0 + timedelta(seconds=10 * n)))
    alert = world.alert(event("m0"))
    assert alert.count == 5
    assert alert.first_at == T0 and alert.last_at == T0 + timedelta(seconds=40)
    assert alert.sample_message_id == "m0"  # the first raise's
    assert len(world.notices.opened) == 1
    assert len(world.listed(AlertStatus.OPEN)) == 1


def test_another_rule_or_the_next_hour_is_another_alert(world: World) -> None:
    other_rule = Finding(ControlName.SPAM, "urls", Action.REJECT, "a listed URL")
    world.sink.raise_alert(event("m1"))
    world.sink.raise_alert(event("m2", finding=other_rule))
    world.sink.raise_alert(event("m3", T0 + timedelta(hours=1)))  # 13:05: the next hour's key
    world.sink.raise_alert(event("m4"))
    assert world.alert(event("m1")).count == 2
    assert world.alert(event("m2", finding=other_rule)).count == 1
    assert world.alert(event("m3", T0 + timedelta(hours=1))).count == 1
    assert len(world.notices.opened) == 3
    listed = world.listed(AlertStatus.OPEN)
    assert len(listed) == 3
    assert [a.first_at for a in listed] == sorted(a.first_at for a in listed)  # oldest first


def test_an_acknowledgement_survives_later_repeats(world: World) -> None:
    world.sink.raise_alert(event("m1"))
    world.sink.raise_alert(event("m2"))
    current = world.alert(event("m1"))
    ack = acknowledged(current, by="ops-1", at=T0 + timedelta(minutes=1), note="looking")
    assert world.store.update(ack, ACKNOWLEDGEMENT_FIELDS) is not None
    for n in range(3, 6):
        world.sink.raise_alert(event(f"m{n}", T0 + timedelta(minutes=2)))
    alert = world.alert(event("m1"))
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert (alert.acknowledged_by, alert.acknowledged_at, alert.note) == (
        "ops-1",
        T0 + timedelta(minutes=1),
        "looking",
    )
    assert (alert.count, alert.count_at_acknowledgement) == (5, 2)
    assert alert.last_at == T0 + timedelta(minutes=2)
    assert len(world.notices.opened) == 1  # repeats after the acknowledgement are silent
    assert world.listed(AlertStatus.OPEN) == []
    assert [a.alert_id for a in world.listed(AlertStatus.ACKNOWLEDGED)] == [alert.alert_id]


def test_concurrent_raises_of_one_key_end_in_one_record_with_the_exact_count(world: World) -> None:
    raises = 24
    start = threading.Barrier(raises)
    errors: list[BaseException] = []

    def raise_one(n: int) -> None:
        try:
            start.wait()
            world.sink.raise_alert(event(f"c{n}", T0 + timedelta(seconds=n)))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=raise_one, args=(n,)) for n in range(raises)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alert = world.alert(event("c0"))
    assert alert.count == raises
    assert len(world.notices.opened) == 1 and world.notices.opened[0].count == 1
    assert alert.sample_message_id == world.notices.opened[0].sample_message_id
    assert len(world.listed(AlertStatus.OPEN)) == 1
