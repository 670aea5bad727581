"""One contract for the duplicate control's fingerprint claims: memory, DynamoDB Local, the local cloud."""

from __future__ import annotations

import threading

import pytest

from smsbilling.adapters.dynamodb_fingerprints import DynamoFingerprintStore
from smsbilling.adapters.memory_fingerprints import MemoryFingerprintStore
from smsbilling.logic.duplicates import Claim, FingerprintStore

from .stores import KINDS, dynamodb_client, fresh_table

T = 1_795_000_000
WINDOW = 300


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> FingerprintStore:
    if request.param == "memory":
        return MemoryFingerprintStore()
    client = dynamodb_client(request, request.param)
    return DynamoFingerprintStore(client, fresh_table(client, "counters"))


def claim(store: FingerprintStore, key: str, message_id: str, at_s: int) -> Claim:
    return store.claim(key, message_id, now_s=at_s, expires_at_s=at_s + WINDOW)


def test_the_first_claim_stands_until_it_expires(store: FingerprintStore) -> None:
    first = Claim("m1", T, T + WINDOW)
    assert claim(store, "k", "m1", T) == first
    assert claim(store, "k", "m2", T + 10) == first
    assert claim(store, "k", "m2", T + WINDOW - 1) == first  # the last live second
    assert claim(store, "other", "m3", T + 10) == Claim("m3", T + 10, T + 10 + WINDOW)


def test_the_same_message_again_finds_its_own_claim_unchanged(store: FingerprintStore) -> None:
    assert claim(store, "k", "m1", T) == Claim("m1", T, T + WINDOW)
    assert claim(store, "k", "m1", T) == Claim("m1", T, T + WINDOW)  # a redelivery
    assert claim(store, "k", "m1", T + 50) == Claim("m1", T, T + WINDOW)  # not extended either
    assert claim(store, "k", "m2", T + WINDOW - 1).message_id == "m1"


def test_an_expired_claim_not_yet_deleted_counts_as_absent(store: FingerprintStore) -> None:
    claim(store, "k", "m1", T)
    assert claim(store, "k", "m2", T + WINDOW) == Claim("m2", T + WINDOW, T + 2 * WINDOW)  # at expiry
    assert claim(store, "k", "m1", T) == Claim("m2", T + WINDOW, T + 2 * WINDOW)  # m1 lost it for good
    assert claim(store, "k", "m3", T + 2 * WINDOW + 1000) == Claim(
        "m3", T + 2 * WINDOW + 1000, T + 3 * WINDOW + 1000
    )


def test_an_older_message_does_not_take_a_newer_live_claim(store: FingerprintStore) -> None:
    assert claim(store, "k", "new", T + 1000) == Claim("new", T + 1000, T + 1000 + WINDOW)
    assert claim(store, "k", "old", T) == Claim("new", T + 1000, T + 1000 + WINDOW)


def race(store: FingerprintStore, key: str, ids: list[str]) -> dict[str, Claim]:
    """Every id claims ``key`` at the same moment (released together by a barrier)."""
    barrier = threading.Barrier(len(ids))
    seen: dict[str, Claim] = {}

    def run(message_id: str) -> None:
        barrier.wait()
        seen[message_id] = claim(store, key, message_id, T)

    threads = [threading.Thread(target=run, args=(mid,)) for mid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


def test_two_threads_claiming_one_key_at_once_exactly_one_wins(store: FingerprintStore) -> None:
    for round_ in range(5):  # several rounds: the race is close only sometimes
        key = f"race-{round_}"
        seen = race(store, key, ["a", "b"])
        assert seen["a"] == seen["b"], seen  # both are told the same winner
        assert seen["a"].message_id in {"a", "b"}
        assert claim(store, key, "c", T + 1) == seen["a"]


def test_many_threads_one_winner(store: FingerprintStore) -> None:
    ids = [f"m{n}" for n in range(16)]
    seen = race(store, "busy", ids)
    winners = {c.message_id for c in seen.values()}
    assert len(seen) == len(ids) and len(winners) == 1 and winners <= set(ids), seen
