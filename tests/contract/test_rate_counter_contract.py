"""One contract for the API rate counter: the in-memory fake, DynamoDB Local, the local cloud."""

from __future__ import annotations

import threading

import pytest

from smsbilling.adapters.dynamodb_rate_counter import DynamoRateCounter
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.logic.rate_limits import RateCounter, WindowCounts

from .stores import KINDS, dynamodb_client, fresh_table

MINUTE = 1_795_000_020  # an epoch second on a UTC minute boundary
assert MINUTE % 60 == 0


@pytest.fixture(params=KINDS)
def counter(request: pytest.FixtureRequest) -> RateCounter:
    if request.param == "memory":
        return MemoryRateCounter()
    client = dynamodb_client(request, request.param)
    return DynamoRateCounter(client, fresh_table(client, "rate"))


def test_counts_per_second_and_per_minute(counter: RateCounter) -> None:
    assert counter.hit("k", MINUTE) == WindowCounts(second=1, minute=1)
    assert counter.hit("k", MINUTE) == WindowCounts(second=2, minute=2)
    assert counter.hit("k", MINUTE + 59) == WindowCounts(second=1, minute=3)
    assert counter.hit("k", MINUTE + 60) == WindowCounts(second=1, minute=1)  # the next minute
    assert counter.hit("other", MINUTE) == WindowCounts(second=1, minute=1)
    assert counter.hit("k", MINUTE + 1) == WindowCounts(second=1, minute=4)


def test_parallel_hits_are_all_counted(counter: RateCounter) -> None:
    seen: list[WindowCounts] = []
    lock = threading.Lock()

    def hit() -> None:
        counts = counter.hit("busy", MINUTE + 5)
        with lock:
            seen.append(counts)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.second for c in seen) == list(range(1, 21))
    assert sorted(c.minute for c in seen) == list(range(1, 21))
