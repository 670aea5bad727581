"""One contract for the per-partner message quota: the in-memory fake, DynamoDB Local, the local cloud."""

from __future__ import annotations

import threading

import pytest

from smsbilling.adapters.dynamodb_send_quota import DynamoSendQuota
from smsbilling.adapters.memory_send_quota import MemorySendQuota
from smsbilling.logic.send_limits import QuotaRefused, SendQuota

from .stores import KINDS, dynamodb_client, fresh_table

MINUTE = 1_795_000_020  # an epoch second on a UTC minute boundary
assert MINUTE % 60 == 0


@pytest.fixture(params=KINDS)
def quota(request: pytest.FixtureRequest) -> SendQuota:
    if request.param == "memory":
        return MemorySendQuota()
    client = dynamodb_client(request, request.param)
    return DynamoSendQuota(client, fresh_table(client, "sendq"))


def take(quota: SendQuota, count: int, at_s: int, key: str = "p1") -> QuotaRefused | None:
    return quota.take(key, count, at_s, per_s_max=5, per_min_max=8)


def test_takes_while_both_windows_have_room_and_a_refusal_takes_nothing(quota: SendQuota) -> None:
    assert take(quota, 3, MINUTE) is None
    assert take(quota, 3, MINUTE) == QuotaRefused("second")  # 6 > 5 in this second
    assert take(quota, 2, MINUTE) is None  # the refused 3 were not counted: 5 now
    assert take(quota, 1, MINUTE) == QuotaRefused("second")
    assert take(quota, 3, MINUTE + 1) is None  # another second: 8 in the minute
    assert take(quota, 1, MINUTE + 2) == QuotaRefused("minute")
    assert take(quota, 1, MINUTE + 2, key="p2") is None  # another key
    assert take(quota, 5, MINUTE + 60) is None  # the next minute starts afresh


def test_give_back_returns_the_messages_to_both_windows(quota: SendQuota) -> None:
    assert take(quota, 5, MINUTE + 7) is None
    quota.give_back("p1", 5, MINUTE + 7)
    assert take(quota, 5, MINUTE + 7) is None
    assert take(quota, 3, MINUTE + 8) is None
    assert take(quota, 1, MINUTE + 9) == QuotaRefused("minute")
    quota.give_back("p1", 3, MINUTE + 8)
    assert take(quota, 3, MINUTE + 9) is None


def test_parallel_takes_never_exceed_the_limit(quota: SendQuota) -> None:
    results: list[QuotaRefused | None] = []
    lock = threading.Lock()

    def one() -> None:
        outcome = quota.take("busy", 2, MINUTE + 30, per_s_max=9, per_min_max=100)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 4  # 4 x 2 = 8 <= 9 < 10
    assert all(r == QuotaRefused("second") for r in results if r is not None)
