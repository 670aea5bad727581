"""One contract for the OTP store and send limiter: the in-memory fakes, DynamoDB Local, the local cloud."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.dynamodb_otp import DynamoOtpStore, DynamoSendLimiter
from smsbilling.adapters.memory_otp import MemoryOtpStore, MemorySendLimiter
from smsbilling.domain.secrets import hash_password
from smsbilling.logic.otp import OtpRecord, OtpState, OtpStore, SendLimiter

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HASH = hash_password("123456")


def _dynamo(client) -> tuple[OtpStore, SendLimiter]:  # type: ignore[no-untyped-def]
    table = f"otp-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)  # the same pk/sk string key schema as messages and counters
    return DynamoOtpStore(client, table, keep_s=3600), DynamoSendLimiter(client, table)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], tuple[OtpStore, SendLimiter]]] = {
    "memory": lambda request: (MemoryOtpStore(), MemorySendLimiter()),
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
def stores(request: pytest.FixtureRequest) -> tuple[OtpStore, SendLimiter]:
    return FACTORIES[request.param](request)


def record(
    otp_id: str | None = None, *, attempts: int = 3, ttl: timedelta = timedelta(minutes=5)
) -> OtpRecord:
    return OtpRecord(
        otp_id=otp_id or uuid.uuid4().hex,
        partner_id="p1",
        service_id="svc1",
        msisdn="447700900123",
        code_hash=HASH,
        attempts_left=attempts,
        created_at=T0,
        expires_at=T0 + ttl,
        request_fingerprint="f" * 64,
    )


def test_create_get_and_create_again(stores: tuple[OtpStore, SendLimiter]) -> None:
    store, _ = stores
    first = record()
    assert store.get(first.otp_id) is None
    assert store.create(first) is None
    assert store.get(first.otp_id) == first
    other = first.model_copy(update={"msisdn": "447700900999"})
    assert store.create(other) == first  # the first stays
    store.delete(first.otp_id)
    store.delete(first.otp_id)
    assert store.get(first.otp_id) is None


def test_attempts_are_spent_one_by_one_until_none_are_left(stores: tuple[OtpStore, SendLimiter]) -> None:
    store, _ = stores
    r = record(attempts=2)
    store.create(r)
    before = store.take_attempt(r.otp_id, T0)
    assert before is not None and before.attempts_left == 2 and before.code_hash == HASH
    before = store.take_attempt(r.otp_id, T0)
    assert before is not None and before.attempts_left == 1
    assert store.take_attempt(r.otp_id, T0) is None
    stored = store.get(r.otp_id)
    assert stored is not None and stored.attempts_left == 0
    assert store.take_attempt(uuid.uuid4().hex, T0) is None


def test_no_attempt_on_an_expired_or_used_code(stores: tuple[OtpStore, SendLimiter]) -> None:
    store, _ = stores
    r = record()
    store.create(r)
    assert store.take_attempt(r.otp_id, r.expires_at) is None
    assert store.take_attempt(r.otp_id, r.expires_at - timedelta(microseconds=1)) is not None
    assert store.mark_used(r.otp_id)
    assert not store.mark_used(r.otp_id)
    assert store.take_attempt(r.otp_id, T0) is None
    used = store.get(r.otp_id)
    assert used is not None and used.state is OtpState.USED
    assert not store.mark_used(uuid.uuid4().hex)


def test_parallel_attempts_never_exceed_the_limit(stores: tuple[OtpStore, SendLimiter]) -> None:
    store, _ = stores
    r = record(attempts=5)
    store.create(r)
    won: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        if store.take_attempt(r.otp_id, T0) is not None:
            with lock:
                won.append(1)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 5


def test_send_limiter_counts_per_key_and_window(stores: tuple[OtpStore, SendLimiter]) -> None:
    _, limiter = stores
    w1, w2 = T0, T0 + timedelta(hours=1)
    assert [limiter.try_count("a", window_start=w1, window_s=3600, limit=3) for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert limiter.try_count("b", window_start=w1, window_s=3600, limit=3)
    assert limiter.try_count("a", window_start=w2, window_s=3600, limit=3)
