"""logic/idempotency.py and logic/rate_limits.py over the in-memory stores."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.logic import idempotency as idem
from smsbilling.logic.rate_limits import check_rate
from smsbilling.settings import ApiLimits

from .harness import T0

LIMITS = ApiLimits()
FP = idem.fingerprint("POST", "/v1/otp", {}, '{"a":1}')


def test_fingerprint_compares_json_by_value_and_everything_else_exactly() -> None:
    base = idem.fingerprint("POST", "/p", {"x": ["1", "2"]}, '{"a": 1, "b": [1, 2]}')
    assert base == idem.fingerprint("post", "/p", {"x": ["2", "1"]}, '{"b":[1,2],\n"a":1}')
    assert (
        len(
            {
                base,
                idem.fingerprint("PUT", "/p", {"x": ["1", "2"]}, '{"a": 1, "b": [1, 2]}'),
                idem.fingerprint("POST", "/q", {"x": ["1", "2"]}, '{"a": 1, "b": [1, 2]}'),
                idem.fingerprint("POST", "/p", {"x": ["1"]}, '{"a": 1, "b": [1, 2]}'),
                idem.fingerprint("POST", "/p", {"x": ["1", "2"]}, '{"a": 1, "b": [2, 1]}'),
                idem.fingerprint("POST", "/p", {"x": ["1", "2"]}, '{"a": 1.0, "b": [1, 2]}'),
                idem.fingerprint("POST", "/p", {"x": ["1", "2"]}, None),
            }
        )
        == 7
    )
    # Not JSON: byte for byte.
    assert idem.fingerprint("POST", "/p", {}, "a=1&b=2") != idem.fingerprint("POST", "/p", {}, "a=1&b=2 ")


def test_key_problems() -> None:
    assert idem.key_problem("k" * 255, LIMITS) is None
    assert idem.key_problem("ключ 🙂", LIMITS) is None
    assert "255" in str(idem.key_problem("k" * 256, LIMITS))
    assert idem.key_problem("", LIMITS) is not None and idem.key_problem(" \t", LIMITS) is not None
    assert idem.key_hash("k") != idem.key_hash("K") and len(idem.key_hash("k" * 255)) == 64


def begin(store: MemoryIdempotencyStore, *, at: timedelta = timedelta(), fp: str = FP, scope: str = "p:a"):  # type: ignore[no-untyped-def]
    return idem.begin(store, scope=scope, key="k1", request_fingerprint=fp, now=T0 + at, limits=LIMITS)


def test_claim_complete_replay() -> None:
    store = MemoryIdempotencyStore()
    started = begin(store)
    assert isinstance(started, idem.Proceed)
    assert started.claim.lease_until == T0 + timedelta(seconds=LIMITS.idempotency_lease_s)
    assert isinstance(begin(store, at=timedelta(seconds=1)), idem.InFlight)
    answer = idem.StoredResponse(status=201, headers={"Content-Type": ["application/json"]}, body='{"id":1}')
    assert idem.finish(store, started.claim, answer, now=T0 + timedelta(seconds=2), limits=LIMITS)
    assert begin(store, at=timedelta(hours=23)) == idem.Replay(answer)
    assert begin(store, at=timedelta(hours=23), fp="0" * 64) == idem.KeyReused()
    assert isinstance(begin(store, at=timedelta(hours=23), scope="p:b"), idem.Proceed)
    # Kept ttl after the answer, not after the claim.
    kept = store.get("p:a", idem.key_hash("k1"))
    assert kept is not None and kept.expires_at == T0 + timedelta(seconds=2 + LIMITS.idempotency_key_ttl_s)
    assert isinstance(begin(store, at=timedelta(seconds=2 + LIMITS.idempotency_key_ttl_s)), idem.Proceed)


@pytest.mark.parametrize(
    ("status", "kept"), [(200, True), (404, True), (422, True), (429, False), (500, False), (503, False)]
)
def test_what_is_kept(status: int, kept: bool) -> None:
    store = MemoryIdempotencyStore()
    started = begin(store)
    assert isinstance(started, idem.Proceed)
    answer = idem.StoredResponse(status=status, body="{}")
    assert idem.finish(store, started.claim, answer, now=T0, limits=LIMITS) is kept
    assert isinstance(begin(store), idem.Replay if kept else idem.Proceed)


def test_too_large_an_answer_is_released() -> None:
    limits = ApiLimits(idempotency_response_bytes_max=1024)
    answer = idem.StoredResponse(status=200, body=json.dumps("x" * 1024))
    assert not idem.storable(answer, limits) and idem.storable(answer, LIMITS)


def test_a_lapsed_claim_is_taken_over_and_the_first_cannot_complete_or_release() -> None:
    store = MemoryIdempotencyStore()
    first = begin(store)
    second = begin(store, at=timedelta(seconds=LIMITS.idempotency_lease_s))
    assert isinstance(first, idem.Proceed) and isinstance(second, idem.Proceed)
    answer = idem.StoredResponse(status=200, body="first")
    assert not idem.finish(store, first.claim, answer, now=T0, limits=LIMITS)
    idem.abandon(store, first.claim)
    assert isinstance(begin(store, at=timedelta(seconds=LIMITS.idempotency_lease_s + 1)), idem.InFlight)
    idem.abandon(store, second.claim)
    assert isinstance(begin(store, at=timedelta(seconds=LIMITS.idempotency_lease_s + 1)), idem.Proceed)


# --- rate limits ------------------------------------------------------------------------------------


def test_rate_windows() -> None:
    limits = ApiLimits(api_key_requests_per_s_max=2, api_key_requests_per_min_max=5)
    counter = MemoryRateCounter()
    at = T0 + timedelta(seconds=58)  # 12:00:58
    decisions = [check_rate(counter, "k", now=at, limits=limits) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert (decisions[2].window, decisions[2].retry_after_s) == ("second", 1)
    assert check_rate(counter, "other", now=at, limits=limits).allowed
    at += timedelta(seconds=1)  # 12:00:59: 3 counted this minute (the refused one too)
    assert [check_rate(counter, "k", now=at, limits=limits).allowed for _ in range(2)] == [True, True]
    over = check_rate(counter, "k", now=at + timedelta(milliseconds=500), limits=limits)
    assert (over.allowed, over.window, over.retry_after_s) == (False, "minute", 1)
    at += timedelta(seconds=1)  # 12:01:00
    assert check_rate(counter, "k", now=at, limits=limits).allowed
