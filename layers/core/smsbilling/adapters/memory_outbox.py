"""In-memory outbox: the fake of DynamoOutboxStore (same contract tests). Thread-safe."""

from __future__ import annotations

import threading

from smsbilling.domain.outbox import OutboxItem


class MemoryOutboxStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, OutboxItem]] = {}  # system_id -> item_id -> item
        self._leases: dict[tuple[str, str], int] = {}  # (system_id, item_id) -> lease end, ms

    def put(self, item: OutboxItem) -> None:
        with self._lock:
            self._items.setdefault(item.system_id, {}).setdefault(item.item_id, item)

    def lease(self, system_id: str, limit: int, *, now_ms: int, lease_ms: int) -> list[OutboxItem]:
        with self._lock:
            taken: list[OutboxItem] = []
            queue = self._items.get(system_id, {})
            oldest_first = sorted(queue.items(), key=lambda kv: (kv[1].created_at, kv[0]))
            for item_id, item in oldest_first:
                if len(taken) >= limit:
                    break
                if self._leases.get((system_id, item_id), 0) > now_ms:
                    continue
                self._leases[(system_id, item_id)] = now_ms + lease_ms
                leased = item.model_copy(update={"attempts": item.attempts + 1})
                queue[item_id] = leased
                taken.append(leased)
            return taken

    def ack(self, item: OutboxItem) -> None:
        with self._lock:
            self._items.get(item.system_id, {}).pop(item.item_id, None)
            self._leases.pop((item.system_id, item.item_id), None)

    def release(self, item: OutboxItem) -> None:
        with self._lock:
            self._leases.pop((item.system_id, item.item_id), None)

    def pending(self, system_id: str) -> list[OutboxItem]:
        with self._lock:
            return list(self._items.get(system_id, {}).values())
