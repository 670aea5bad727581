"""One contract for the statistics store (counted once per message, settled once, read by day)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import pytest

from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.adapters.memory_statistics import MemoryStatisticsStore
from smsbilling.domain.statistics import ChargeEntry, Counts, Dimension, StatLine, summarise
from smsbilling.logic.statistics import ChargeStatistics, StatisticsReader
from tests.contract.stores import KINDS, dynamodb_client, fresh_table

T0 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # a month's end: charges spill into December


class Store(ChargeStatistics, StatisticsReader, Protocol):
    pass


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryStatisticsStore()  # type: ignore[return-value]
    client = dynamodb_client(request, request.param)
    return DynamoStatisticsStore(client, fresh_table(client, "counters"), shards=3)  # type: ignore[return-value]


def entry(message_id: str, *, hours: float = 0, partner: str = "p1", **fields: object) -> ChargeEntry:
    values: dict[str, object] = {
        "message_id": message_id,
        "partner_id": partner,
        "service_id": "svc#1",  # ids may hold any character
        "short_number": "4444",
        "operator_id": "op|1",
        "at_ms": int((T0 + timedelta(hours=hours)).timestamp() * 1000),
        "currency": "GBP",
        "income": 53,
    } | fields
    return ChargeEntry(**values)  # type: ignore[arg-type]


def totals(
    store: Store, partner: str = "p1", first: date = date(2026, 11, 1), last: date = date(2026, 12, 31)
) -> dict[tuple[object, ...], Counts]:
    rows = summarise(store.lines(partner, first, last), list(Dimension))
    return {(r.day, r.service_id, r.short_number, r.operator_id, r.currency): r.counts for r in rows}


def test_a_charge_counts_once(store: Store) -> None:
    assert store.booked(entry("m1"), pending=False)
    assert not store.booked(entry("m1"), pending=False)
    assert not store.booked(entry("m1", income=99), pending=True)  # the first count stands
    assert totals(store) == {
        (date(2026, 11, 30), "svc#1", "4444", "op|1", "GBP"): Counts(charged=1, income=53)
    }


def test_pending_charges_settle_once_either_way(store: Store) -> None:
    store.booked(entry("ok"), pending=True)
    store.booked(entry("lost"), pending=True)
    store.booked(entry("open"), pending=True)
    assert store.settled("ok", delivered=True) and not store.settled("ok", delivered=True)
    assert store.settled("lost", delivered=False) and not store.settled("lost", delivered=True)
    assert not store.settled("never", delivered=True)
    store.booked(entry("posted"), pending=False)
    assert not store.settled("posted", delivered=False)  # not pending: nothing to settle
    [counts] = totals(store).values()
    assert counts == Counts(charged=2, income=106, pending=1, pending_income=53, voided=1)


def test_lines_are_read_by_day_across_months_and_kept_apart_by_dimension(store: Store) -> None:
    store.booked(entry("nov"), pending=False)
    store.booked(entry("dec1", hours=2), pending=False)  # 2026-12-01 01:00
    store.booked(entry("dec1-other", hours=3, service_id="svc#2", currency="EUR", income=40), pending=False)
    store.booked(entry("dec5", hours=24 * 4 + 2), pending=False)
    store.booked(entry("p2", partner="p2"), pending=False)
    got = totals(store)
    assert got == {
        (date(2026, 11, 30), "svc#1", "4444", "op|1", "GBP"): Counts(charged=1, income=53),
        (date(2026, 12, 1), "svc#1", "4444", "op|1", "GBP"): Counts(charged=1, income=53),
        (date(2026, 12, 1), "svc#2", "4444", "op|1", "EUR"): Counts(charged=1, income=40),
        (date(2026, 12, 5), "svc#1", "4444", "op|1", "GBP"): Counts(charged=1, income=53),
    }
    window = totals(store, first=date(2026, 11, 30), last=date(2026, 12, 1))
    assert set(window) == set(got) - {(date(2026, 12, 5), "svc#1", "4444", "op|1", "GBP")}
    assert totals(store, first=date(2026, 12, 2), last=date(2026, 12, 4)) == {}
    assert all(
        isinstance(line, StatLine) for line in store.lines("p2", date(2026, 11, 30), date(2026, 11, 30))
    )
    assert len(store.lines("p2", date(2026, 11, 30), date(2026, 11, 30))) == 1


def test_concurrent_charges_of_one_partner_all_count_and_a_repeated_one_once(store: Store) -> None:
    errors: list[BaseException] = []

    def book(message_id: str) -> None:
        try:
            store.booked(entry(message_id), pending=False)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=book, args=(f"m{i}",)) for i in range(12)]
    threads += [threading.Thread(target=book, args=("same",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [counts] = totals(store).values()
    assert counts == Counts(charged=13, income=13 * 53)
