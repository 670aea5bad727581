"""In-memory fakes of partner delivery's log and dead-letter sink (same contract tests as the real ones)."""

from __future__ import annotations

import threading
from datetime import datetime

from smsbilling.contracts import MoRouted
from smsbilling.domain.delivery_log import DeliveryRecord, ReplyRecord


class MemoryDeliveryLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, DeliveryRecord] = {}
        self.replies: dict[str, ReplyRecord] = {}

    def get(self, message_id: str) -> DeliveryRecord | None:
        return self.records.get(message_id)

    def record(self, record: DeliveryRecord) -> bool:
        with self._lock:
            current = self.records.get(record.message_id)
            if current is not None and current.state.is_settled:
                return False
            self.records[record.message_id] = record
            return True

    def claim_call(self, record: DeliveryRecord, *, now: datetime) -> bool:
        with self._lock:
            current = self.records.get(record.message_id)
            if current is not None and (
                current.state.is_settled or (current.lease_until is not None and current.lease_until > now)
            ):
                return False
            self.records[record.message_id] = record
            return True

    def claim_reply(self, reply: ReplyRecord) -> ReplyRecord:
        with self._lock:
            return self.replies.setdefault(reply.message_id, reply)


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[MoRouted, str, str]] = []

    def dead_letter(self, command: MoRouted, reason: str, detail: str) -> None:
        self.sent.append((command, reason, detail))
