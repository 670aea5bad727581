"""A token bucket with time passed in (pure, so rate tests need no sleeping)."""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate_per_s: float, burst: float, now: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self._rate = rate_per_s
        self._burst = burst
        self._tokens = burst
        self._last = now

    def take(self, now: float) -> bool:
        """Take one token if there is one; the caller refuses the request otherwise."""
        elapsed = max(0.0, now - self._last)  # a clock stepping back never adds tokens
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._last = max(self._last, now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
