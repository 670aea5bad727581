"""Waiting, in integer milliseconds, so the ledger adapters never hold a float (time needs one)."""

from __future__ import annotations

import random
import time


def sleep_ms(ms: int) -> None:
    time.sleep(ms / 1000)


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def jitter_ms(ceiling_ms: int) -> int:
    """A random wait in ``0..ceiling_ms`` (full-jitter backoff)."""
    return random.randint(0, max(0, ceiling_ms))
