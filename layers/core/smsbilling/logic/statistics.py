"""Partner statistics: counted where charges are booked (:class:`ChargeStatistics`, logic/charging.py),
read back per day, service, short number and operator (:func:`partner_statistics`).

Why counted at write time: at 1,000 billed messages/s a report over a month cannot re-read the
messages. Each charge adds to one small counter item per (partner, month shard, day, service,
number, operator, currency) in the same step that books it, exactly once (a per-message marker);
a report then reads at most (months x shards) partitions. The layout: adapters/dynamodb_statistics.py;
what each count means: domain/statistics.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from smsbilling.domain.statistics import ChargeEntry, Counts, Dimension, StatLine, StatRow, summarise


class ChargeStatistics(Protocol):
    """Counting charges (idempotent per message): the charger's side."""

    def booked(self, entry: ChargeEntry, *, pending: bool) -> bool:
        """Count a charge (posted, or pending for MT-billing); False if it was counted before."""
        ...

    def settled(self, message_id: str, *, delivered: bool) -> bool:
        """A pending charge was posted (delivered) or voided; False if none was pending."""
        ...


class StatisticsReader(Protocol):
    def lines(self, partner_id: str, first: date, last: date) -> list[StatLine]:
        """The partner's stored lines from ``first`` to ``last`` inclusive (possibly several per key)."""
        ...


class StatisticsRangeError(ValueError):
    """The days asked for are reversed or span more than allowed."""


@dataclass(frozen=True, slots=True)
class StatisticsReport:
    first: date
    last: date
    group_by: tuple[Dimension, ...]
    rows: tuple[StatRow, ...]
    totals: tuple[tuple[str, Counts], ...]
    """Per currency, over every row."""


def partner_statistics(
    reader: StatisticsReader,
    partner_id: str,
    *,
    first: date,
    last: date,
    group_by: Iterable[Dimension],
    service_id: str | None = None,
    days_max: int,
) -> StatisticsReport:
    if last < first:
        raise StatisticsRangeError("'to' is before 'from'")
    if last - first >= timedelta(days=days_max):
        raise StatisticsRangeError(f"at most {days_max} days at once")
    dims = tuple(dict.fromkeys(group_by))
    lines = [
        line
        for line in reader.lines(partner_id, first, last)
        if first <= line.day <= last and (service_id is None or line.service_id == service_id)
    ]
    totals = summarise(lines, ())
    return StatisticsReport(
        first=first,
        last=last,
        group_by=dims,
        rows=tuple(summarise(lines, dims)),
        totals=tuple((row.currency, row.counts) for row in totals),
    )
