"""In-memory fake of the partner statistics (passes tests/contract/test_statistics_contract.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date

from smsbilling.domain.statistics import ChargeEntry, Counts, StatLine, booked, settled


@dataclass(frozen=True, slots=True)
class _Marker:
    entry: ChargeEntry
    state: str  # pending / posted / voided


class MemoryStatisticsStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.markers: dict[str, _Marker] = {}
        self._lines: dict[tuple[str, date, str, str, str, str], Counts] = {}

    def _add(self, entry: ChargeEntry, delta: Counts) -> None:
        e = entry
        key = (e.partner_id, e.day, e.service_id, e.short_number, e.operator_id, e.currency)
        self._lines[key] = self._lines.get(key, Counts()) + delta

    def booked(self, entry: ChargeEntry, *, pending: bool) -> bool:
        with self._lock:
            if entry.message_id in self.markers:
                return False
            self.markers[entry.message_id] = _Marker(entry, "pending" if pending else "posted")
            self._add(entry, booked(entry.income, pending=pending))
            return True

    def settled(self, message_id: str, *, delivered: bool) -> bool:
        with self._lock:
            marker = self.markers.get(message_id)
            if marker is None or marker.state != "pending":
                return False
            self.markers[message_id] = replace(marker, state="posted" if delivered else "voided")
            self._add(marker.entry, settled(marker.entry.income, delivered=delivered))
            return True

    def lines(self, partner_id: str, first: date, last: date) -> list[StatLine]:
        with self._lock:
            return [
                StatLine(day, service_id, number, operator_id, currency, counts)
                for (owner, day, service_id, number, operator_id, currency), counts in self._lines.items()
                if owner == partner_id and first <= day <= last
            ]
