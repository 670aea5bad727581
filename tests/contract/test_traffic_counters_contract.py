"""One contract for every TrafficCounters: windowed totals, counted once per message and counter, exact
under concurrency, sharded counters summed (memory, DynamoDB Local, the local cloud's DynamoDB)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from smsbilling.adapters import dynamodb_traffic_counters as counters_module
from smsbilling.adapters.dynamodb_traffic_counters import (
    DynamoTrafficCounters,
    groups_of,
    shard_key,
    shard_of,
)
from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.traffic import Window, window_end
from smsbilling.logic.traffic_control import CounterHit, TrafficCounters
from tests.contract.stores import KINDS, dynamodb_client, fresh_table

T0 = 1_795_000_000 - 1_795_000_000 % 3_600  # the start of an hour (2026-11-18 UTC)


@pytest.fixture(params=KINDS)
def counters(request: pytest.FixtureRequest) -> TrafficCounters:
    if request.param == "memory":
        return MemoryTrafficCounters()
    client = dynamodb_client(request, request.param)
    return DynamoTrafficCounters(client, fresh_table(client, "counters"))


def minute(key: str = "sub#1", amount: int = 1, shards: int = 1) -> CounterHit:
    return CounterHit(key, Window.MINUTE, amount, shards)


def hour(key: str = "sub#1", amount: int = 1, shards: int = 1) -> CounterHit:
    return CounterHit(key, Window.HOUR, amount, shards)


def test_nothing_counted_reads_zero(counters: TrafficCounters) -> None:
    assert counters.totals([minute(), hour("x", shards=4)], at_s=T0) == [0, 0]
    assert counters.count("m0", [], at_s=T0) == []


def test_each_message_adds_to_every_counter_in_its_window(counters: TrafficCounters) -> None:
    assert counters.count("m1", [minute(), hour()], at_s=T0 + 5) == [1, 1]
    assert counters.count("m2", [minute(), hour()], at_s=T0 + 59) == [2, 2]
    # The next minute is a new minute window, the same hour window.
    assert counters.count("m3", [minute(), hour()], at_s=T0 + 60) == [1, 3]
    assert counters.totals([minute(), hour()], at_s=T0 + 30) == [2, 3]
    assert counters.totals([minute(), hour()], at_s=T0 + 3_600) == [0, 0]
    # Counters are independent by key and by window.
    assert counters.count("m4", [minute("sub#2"), hour("sub#1")], at_s=T0 + 61) == [1, 4]


def test_a_redelivered_message_adds_nothing_and_reads_the_current_totals(counters: TrafficCounters) -> None:
    hits = [minute(), hour("range#44770", amount=150)]
    assert counters.count("m1", hits, at_s=T0) == [1, 150]
    assert counters.count("m1", hits, at_s=T0) == [1, 150]
    counters.count("m2", hits, at_s=T0 + 1)
    assert counters.count("m1", hits, at_s=T0) == [2, 300]  # what others added since shows
    assert counters.totals(hits, at_s=T0) == [2, 300]


def test_a_message_adds_once_to_each_counter_even_over_several_calls(counters: TrafficCounters) -> None:
    """Two controls counting for one message: each adds its own counters; a shared one adds once."""
    assert counters.count("m1", [minute("fraud#a")], at_s=T0) == [1]
    assert counters.count("m1", [minute("risk#b"), hour("risk#b")], at_s=T0) == [1, 1]
    assert counters.count("m1", [minute("fraud#a"), minute("risk#c")], at_s=T0) == [1, 1]
    assert counters.count("m1", [hour("risk#b"), minute("fraud#a"), minute("risk#c")], at_s=T0) == [1, 1, 1]
    assert counters.totals([minute("fraud#a"), minute("risk#b"), minute("risk#c")], at_s=T0) == [1, 1, 1]


def test_amounts_add_and_a_zero_amount_counts_nothing(counters: TrafficCounters) -> None:
    assert counters.count("m1", [hour("gbp", amount=150)], at_s=T0) == [150]
    assert counters.count("m2", [hour("gbp", amount=0)], at_s=T0) == [150]
    assert counters.count("m3", [hour("gbp", amount=99)], at_s=T0 + 10) == [249]
    assert counters.count("m2", [hour("gbp", amount=500)], at_s=T0) == [249]  # m2 was counted (with 0)


@pytest.mark.parametrize("shards", [4, 40])
def test_a_sharded_counter_totals_every_shard(counters: TrafficCounters, shards: int) -> None:
    ids = [f"msg-{n}" for n in range(60)]
    assert len({shard_of(i, shards) for i in ids}) >= min(shards, 30)  # the ids spread over the shards
    assert groups_of(40) == 3  # 40 shards: items under three partition keys
    totals = [counters.count(i, [minute("platform", shards=shards)], at_s=T0)[0] for i in ids]
    assert totals == list(range(1, 61))
    assert counters.totals([minute("platform", shards=shards)], at_s=T0) == [60]
    # More shards read later (the setting raised mid-window) still find every add.
    assert counters.totals([minute("platform", shards=2 * shards)], at_s=T0) == [60]
    assert counters.totals([minute("platform", shards=shards), minute("other", shards=shards)], at_s=T0) == [
        60,
        0,
    ]


def test_month_windows_follow_the_calendar(counters: TrafficCounters) -> None:
    november_30 = 1_796_040_000  # 2026-11-30 12:00 UTC
    month = CounterHit("op#1", Window.MONTH)
    assert counters.count("m1", [month], at_s=november_30) == [1]
    assert counters.count("m2", [month], at_s=november_30 - 20 * 86_400) == [2]
    assert counters.count("m3", [month], at_s=window_end(Window.MONTH, november_30)) == [1]


@pytest.mark.parametrize(
    "hits",
    [
        [minute("a"), minute("a")],
        [minute("a", amount=-1)],
        [minute("a", shards=0)],
        [minute("")],
    ],
    ids=["duplicate", "negative", "no-shards", "no-key"],
)
def test_refuses_what_no_counter_can_take(counters: TrafficCounters, hits: list[CounterHit]) -> None:
    with pytest.raises(ValueError):
        counters.count("m1", hits, at_s=T0)
    assert counters.totals([minute("a")], at_s=T0) == [0]


def _in_threads(jobs: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(n: int) -> None:
        try:
            start.wait()
            results[n] = jobs[n]()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], errors
    return results


@pytest.mark.parametrize("shards", [1, 3, 40])
def test_concurrent_messages_all_count_exactly(counters: TrafficCounters, shards: int) -> None:
    threads, per_thread = 8, 5
    hits = [minute("hot", shards=shards), hour("hot", amount=7, shards=shards), minute("cold")]

    def work(t: int) -> list[list[int]]:
        return [counters.count(f"t{t}-m{n}", hits, at_s=T0 + n) for n in range(per_thread)]

    seen = _in_threads([lambda t=t: work(t) for t in range(threads)])
    total = threads * per_thread
    assert counters.totals(hits, at_s=T0) == [total, 7 * total, total]
    # Every message saw at least its own add; the last commit saw everyone's.
    firsts = sorted(result[0] for per in seen for result in per)
    assert all(firsts[n] >= n + 1 for n in range(total)) and firsts[-1] == total


def test_the_same_message_from_two_threads_counts_once(counters: TrafficCounters) -> None:
    hits = [minute("hot", shards=2), hour("sub#9")]
    for round_ in range(5):
        answers = _in_threads([lambda r=round_: counters.count(f"dup-{r}", hits, at_s=T0)] * 2)
        assert answers[0] == answers[1] == [round_ + 1, round_ + 1]
    assert counters.totals(hits, at_s=T0) == [5, 5]


@pytest.mark.parametrize("kind", [pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local)])
def test_dynamodb_items_expire_after_their_windows(request: pytest.FixtureRequest, kind: str) -> None:
    client = dynamodb_client(request, kind)
    table = fresh_table(client, "counters")
    counters = DynamoTrafficCounters(client, table, keep_after_window_s=600)
    counters.count("m1", [minute("a", shards=40), hour("b")], at_s=T0 + 70)
    items = {
        (i["pk"]["S"], i["sk"]["S"]): i for i in client.scan(TableName=table, ConsistentRead=True)["Items"]
    }
    shard = shard_of("m1", 40)
    a, b = shard_key(minute("a", shards=40), T0 + 70, shard), shard_key(hour("b"), T0 + 70, 0)
    assert a == (f"TC#a#minute#{T0 + 60}#{shard % 3}", f"S{shard}") and b == (f"TC#b#hour#{T0}#0", "S0")
    assert set(items) == {a, b, ("TCMSG#m1", "MARK")}
    assert int(items[a]["expires_at"]["N"]) == T0 + 120 + 600
    assert int(items[b]["expires_at"]["N"]) == T0 + 3_600 + 600
    marker = items["TCMSG#m1", "MARK"]
    assert int(marker["expires_at"]["N"]) == T0 + 3_600 + 600  # the longest window it counted in
    assert set(marker["ks"]["SS"]) == {"minute:a", "hour:b"}
    # A later count in a longer window for the same message keeps the marker as long as that one.
    counters.count("m1", [CounterHit("c", Window.DAY)], at_s=T0 + 70)
    marker = client.get_item(TableName=table, Key={"pk": {"S": "TCMSG#m1"}, "sk": {"S": "MARK"}})["Item"]
    assert int(marker["expires_at"]["N"]) == window_end(Window.DAY, T0) + 600


@pytest.mark.parametrize("kind", [pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local)])
def test_dynamodb_markers_another_process_wrote_or_changed(
    request: pytest.FixtureRequest, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes remember the markers they wrote; one that did not, or remembers an old one, still
    counts each message once per counter (the marker's condition fails, it reads the marker)."""
    client = dynamodb_client(request, kind)
    table = fresh_table(client, "counters")
    here, there = counters_module._RecentMarkers(16), counters_module._RecentMarkers(16)
    monkeypatch.setattr(counters_module, "_RECENT", here)
    counters = DynamoTrafficCounters(client, table)
    assert counters.count("m1", [minute("a")], at_s=T0) == [1]
    remembered = here.get(table, "m1")
    assert remembered is not None and remembered.version == 1
    monkeypatch.setattr(counters_module, "_RECENT", there)  # another process: nothing remembered
    assert counters.count("m1", [minute("a"), minute("b")], at_s=T0) == [1, 1]
    assert counters.count("m1", [minute("a"), minute("b")], at_s=T0) == [1, 1]
    monkeypatch.setattr(counters_module, "_RECENT", here)  # back: remembers version 1, the marker is at 2
    assert counters.count("m1", [minute("b"), minute("c")], at_s=T0) == [1, 1]
    assert counters.count("m2", [minute("a"), minute("b"), minute("c")], at_s=T0) == [2, 2, 2]
    marker = client.get_item(TableName=table, Key={"pk": {"S": "TCMSG#m1"}, "sk": {"S": "MARK"}})["Item"]
    assert (set(marker["ks"]["SS"]), marker["v"]["N"]) == ({"minute:a", "minute:b", "minute:c"}, "3")
