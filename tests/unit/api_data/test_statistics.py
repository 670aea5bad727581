"""Statistics counted where charges are booked (logic/charging.py) and read per dimension."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from smsbilling.adapters.memory_statistics import MemoryStatisticsStore
from smsbilling.contracts import MoReceived
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.statistics import (
    ChargeEntry,
    Counts,
    Dimension,
    StatLine,
    booked,
    settled,
    summarise,
)
from smsbilling.logic.charging import Charger
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.logic.statistics import StatisticsRangeError, partner_statistics

from .world import GBP, OP, S1, SHARE, T0, World

DAY = T0.date()


def _entry(message_id: str = "m1", **fields: object) -> ChargeEntry:
    values: dict[str, object] = {
        "message_id": message_id,
        "partner_id": "p1",
        "service_id": "s1",
        "short_number": "4444",
        "operator_id": OP,
        "at_ms": int(T0.timestamp() * 1000),
        "currency": GBP,
        "income": SHARE,
    } | fields
    return ChargeEntry(**values)  # type: ignore[arg-type]


def test_counts_move_as_charges_are_booked_and_settled() -> None:
    assert booked(53, pending=False) == Counts(charged=1, income=53)
    assert booked(53, pending=True) == Counts(pending=1, pending_income=53)
    assert booked(53, pending=True) + settled(53, delivered=True) == Counts(charged=1, income=53)
    assert booked(53, pending=True) + settled(53, delivered=False) == Counts(voided=1)
    assert -Counts(charged=2) == Counts(charged=-2) and Counts().changed() == {}


def test_summarise_groups_by_the_dimensions_asked_and_keeps_currencies_apart() -> None:
    lines = [
        StatLine(DAY, "s1", "4444", OP, GBP, Counts(charged=1, income=53)),
        StatLine(DAY, "s1", "5555", OP, GBP, Counts(charged=2, income=106)),
        StatLine(DAY + timedelta(days=1), "s2", "4444", "op2", GBP, Counts(voided=1)),
        StatLine(DAY, "s1", "4444", OP, "EUR", Counts(charged=1, income=40)),
        StatLine(DAY, "s1", "4444", OP, GBP, Counts(charged=1, income=53)),  # another shard
        StatLine(DAY, "s3", "4444", OP, GBP, Counts()),  # nothing left: dropped
    ]
    by_number = summarise(lines, [Dimension.SHORT_NUMBER])
    assert [(r.short_number, r.currency, r.counts.charged, r.counts.income) for r in by_number] == [
        ("4444", "EUR", 1, 40),
        ("4444", GBP, 2, 106),
        ("5555", GBP, 2, 106),
    ]
    assert all(r.day is None and r.service_id is None for r in by_number)
    everything = summarise(lines, list(Dimension))
    assert len(everything) == 4 and everything[0].day == DAY and everything[-1].operator_id == "op2"
    assert [(r.currency, r.counts) for r in summarise(lines, ())] == [
        ("EUR", Counts(charged=1, income=40)),
        (GBP, Counts(charged=4, income=212, voided=1)),
    ]


def test_the_memory_store_counts_each_message_once() -> None:
    store = MemoryStatisticsStore()
    assert store.booked(_entry(), pending=True) and not store.booked(_entry(), pending=True)
    assert store.settled("m1", delivered=True) and not store.settled("m1", delivered=False)
    assert not store.settled("never-booked", delivered=True)
    [line] = store.lines("p1", DAY, DAY)
    assert line.counts == Counts(charged=1, income=SHARE)
    assert (
        store.lines("p2", DAY, DAY) == [] and store.lines("p1", DAY + timedelta(1), DAY + timedelta(9)) == []
    )


# --- through the charger ------------------------------------------------------------------------------


def test_mo_charges_count_as_income_equal_to_the_ledger(world: World) -> None:
    for i in range(3):
        world.mo(f"ABC {i}", at=T0 + timedelta(hours=i))
    [line] = world.statistics.lines("p1", DAY, DAY)
    earned = world.ledger.balance(acc.partner("p1", Book.EARNED_PENDING)).posted
    assert line.counts == Counts(charged=3, income=3 * SHARE) and earned == 3 * SHARE
    assert (line.service_id, line.short_number, line.operator_id) == ("s1", "4444", OP)


def test_mt_billing_is_pending_until_the_receipt(world: World) -> None:
    world.mt("ok", at=T0, billed=True)
    world.mt("lost", at=T0, billed=True, final=DlrStatus.UNDELIVERED)
    world.mt("waiting", at=T0, billed=True, final=None)
    [line] = world.statistics.lines("p1", DAY, DAY)
    assert line.counts == Counts(charged=1, income=SHARE, pending=1, pending_income=SHARE, voided=1)
    world.charger.confirm_mt("waiting")
    world.charger.confirm_mt("waiting")  # a duplicate receipt: counted once
    world.charger.cancel_mt("lost", "p1")
    [line] = world.statistics.lines("p1", DAY, DAY)
    assert line.counts == Counts(charged=2, income=2 * SHARE, voided=1)
    assert line.counts.income == world.ledger.balance(acc.partner("p1", Book.EARNED_PENDING)).posted


class _FailsOnce(MemoryStatisticsStore):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def booked(self, entry: ChargeEntry, *, pending: bool) -> bool:
        if not self.failed:
            self.failed = True
            raise ConnectionError("counters table unreachable")
        return super().booked(entry, pending=pending)


def test_a_charge_whose_count_failed_is_counted_by_its_retry_and_posted_once(world: World) -> None:
    stats = _FailsOnce()
    charger = Charger(world.ledger, EntityPlanSource(world.entities), world.tally, stats)
    kwargs = {
        "message_id": "retried",
        "service": S1,
        "referrer_id": None,
        "operator_id": OP,
        "short_number": "4444",
        "at_ms": int(T0.timestamp() * 1000),
        "mt_billing": False,
    }
    with pytest.raises(ConnectionError):
        charger.charge(**kwargs)  # type: ignore[arg-type]
    again = charger.charge(**kwargs)  # type: ignore[arg-type]
    assert again.result is not None and again.result.already  # the ledger did not post twice
    charger.charge(**kwargs)  # type: ignore[arg-type]
    [line] = stats.lines("p1", DAY, DAY)
    assert line.counts == Counts(charged=1, income=SHARE)


def test_a_test_mo_is_never_counted(world: World) -> None:
    test_mo = StoredMo(
        message_id="test-mo-1",
        link_id="test-tool",
        operator_id=OP,
        operator_message_id="t1",
        source="447700900000",
        destination="4444",
        text="ABC try",
        state=MoState.RECEIVED,
        received_at=T0,
        is_test=True,
    )
    world.mos.put_if_absent(test_mo)
    event = MoReceived(message_id="test-mo-1", link_id="test-tool", received_at=T0)
    processed = world.processor().process(event, now=T0)
    assert processed.state is MoState.ROUTED and processed.charged_amount is None
    assert world.statistics.lines("p1", DAY, DAY) == []


# --- the report -------------------------------------------------------------------------------------


def test_the_report_filters_days_and_service_and_totals_per_currency(world: World) -> None:
    world.mo("ABC 1", at=T0)
    world.mo("ABC 2", at=T0 + timedelta(days=1))
    world.mo("XYZ 1", at=T0)  # p2's
    report = partner_statistics(
        world.statistics, "p1", first=DAY, last=DAY, group_by=[Dimension.DAY], days_max=10
    )
    assert [(r.day, r.counts.charged) for r in report.rows] == [(DAY, 1)]
    assert report.totals == ((GBP, Counts(charged=1, income=SHARE)),)
    wide = partner_statistics(
        world.statistics,
        "p1",
        first=DAY,
        last=DAY + timedelta(days=3),
        group_by=[],
        days_max=10,
        service_id="s1",
    )
    assert wide.rows[0].counts.charged == 2 and wide.group_by == ()
    none = partner_statistics(
        world.statistics, "p1", first=DAY, last=DAY, group_by=[], days_max=10, service_id="s2"
    )
    assert none.rows == () and none.totals == ()


def test_the_report_refuses_reversed_or_too_long_ranges(world: World) -> None:
    with pytest.raises(StatisticsRangeError, match="before"):
        partner_statistics(
            world.statistics, "p1", first=DAY, last=DAY - timedelta(1), group_by=[], days_max=5
        )
    with pytest.raises(StatisticsRangeError, match="5 days"):
        partner_statistics(
            world.statistics, "p1", first=DAY, last=DAY + timedelta(5), group_by=[], days_max=5
        )
    partner_statistics(world.statistics, "p1", first=DAY, last=DAY + timedelta(4), group_by=[], days_max=5)


def test_a_charge_counts_on_its_own_day_even_when_its_receipt_comes_later() -> None:
    store = MemoryStatisticsStore()
    store.booked(_entry(at_ms=int((T0 - timedelta(hours=13)).timestamp() * 1000)), pending=True)
    store.settled("m1", delivered=True)
    assert [line.day for line in store.lines("p1", date(2026, 11, 1), date(2026, 11, 30))] == [
        date(2026, 11, 21)
    ]
