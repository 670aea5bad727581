"""One contract for the test tool's log: the in-memory fake, DynamoDB Local, and the local cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from smsbilling.adapters.dynamodb_handler_test_log import DynamoHandlerTestLog
from smsbilling.adapters.memory_handler_test_log import MemoryHandlerTestLog
from smsbilling.domain.handler_testing import HandlerTestEntry, log_sort_key
from smsbilling.logic.test_tool import HandlerTestLog
from tests.contract.stores import KINDS, dynamodb_client, fresh_table

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(params=KINDS)
def log(request: pytest.FixtureRequest) -> HandlerTestLog:
    if request.param == "memory":
        return MemoryHandlerTestLog()
    client = dynamodb_client(request, request.param)
    return DynamoHandlerTestLog(client, fresh_table(client, "messages"))


def entry(n: int, service_id: str = "s1", *, at: datetime | None = None) -> HandlerTestEntry:
    return HandlerTestEntry(
        service_id=service_id,
        message_id=f"{n:032x}",
        partner_id="p1",
        received_at=at or T0 + timedelta(seconds=n),
    )


def everything(log: HandlerTestLog, service_id: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        items, cursor = log.recent(service_id, limit=limit, after=cursor)
        pages.append([e.message_id for e in items])
        if cursor is None:
            return pages


def test_newest_first_in_pages_per_service(log: HandlerTestLog) -> None:
    for n in (3, 1, 4, 2, 5):
        log.add(entry(n), expires_at_s=2_000_000_000)
    log.add(entry(9, "s2"), expires_at_s=2_000_000_000)
    ids = [f"{n:032x}" for n in (5, 4, 3, 2, 1)]
    assert everything(log, "s1", 2) == [ids[:2], ids[2:4], ids[4:]]
    assert everything(log, "s1", 5) == [ids]  # exactly one page: no cursor to an empty one
    assert everything(log, "s2", 10) == [[f"{9:032x}"]]
    assert log.recent("none", limit=3) == ([], None)


def test_the_same_entry_twice_is_one_line_and_reads_back_equal(log: HandlerTestLog) -> None:
    log.add(entry(1), expires_at_s=2_000_000_000)
    log.add(entry(1), expires_at_s=2_000_000_000)
    assert log.recent("s1", limit=10) == ([entry(1)], None)


def test_times_in_other_zones_sort_by_the_instant(log: HandlerTestLog) -> None:
    plus_two = timezone(timedelta(hours=2))
    early = entry(1, at=(T0 + timedelta(minutes=30)).astimezone(plus_two))  # 14:30+02:00 = 12:30Z
    late = entry(2, at=T0 + timedelta(hours=1))  # 13:00Z
    log.add(late, expires_at_s=2_000_000_000)
    log.add(early, expires_at_s=2_000_000_000)
    items, _ = log.recent("s1", limit=10)
    assert [e.message_id for e in items] == [late.message_id, early.message_id]
    assert log_sort_key(early) < log_sort_key(late)
    assert items[1].received_at == early.received_at  # the same instant, whatever the zone
