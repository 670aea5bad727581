"""One contract for every MtStore (the in-memory fake, DynamoDB Local, the local cloud), and the
entity lookups the MT processor needs over the same three."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.contracts import MtPurpose
from smsbilling.domain import mt as lifecycle
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import Operator, OperatorLink, Protocol
from smsbilling.ports import MtOrigin, MtRecord, MtStore, NotifyOutcome, WaitingReceipt

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _table_with_gsi1(client, prefix: str) -> str:  # type: ignore[no-untyped-def]
    """A table as the template declares the entities and messages tables (pk/sk and gsi1)."""
    table = f"{prefix}-{uuid.uuid4().hex[:12]}"
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": f"gsi1{name}", "KeyType": kind} for name, kind in keys],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table)
    return table


def _dynamo(client) -> MtStore:  # type: ignore[no-untyped-def]
    return DynamoMtStore(client, _table_with_gsi1(client, "mt"), shards=3)  # as the messages table


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], MtStore]] = {
    "memory": lambda request: MemoryMtStore(),
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
def store(request: pytest.FixtureRequest) -> MtStore:
    return FACTORIES[request.param](request)


def record(message_id: str = "mt1", parts: int = 2, **fields: object) -> MtRecord:
    mt = lifecycle.new_mt(message_id, parts, now_ms=1_000, final_wait_ms=60_000)
    values: dict[str, object] = {
        "mt": mt,
        "origin": MtOrigin.REQUESTED,
        "purpose": MtPurpose.REPLY,
        "partner_id": "p1",
        "service_id": "s1",
        "operator_id": "op1",
        "link_id": "l1",
        "source": "4444",
        "destination": "447700900123",
        "text": "Привет, мир € {}",
        "data_coding": 8,
        "esm_class": 0x40,
        "parts_hex": ("0500030102" + "01" + "0041", "0500030102" + "02" + "0042"),
        "billed": True,
        "created_at": T0,
    }
    return MtRecord.model_validate(values | fields)


def test_create_is_idempotent_and_round_trips_every_field(store: MtStore) -> None:
    first = record()
    assert store.create(first) == first
    assert store.create(record(text="another")) == first  # the same id twice: one MT, the first
    assert store.get("mt1") == first
    assert store.get("nope") is None
    with pytest.raises(ValueError, match="version 0"):
        store.create(first.model_copy(update={"version": 1}))


def test_a_full_lifecycle_survives_the_store(store: MtStore) -> None:
    original = record()
    store.create(original)
    mt = original.mt
    for event in (
        lifecycle.HandedToLink(2_000),
        lifecycle.ReceiptReceived("k2", DlrStatus.DELIVERED, "DELIVRD", 2_500),  # parked
        lifecycle.SubmitAccepted(0, "OP-1", "k1", 3_000),
        lifecycle.ReceiptReceived("k1", DlrStatus.ENROUTE, "ENROUTE", 3_500),
    ):
        mt = lifecycle.apply(mt, event).mt
    changed = original.model_copy(
        update={
            "mt": mt,
            "version": 1,
            "handed_parts": (0, 1),
            "notify_attempts": 2,
            "notified": NotifyOutcome.FAILED,
            "notify_error": "server error",
        }
    )
    assert store.replace(changed)
    again = store.get("mt1")
    assert again == changed
    assert (
        again is not None
        and again.mt.parked[0].key == "k2"
        and again.mt.parts[0].progress is DlrStatus.ENROUTE
    )


def test_replace_succeeds_only_over_the_version_read(store: MtStore) -> None:
    store.create(record())
    assert not store.replace(record(version=2))  # skipped a version
    assert store.replace(record(version=1, billing_done=True))
    assert not store.replace(record(version=1, notify_error="stale writer"))
    stored = store.get("mt1")
    assert stored is not None and stored.billing_done and stored.notify_error == ""
    assert not MemoryMtStore().replace(record(version=1))  # nothing to replace


def test_concurrent_writers_over_one_version_exactly_one_wins(store: MtStore) -> None:
    store.create(record())
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        if store.replace(record(version=1, notify_error=f"w{n}")):
            wins.append(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.get("mt1")
    assert len(wins) == 1 and stored is not None and stored.notify_error == f"w{wins[0]}"


def test_link_claims_once_and_returns_what_waited(store: MtStore) -> None:
    assert store.correlation("l1", "k") is None
    waiting = WaitingReceipt(receipt_id="r1", status=DlrStatus.DELIVERED, reason="DELIVRD")
    kept = store.add_receipt("l1", "k", waiting, expires_at_s=10**10, receipts_max=2)
    assert kept is not None and kept.message_id is None and kept.receipts == (waiting,)

    linked = store.link("l1", "k", "mt1", 1, expires_at_s=10**10)
    assert (linked.message_id, linked.part_index, linked.receipts) == ("mt1", 1, (waiting,))
    assert store.link("l1", "k", "mt1", 1, expires_at_s=10**10) == linked  # the same claim again
    other = store.link("l1", "k", "mt2", 0, expires_at_s=10**10)
    assert (other.message_id, other.part_index) == ("mt1", 1)  # the first claim stands
    assert store.link("l2", "k", "mt2", 0, expires_at_s=10**10).message_id == "mt2"  # ids are per link


def test_receipts_are_kept_once_and_bounded(store: MtStore) -> None:
    def receipt(n: int) -> WaitingReceipt:
        return WaitingReceipt(receipt_id=f"r{n}", status=DlrStatus.UNDELIVERED, reason=f"#{n}")

    def add(n: int) -> object:
        return store.add_receipt("l1", "k", receipt(n), expires_at_s=10**10, receipts_max=2)

    add(1)
    add(1)
    add(2)
    assert add(3) is None  # full, and nobody linked it: the caller retries later
    again = add(2)
    assert again is not None and [r.receipt_id for r in again.receipts] == ["r1", "r2"]  # kept once
    store.link("l1", "k", "mt1", 0, expires_at_s=10**10)
    linked = add(3)
    assert linked is not None and linked.message_id == "mt1"  # full, but linked: apply it directly
    stored = store.correlation("l1", "k")
    assert stored is not None and len(stored.receipts) == 2


# --- the entity lookups the MT processor needs (links of an operator, every operator) ------------------


ENTITY_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], MemoryEntityStore | DynamoEntityStore]] = {
    "memory": lambda request: MemoryEntityStore(),
    "dynamodb_local": lambda request: DynamoEntityStore(
        client := request.getfixturevalue("dynamodb_local_client"), _table_with_gsi1(client, "entities")
    ),
    "localcloud": lambda request: DynamoEntityStore(
        client := request.getfixturevalue("stack").client("dynamodb"), _table_with_gsi1(client, "entities")
    ),
}


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local),
        pytest.param("localcloud", marks=pytest.mark.localcloud),
    ]
)
def entities(request: pytest.FixtureRequest) -> MemoryEntityStore | DynamoEntityStore:
    return ENTITY_FACTORIES[request.param](request)


def test_links_of_an_operator_and_every_operator_are_found(
    entities: MemoryEntityStore | DynamoEntityStore,
) -> None:
    ops = [
        Operator(
            operator_id=f"op{n}",
            name=f"Op {n}",
            country_code="44",
            currency="GBP",
            msisdn_prefixes=(f"44{n}",),
        )
        for n in (2, 1)
    ]
    links = [
        OperatorLink(link_id="b", operator_id="op1", protocol=Protocol.SMPP),
        OperatorLink(
            link_id="a", operator_id="op1", protocol=Protocol.HTTP, mt_url="https://x", mt_token="t"
        ),
        OperatorLink(link_id="c", operator_id="op2", protocol=Protocol.HTTP, enabled=False),
    ]
    for entity in (*ops, *links):
        entities.put(entity)

    assert [link.link_id for link in entities.links_of("op1")] == ["a", "b"]
    assert entities.links_of("op1")[0] == links[1]  # every field, the secret included
    assert [link.link_id for link in entities.links_of("op2")] == ["c"]
    assert entities.links_of("op9") == []
    assert entities.operators() == sorted(ops, key=lambda op: op.operator_id)
    assert entities.get(OperatorLink, "a") == links[1]  # the index keys never leak into the model
    moved = links[0].model_copy(update={"operator_id": "op2"})
    entities.put(moved)
    assert [link.link_id for link in entities.links_of("op2")] == ["b", "c"]
    assert [link.link_id for link in entities.links_of("op1")] == ["a"]


def test_the_expiry_index_lists_what_is_due_soonest_first_until_it_is_final(store: MtStore) -> None:
    for n, wait_ms in ((1, 30_000), (2, 10_000), (3, 20_000), (4, 90_000)):
        mt = lifecycle.new_mt(f"due{n}", 1, now_ms=1_000, final_wait_ms=wait_ms)
        store.create(record(f"due{n}", mt=mt))
    assert store.expired(10_999, 10) == []
    assert store.expired(11_000, 10) == ["due2"]  # due at its deadline exactly
    assert store.expired(31_000, 10) == ["due2", "due3", "due1"]
    assert store.expired(31_000, 2) == ["due2", "due3"]

    current = store.get("due3")
    assert current is not None
    final = lifecycle.apply(current.mt, lifecycle.ExpiryDue(31_000)).mt
    assert store.replace(current.model_copy(update={"mt": final, "version": 1}))
    assert store.expired(10**12, 10) == ["due2", "due1", "due4"]
