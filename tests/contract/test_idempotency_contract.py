"""One contract for the idempotency store: the in-memory fake, DynamoDB Local, the local cloud."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_idempotency import DynamoIdempotencyStore
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.logic.idempotency import IdempotencyRecord, IdempotencyStore, StoredResponse, key_hash

from .stores import KINDS, dynamodb_client, fresh_table

T0 = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
LEASE = timedelta(seconds=30)
TTL = timedelta(hours=24)
ANSWER = StoredResponse(
    status=201,
    headers={"Content-Type": ["application/json"], "X-Many": ["a", "b"]},
    body='{"id":"m1","text":"привет"}',
)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> IdempotencyStore:
    if request.param == "memory":
        return MemoryIdempotencyStore()
    client = dynamodb_client(request, request.param)
    return DynamoIdempotencyStore(client, fresh_table(client, "idem"))


def claim_of(
    key: str = "k1", *, scope: str = "partner:a", at: datetime = T0, fp: str = "a"
) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=scope,
        key_hash=key_hash(key),
        fingerprint=fp * 64,
        token=uuid.uuid4().hex,
        created_at=at,
        lease_until=at + LEASE,
        expires_at=at + TTL,
    )


def test_claim_then_complete_then_the_record_blocks(store: IdempotencyStore) -> None:
    first = claim_of()
    assert store.get(first.scope, first.key_hash) is None
    assert store.claim(first, T0) is None
    assert store.get(first.scope, first.key_hash) == first
    assert store.claim(claim_of(fp="b"), T0 + timedelta(seconds=1)) == first  # in flight: the holder
    done_until = T0 + timedelta(seconds=2) + TTL
    assert store.complete(first.scope, first.key_hash, first.token, ANSWER, done_until)
    done = first.model_copy(update={"response": ANSWER, "expires_at": done_until})
    assert store.get(first.scope, first.key_hash) == done
    assert store.claim(claim_of(), T0 + LEASE + timedelta(hours=1)) == done  # done: no lease matters
    assert not store.complete(first.scope, first.key_hash, first.token, ANSWER, done_until)  # only once
    store.release(first.scope, first.key_hash, first.token)  # a done record is not released
    assert store.get(first.scope, first.key_hash) == done


def test_scopes_and_keys_are_separate(store: IdempotencyStore) -> None:
    assert store.claim(claim_of("k1", scope="partner:a"), T0) is None
    assert store.claim(claim_of("k1", scope="partner:b"), T0) is None
    assert store.claim(claim_of("k2", scope="partner:a"), T0) is None
    assert store.claim(claim_of("k" * 255, scope="admin:key-1"), T0) is None


def test_a_lapsed_lease_is_taken_over_and_the_old_token_has_no_power(store: IdempotencyStore) -> None:
    first = claim_of()
    assert store.claim(first, T0) is None
    just_before = T0 + LEASE - timedelta(microseconds=1)
    assert store.claim(claim_of(at=just_before), just_before) == first
    second = claim_of(at=T0 + LEASE)
    assert store.claim(second, T0 + LEASE) is None
    assert not store.complete(first.scope, first.key_hash, first.token, ANSWER, T0 + TTL)
    store.release(first.scope, first.key_hash, first.token)
    assert store.get(second.scope, second.key_hash) == second
    store.release(second.scope, second.key_hash, second.token)
    assert store.get(second.scope, second.key_hash) is None
    assert store.claim(claim_of(at=T0 + LEASE), T0 + LEASE) is None  # released: free again


def test_an_expired_record_is_replaced(store: IdempotencyStore) -> None:
    first = claim_of()
    store.claim(first, T0)
    store.complete(first.scope, first.key_hash, first.token, ANSWER, T0 + TTL)
    assert store.claim(
        claim_of(at=T0 + TTL - timedelta(microseconds=1)), T0 + TTL - timedelta(microseconds=1)
    )
    fresh = claim_of(at=T0 + TTL, fp="c")
    assert store.claim(fresh, T0 + TTL) is None
    assert store.get(fresh.scope, fresh.key_hash) == fresh


def test_binary_and_empty_answers_round_trip(store: IdempotencyStore) -> None:
    for key, answer in [
        ("bin", StoredResponse(status=200, body="AAEC/w==", body_base64=True)),
        ("empty", StoredResponse(status=204)),
    ]:
        claim = claim_of(key)
        store.claim(claim, T0)
        assert store.complete(claim.scope, claim.key_hash, claim.token, answer, T0 + TTL)
        stored = store.get(claim.scope, claim.key_hash)
        assert stored is not None and stored.response == answer


def test_racing_claims_exactly_one_wins(store: IdempotencyStore) -> None:
    results: list[IdempotencyRecord | None] = []
    lock = threading.Lock()
    claims = [claim_of() for _ in range(12)]

    def race(claim: IdempotencyRecord) -> None:
        outcome = store.claim(claim, T0)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=race, args=(claim,)) for claim in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1
    winner = store.get("partner:a", key_hash("k1"))
    assert winner in claims and all(r == winner for r in results if r is not None)
