"""One contract for every OutboxStore: the in-memory fake, DynamoDB Local, and the local cloud."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.ports import OutboxStore

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEASE_MS = 60_000


def _dynamo(client) -> OutboxStore:  # type: ignore[no-untyped-def]
    table = f"outbox-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)  # the same pk/sk string key schema as the messages table
    return DynamoOutboxStore(client, table)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], OutboxStore]] = {
    "memory": lambda request: MemoryOutboxStore(),
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
def store(request: pytest.FixtureRequest) -> OutboxStore:
    return FACTORIES[request.param](request)


def mo(n: int, system_id: str = "p1") -> OutboxItem:
    return OutboxItem(
        item_id=f"mo-{n}",
        message_id=f"m{n}",
        system_id=system_id,
        kind=OutboxKind.MO,
        created_at=T0 + timedelta(seconds=n),
        source="447700900123",
        destination="4444",
        short_message_hex=f"hello {n}".encode().hex(),
    )


def test_fifo_lease_ack_and_release(store: OutboxStore) -> None:
    for n in (3, 1, 2):
        store.put(mo(n))
    first = store.lease("p1", 2, now_ms=1_000, lease_ms=LEASE_MS)
    assert [i.item_id for i in first] == ["mo-1", "mo-2"]  # oldest first
    assert all(i.attempts == 1 for i in first)
    assert [i.item_id for i in store.lease("p1", 5, now_ms=1_001, lease_ms=LEASE_MS)] == ["mo-3"]
    assert store.lease("p1", 5, now_ms=1_002, lease_ms=LEASE_MS) == []  # all leased

    store.ack(first[0])
    store.release(first[1])
    again = store.lease("p1", 5, now_ms=1_003, lease_ms=LEASE_MS)
    assert [i.item_id for i in again] == ["mo-2"] and again[0].attempts == 2
    assert again[0].short_message == b"hello 2"


def test_a_lease_runs_out_and_the_item_comes_back(store: OutboxStore) -> None:
    store.put(mo(1))
    assert len(store.lease("p1", 1, now_ms=1_000, lease_ms=500)) == 1
    assert store.lease("p1", 1, now_ms=1_400, lease_ms=500) == []
    assert [i.item_id for i in store.lease("p1", 1, now_ms=1_501, lease_ms=500)] == ["mo-1"]


def test_put_is_idempotent_and_accounts_are_separate(store: OutboxStore) -> None:
    store.put(mo(1))
    store.put(mo(1))
    store.put(mo(2, system_id="p2"))
    assert [i.item_id for i in store.lease("p1", 10, now_ms=1, lease_ms=LEASE_MS)] == ["mo-1"]
    assert [i.item_id for i in store.lease("p2", 10, now_ms=1, lease_ms=LEASE_MS)] == ["mo-2"]


def test_receipt_items_keep_their_fields(store: OutboxStore) -> None:
    receipt = OutboxItem(
        item_id="dlr-m9-delivered",
        message_id="m9",
        system_id="p1",
        kind=OutboxKind.RECEIPT,
        created_at=T0,
        source="4444",
        destination="447700900123",
        receipt_status=DlrStatus.DELIVERED,
        submitted_at=T0,
    )
    store.put(receipt)
    [leased] = store.lease("p1", 1, now_ms=1, lease_ms=LEASE_MS)
    assert leased.model_copy(update={"attempts": 0}) == receipt


def test_concurrent_leases_never_share_an_item(store: OutboxStore) -> None:
    for n in range(30):
        store.put(mo(n))
    taken: list[list[OutboxItem]] = [[] for _ in range(4)]

    def worker(slot: int) -> None:
        while batch := store.lease("p1", 3, now_ms=10, lease_ms=LEASE_MS):
            taken[slot].extend(batch)

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = [item.item_id for batch in taken for item in batch]
    assert sorted(ids) == sorted(f"mo-{n}" for n in range(30))  # each exactly once
