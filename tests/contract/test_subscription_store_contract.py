"""One contract for every SubscriptionStore: the in-memory fake, DynamoDB Local and the local cloud."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from smsbilling.adapters.dynamodb_subscriptions import (
    DynamoSubscriptionStore,
    create_entities_table,
    sortable_time,
)
from smsbilling.adapters.memory_subscriptions import MemorySubscriptionStore
from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.entities import Subscription, SubscriptionState
from smsbilling.logic.subscriptions import SubscriptionStore

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _dynamo(client, *, shards: int = 3, page_size: int = 2) -> SubscriptionStore:  # type: ignore[no-untyped-def]
    table = f"entities-{uuid.uuid4().hex[:12]}"
    create_entities_table(client, table)
    return DynamoSubscriptionStore(client, table, shards=shards, page_size=page_size)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], SubscriptionStore]] = {
    "memory": lambda request: MemorySubscriptionStore(),
    "dynamodb_local": lambda request: _dynamo(request.getfixturevalue("dynamodb_local_client")),
    "localcloud": lambda request: _dynamo(request.getfixturevalue("stack").client("dynamodb")),
}


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local),
        pytest.param("localcloud", marks=pytest.mark.localcloud),
    ]
)
def store(request: pytest.FixtureRequest) -> SubscriptionStore:
    return FACTORIES[request.param](request)


def sub(
    msisdn: str = "447700900001", *, service_id: str = "svc1", due: datetime = T0, **changes: object
) -> Subscription:
    values: dict[str, object] = {
        "service_id": service_id,
        "msisdn": msisdn,
        "partner_id": "p1",
        "operator_id": "op1",
        "short_number": "4444",
        "link_id": "link1",
        "started_at": T0 - timedelta(days=1),
        "next_charge_at": due,
    }
    return Subscription.model_validate(values | changes)


def charge(n: int, at: datetime = T0) -> MtRequested:
    return MtRequested(
        message_id=f"charge-{n}",
        purpose=MtPurpose.SUBSCRIPTION,
        partner_id="p1",
        service_id="svc1",
        operator_id="op1",
        source="4444",
        destination="447700900001",
        text="content",
        billed=True,
        requested_at=at + timedelta(seconds=n),
    )


def keys(found: object) -> list[str]:
    return [s.msisdn for s in found]  # type: ignore[attr-defined]


def test_activate_get_and_conditional_create(store: SubscriptionStore) -> None:
    first = sub()
    assert store.get("svc1", first.msisdn) is None
    assert store.activate(first, previous=None)
    assert store.get("svc1", first.msisdn) == first
    assert not store.activate(sub(charges_count=5), previous=None)  # exists already
    assert store.get("svc1", first.msisdn) == first


def test_writes_lose_against_a_changed_record(store: SubscriptionStore) -> None:
    read = sub()
    assert store.activate(read, previous=None)
    charged = read.model_copy(update={"charges_count": 1, "next_charge_at": T0 + timedelta(days=1)})
    assert store.claim_charge(charge(0), updated=charged, previous=read)
    cancelled = read.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": T0})
    assert not store.cancel(cancelled, previous=read)  # read before the charge: stale
    assert not store.claim_charge(charge(1), updated=charged, previous=read)  # the same claim twice
    assert not store.reschedule(read.model_copy(update={"next_charge_at": T0}), previous=read)
    assert store.get("svc1", read.msisdn) == charged
    assert [c.message_id for c in store.unsent_charges(10)] == ["charge-0"]
    now_cancelled = charged.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": T0})
    assert store.cancel(now_cancelled, previous=charged)
    assert not store.claim_charge(charge(2), updated=charged, previous=charged)  # cancelled since read
    assert store.get("svc1", read.msisdn) == now_cancelled


def test_due_sees_active_subscriptions_up_to_now_earliest_first_across_shards(
    store: SubscriptionStore,
) -> None:
    for n in range(9):
        assert store.activate(sub(f"4477009000{n:02d}", due=T0 + timedelta(minutes=9 - n)), previous=None)
    assert store.activate(sub("447700900099", due=T0 + timedelta(days=1)), previous=None)
    found = list(store.due(T0 + timedelta(minutes=9)))
    assert keys(found) == [f"4477009000{n:02d}" for n in reversed(range(9))]
    assert keys(store.due(T0 + timedelta(minutes=4))) == [f"4477009000{n:02d}" for n in (8, 7, 6, 5)]
    assert keys(store.due(T0)) == []
    assert found[0] == sub("447700900008", due=T0 + timedelta(minutes=1))


def test_due_compares_instants_not_offsets(store: SubscriptionStore) -> None:
    plus3 = timezone(timedelta(hours=3))
    assert store.activate(sub(due=datetime(2026, 11, 22, 14, 0, tzinfo=plus3)), previous=None)  # 11:00 UTC
    assert keys(store.due(T0 - timedelta(minutes=30))) == ["447700900001"]
    assert keys(store.due(T0 - timedelta(hours=2))) == []
    assert sortable_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"


def test_cancel_takes_it_out_of_the_due_index_and_reactivation_puts_it_back(store: SubscriptionStore) -> None:
    read = sub()
    assert store.activate(read, previous=None)
    cancelled = read.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": T0})
    assert store.cancel(cancelled, previous=read)
    assert keys(store.due(T0 + timedelta(days=30))) == []
    back = cancelled.model_copy(
        update={
            "state": SubscriptionState.ACTIVE,
            "cancelled_at": None,
            "started_at": T0 + timedelta(hours=1),
        }
    )
    assert store.activate(back, previous=cancelled)
    assert keys(store.due(T0 + timedelta(days=30))) == ["447700900001"]


def test_reschedule_moves_the_due_time(store: SubscriptionStore) -> None:
    read = sub()
    assert store.activate(read, previous=None)
    later = read.model_copy(update={"next_charge_at": T0 + timedelta(hours=6)})
    assert store.reschedule(later, previous=read)
    assert keys(store.due(T0 + timedelta(hours=5))) == []
    assert keys(store.due(T0 + timedelta(hours=6))) == ["447700900001"]


def test_subscriptions_of_a_subscriber_on_a_short_number(store: SubscriptionStore) -> None:
    assert store.activate(sub(service_id="svc1"), previous=None)
    assert store.activate(sub(service_id="svc2"), previous=None)
    other_number = sub(service_id="svc3", short_number="5555")
    assert store.activate(other_number, previous=None)
    assert store.activate(sub("447700900777", service_id="svc1"), previous=None)
    cancelled = sub(service_id="svc2").model_copy(
        update={"state": SubscriptionState.CANCELLED, "cancelled_at": T0}
    )
    assert store.cancel(cancelled, previous=sub(service_id="svc2"))
    found = store.on_short_number("447700900001", "4444")
    assert sorted((s.service_id, s.state) for s in found) == [
        ("svc1", SubscriptionState.ACTIVE),
        ("svc2", SubscriptionState.CANCELLED),
    ]
    assert [s.service_id for s in store.on_short_number("447700900001", "5555")] == ["svc3"]
    assert store.on_short_number("447700900002", "4444") == []


def test_unsent_charges_oldest_first_until_marked_sent(store: SubscriptionStore) -> None:
    read = sub()
    assert store.activate(read, previous=None)
    for n in range(3):
        updated = read.model_copy(update={"charges_count": read.charges_count + 1})
        assert store.claim_charge(charge(n), updated=updated, previous=read)
        read = updated
    assert [c.message_id for c in store.unsent_charges(10)] == ["charge-0", "charge-1", "charge-2"]
    assert store.unsent_charges(10)[1] == charge(1)
    assert len(store.unsent_charges(2)) == 2
    store.charge_sent("charge-1")
    store.charge_sent("charge-1")  # idempotent
    store.charge_sent("never-claimed")
    assert [c.message_id for c in store.unsent_charges(10)] == ["charge-0", "charge-2"]
