"""In-memory MT store: the fake of :class:`~smsbilling.adapters.dynamodb_mt.DynamoMtStore`.

Same contract (``tests/contract/test_mt_store_contract.py``), thread-safe, no TTL (nothing expires).
"""

from __future__ import annotations

import threading

from smsbilling.ports import Correlation, MtRecord, WaitingReceipt


class MemoryMtStore:
    def __init__(self) -> None:
        self.records: dict[str, MtRecord] = {}
        self.correlations: dict[tuple[str, str], Correlation] = {}
        self._lock = threading.Lock()

    def create(self, record: MtRecord) -> MtRecord:
        if record.version != 0:
            raise ValueError("a new MT record has version 0")
        with self._lock:
            return self.records.setdefault(record.message_id, record)

    def get(self, message_id: str) -> MtRecord | None:
        with self._lock:
            return self.records.get(message_id)

    def replace(self, record: MtRecord) -> bool:
        with self._lock:
            stored = self.records.get(record.message_id)
            if stored is None or stored.version != record.version - 1:
                return False
            self.records[record.message_id] = record
            return True

    def link(
        self, link_id: str, key: str, message_id: str, part_index: int, *, expires_at_s: int
    ) -> Correlation:
        with self._lock:
            item = self.correlations.get((link_id, key)) or Correlation(link_id=link_id, key=key)
            if item.message_id is None:
                item = item.model_copy(update={"message_id": message_id, "part_index": part_index})
                self.correlations[(link_id, key)] = item
            return item

    def add_receipt(
        self, link_id: str, key: str, receipt: WaitingReceipt, *, expires_at_s: int, receipts_max: int
    ) -> Correlation | None:
        with self._lock:
            item = self.correlations.get((link_id, key)) or Correlation(link_id=link_id, key=key)
            if any(kept.receipt_id == receipt.receipt_id for kept in item.receipts):
                return item
            if len(item.receipts) >= receipts_max:
                return item if item.message_id is not None else None
            item = item.model_copy(update={"receipts": (*item.receipts, receipt)})
            self.correlations[(link_id, key)] = item
            return item

    def correlation(self, link_id: str, key: str) -> Correlation | None:
        with self._lock:
            return self.correlations.get((link_id, key))

    def expired(self, now_ms: int, limit: int) -> list[str]:
        with self._lock:
            due = [r.mt for r in self.records.values() if not r.mt.is_final and r.mt.expires_at_ms <= now_ms]
        due.sort(key=lambda mt: (mt.expires_at_ms, mt.message_id))
        return [mt.message_id for mt in due[:limit]]
