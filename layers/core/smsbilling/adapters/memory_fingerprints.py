"""In-memory fingerprint claims: the fake of adapters/dynamodb_fingerprints.py (same contract tests)."""

from __future__ import annotations

import threading

from smsbilling.logic.duplicates import Claim


class MemoryFingerprintStore:
    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}  # expired claims stay until replaced, as TTL deletion lags
        self._lock = threading.Lock()

    def claim(self, key: str, message_id: str, *, now_s: int, expires_at_s: int) -> Claim:
        with self._lock:
            current = self.claims.get(key)
            if current is not None and current.expires_at_s > now_s:
                return current
            mine = Claim(message_id=message_id, at_s=now_s, expires_at_s=expires_at_s)
            self.claims[key] = mine
            return mine
