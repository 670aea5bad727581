"""In-memory rate counter: the fake of adapters/dynamodb_rate_counter.py (same contract tests)."""

from __future__ import annotations

import threading

from smsbilling.logic.rate_limits import WindowCounts


class MemoryRateCounter:
    def __init__(self) -> None:
        self.seconds: dict[tuple[str, int], int] = {}
        self.minutes: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, at_s: int) -> WindowCounts:
        minute = at_s - at_s % 60
        with self._lock:  # the fake never expires windows; each window has its own count
            self.seconds[(key, at_s)] = self.seconds.get((key, at_s), 0) + 1
            self.minutes[(key, minute)] = self.minutes.get((key, minute), 0) + 1
            return WindowCounts(second=self.seconds[(key, at_s)], minute=self.minutes[(key, minute)])
