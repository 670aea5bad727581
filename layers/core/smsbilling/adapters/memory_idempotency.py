"""In-memory idempotency store: the fake of adapters/dynamodb_idempotency.py (same contract tests)."""

from __future__ import annotations

import threading
from datetime import datetime

from smsbilling.logic.idempotency import IdempotencyRecord, StoredResponse


class MemoryIdempotencyStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        with self._lock:
            existing = self.records.get((record.scope, record.key_hash))
            if existing is not None and existing.blocks(now):
                return existing
            self.records[(record.scope, record.key_hash)] = record
            return None

    def complete(
        self, scope: str, key_hash: str, token: str, response: StoredResponse, expires_at: datetime
    ) -> bool:
        with self._lock:
            existing = self.records.get((scope, key_hash))
            if existing is None or existing.token != token or existing.response is not None:
                return False
            self.records[(scope, key_hash)] = existing.model_copy(
                update={"response": response, "expires_at": expires_at}
            )
            return True

    def release(self, scope: str, key_hash: str, token: str) -> None:
        with self._lock:
            existing = self.records.get((scope, key_hash))
            if existing is not None and existing.token == token and existing.response is None:
                del self.records[(scope, key_hash)]

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None:
        with self._lock:
            return self.records.get((scope, key_hash))
