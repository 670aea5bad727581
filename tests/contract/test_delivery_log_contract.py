"""One contract for partner delivery's log: the in-memory fake, DynamoDB Local, and the local cloud."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.memory_delivery_log import MemoryDeliveryLog
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.domain.delivery_log import DeliveryRecord, DeliveryState, ReplyRecord, reply_mt_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.logic.partner_dispatch import DeliveryLog, MoReader

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _dynamo(client) -> tuple[DeliveryLog, DynamoInboundStore]:  # type: ignore[no-untyped-def]
    table = f"messages-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)  # the same pk/sk string key schema as the messages table
    return DynamoDeliveryLog(client, table), DynamoInboundStore(client, table)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], tuple[DeliveryLog, MoReader]]] = {
    "memory": lambda request: (MemoryDeliveryLog(), MemoryInboundStore()),
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
def stores(request: pytest.FixtureRequest) -> tuple[DeliveryLog, MoReader]:
    return FACTORIES[request.param](request)


def record(state: DeliveryState, attempts: int = 1, **extra: object) -> DeliveryRecord:
    return DeliveryRecord(message_id="m1", state=state, attempts=attempts, updated_at=T0, **extra)  # type: ignore[arg-type]


def reply(text: str, origin: str = "handler") -> ReplyRecord:
    return ReplyRecord(
        message_id="m1",
        mt_id=reply_mt_id("m1"),
        text=text,
        billed=True,
        origin=origin,
        requested_at=T0,  # type: ignore[arg-type]
    )


def test_outcomes_progress_until_a_settled_one_which_never_changes(
    stores: tuple[DeliveryLog, MoReader],
) -> None:
    log, _ = stores
    assert log.get("m1") is None
    assert log.record(record(DeliveryState.RETRYING, 1, reason="timeout"))
    assert log.record(record(DeliveryState.RETRYING, 2, reason="server error", http_status=503))
    assert log.get("m1") == record(DeliveryState.RETRYING, 2, reason="server error", http_status=503)
    dead = record(DeliveryState.DEAD, 2, reason="rejected by handler", http_status=404)
    assert log.record(dead) and log.get("m1") == dead  # dead, but a redrive may still settle it
    delivered = record(
        DeliveryState.DELIVERED, 3, reason="ok", http_status=200, reply_mt_id=reply_mt_id("m1")
    )
    assert log.record(delivered)
    assert not log.record(record(DeliveryState.RETRYING, 2, reason="a late retry"))
    assert not log.record(record(DeliveryState.DEAD, 4, reason="another chain"))
    assert log.get("m1") == delivered
    assert log.get("m2") is None
    queued = DeliveryRecord(message_id="m2", state=DeliveryState.QUEUED, attempts=1, updated_at=T0)
    assert log.record(queued)
    assert not log.record(queued.model_copy(update={"state": DeliveryState.DEAD}))
    assert log.get("m2") == queued


def test_the_first_reply_wins_and_is_returned_to_everyone(stores: tuple[DeliveryLog, MoReader]) -> None:
    log, _ = stores
    first = reply("Thanks")
    assert log.claim_reply(first) == first
    assert log.claim_reply(reply("Other text", origin="api")) == first
    assert log.claim_reply(first) == first


def test_concurrent_claims_agree_on_one_reply(stores: tuple[DeliveryLog, MoReader]) -> None:
    log, _ = stores
    seen: list[ReplyRecord] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        got = log.claim_reply(reply(f"text {n}"))
        with lock:
            seen.append(got)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({r.text for r in seen}) == 1


def test_records_live_beside_the_mo_without_disturbing_it(stores: tuple[DeliveryLog, MoReader]) -> None:
    """The MO item (MSG#id / META) stays readable by the strict MO model with both records written."""
    log, mos = stores
    mo = StoredMo(
        message_id="m1",
        link_id="l1",
        operator_id="op",
        operator_message_id="k1",
        source="447700900123",
        destination="4444",
        text="VOTE 1",
        state=MoState.ROUTED,
        received_at=T0,
    )
    mos.put_if_absent(mo)  # type: ignore[attr-defined]
    log.record(record(DeliveryState.DEAD, 1, reason="rejected by handler", http_status=400))
    log.claim_reply(reply("Thanks"))
    assert mos.get("m1") == mo


def test_one_call_at_a_time_until_its_lease_runs_out(stores: tuple[DeliveryLog, MoReader]) -> None:
    log, _ = stores
    lease = T0 + timedelta(seconds=15)
    assert log.claim_call(record(DeliveryState.CALLING, lease_until=lease), now=T0)
    # A duplicate command during the call: refused, the first claim stands.
    assert not log.claim_call(record(DeliveryState.CALLING, lease_until=lease), now=T0 + timedelta(seconds=5))
    # The holder died: once the lease has run out another attempt may call.
    later = T0 + timedelta(seconds=16)
    assert log.claim_call(
        record(DeliveryState.CALLING, 2, lease_until=later + timedelta(seconds=15)), now=later
    )
    stored = log.get("m1")
    assert stored is not None and (stored.state, stored.attempts) == (DeliveryState.CALLING, 2)
    # The outcome replaces the claim; a retrying outcome leaves no lease behind.
    assert log.record(record(DeliveryState.RETRYING, 2))
    assert log.claim_call(
        record(DeliveryState.CALLING, 3, lease_until=later + timedelta(seconds=99)), now=later
    )
    assert log.record(record(DeliveryState.DELIVERED, 3))
    assert not log.claim_call(
        record(DeliveryState.CALLING, 4, lease_until=later), now=later + timedelta(days=1)
    )


def test_racing_calls_one_wins(stores: tuple[DeliveryLog, MoReader]) -> None:
    log, _ = stores
    won: list[bool] = []
    lease = T0 + timedelta(seconds=15)
    threads = [
        threading.Thread(
            target=lambda: won.append(
                log.claim_call(record(DeliveryState.CALLING, lease_until=lease), now=T0)
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]
