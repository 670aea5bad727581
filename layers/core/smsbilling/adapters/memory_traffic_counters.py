"""In-memory traffic counters: the fake of adapters/dynamodb_traffic_counters.py (same contract tests).

Counted once per message id *and counter*: a message's ids are remembered with the counters it
added to, so a redelivery adds nothing, and a second control counting other counters for the same
message still adds to those (docs/traffic/fraud-limits.md). Windows never expire here; each window
start is its own counter, as in the table.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from smsbilling.domain.traffic import window_start
from smsbilling.logic.traffic_control import CounterHit, counter_ids


class MemoryTrafficCounters:
    def __init__(self) -> None:
        self.totals_by_window: dict[tuple[str, int], int] = {}  # (window:key, window start) -> total
        self.counted: dict[str, set[str]] = {}  # message id -> the counters it added to
        self._lock = threading.Lock()

    def count(self, message_id: str, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        ids = counter_ids(hits)
        with self._lock:
            seen = self.counted.setdefault(message_id, set())
            for hit, ident in zip(hits, ids, strict=True):
                if ident in seen:
                    continue
                seen.add(ident)
                slot = (ident, window_start(hit.window, at_s))
                self.totals_by_window[slot] = self.totals_by_window.get(slot, 0) + hit.amount
            return self._totals(hits, ids, at_s)

    def totals(self, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        ids = counter_ids(hits)
        with self._lock:
            return self._totals(hits, ids, at_s)

    def _totals(self, hits: Sequence[CounterHit], ids: list[str], at_s: int) -> list[int]:
        return [
            self.totals_by_window.get((ident, window_start(hit.window, at_s)), 0)
            for hit, ident in zip(hits, ids, strict=True)
        ]
