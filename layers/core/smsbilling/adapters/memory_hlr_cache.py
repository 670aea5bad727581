"""In-memory HLR cache: the fake of adapters/dynamodb_hlr_cache.py (same contract tests)."""

from __future__ import annotations

import threading

from smsbilling.logic.hlr import HlrResult


class MemoryHlrCache:
    def __init__(self) -> None:
        self.items: dict[str, tuple[int, HlrResult]] = {}  # msisdn -> (expires_at, result)
        self._lock = threading.Lock()

    def get(self, msisdn: str, *, now_s: int) -> HlrResult | None:
        with self._lock:
            kept = self.items.get(msisdn)
        if kept is None or kept[0] <= now_s:
            return None
        return kept[1]

    def put(self, msisdn: str, result: HlrResult, *, now_s: int, ttl_s: int) -> None:
        with self._lock:
            self.items[msisdn] = (now_s + ttl_s, result)
