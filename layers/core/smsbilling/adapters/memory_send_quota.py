"""In-memory message quota: the fake of adapters/dynamodb_send_quota.py (same contract tests)."""

from __future__ import annotations

import threading

from smsbilling.logic.send_limits import QuotaRefused


class MemorySendQuota:
    def __init__(self) -> None:
        self.seconds: dict[tuple[str, int], int] = {}
        self.minutes: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(
        self, key: str, count: int, at_s: int, *, per_s_max: int, per_min_max: int
    ) -> QuotaRefused | None:
        second, minute = (key, at_s), (key, at_s - at_s % 60)
        with self._lock:
            if self.minutes.get(minute, 0) + count > per_min_max:
                return QuotaRefused("minute")
            if self.seconds.get(second, 0) + count > per_s_max:
                return QuotaRefused("second")
            self.seconds[second] = self.seconds.get(second, 0) + count
            self.minutes[minute] = self.minutes.get(minute, 0) + count
            return None

    def give_back(self, key: str, count: int, at_s: int) -> None:
        second, minute = (key, at_s), (key, at_s - at_s % 60)
        with self._lock:
            if second in self.seconds:
                self.seconds[second] = max(0, self.seconds[second] - count)
            if minute in self.minutes:
                self.minutes[minute] = max(0, self.minutes[minute] - count)

    def used(self, key: str, at_s: int) -> tuple[int, int]:
        """(this second's, this minute's) messages of ``key`` (tests)."""
        with self._lock:
            return self.seconds.get((key, at_s), 0), self.minutes.get((key, at_s - at_s % 60), 0)
