"""In-memory OTP store and send limiter: the fakes of adapters/dynamodb_otp.py (same contract tests)."""

from __future__ import annotations

from datetime import datetime

from smsbilling.logic.otp import OtpRecord, OtpState


class MemoryOtpStore:
    def __init__(self) -> None:
        self.records: dict[str, OtpRecord] = {}

    def create(self, record: OtpRecord) -> OtpRecord | None:
        if record.otp_id in self.records:
            return self.records[record.otp_id]
        self.records[record.otp_id] = record
        return None

    def get(self, otp_id: str) -> OtpRecord | None:
        return self.records.get(otp_id)

    def take_attempt(self, otp_id: str, now: datetime) -> OtpRecord | None:
        record = self.records.get(otp_id)
        if record is None or record.state is not OtpState.PENDING:
            return None
        if record.attempts_left <= 0 or record.expires_at <= now:
            return None
        self.records[otp_id] = record.model_copy(update={"attempts_left": record.attempts_left - 1})
        return record

    def mark_used(self, otp_id: str) -> bool:
        record = self.records.get(otp_id)
        if record is None or record.state is not OtpState.PENDING:
            return False
        self.records[otp_id] = record.model_copy(update={"state": OtpState.USED})
        return True

    def delete(self, otp_id: str) -> None:
        self.records.pop(otp_id, None)


class MemorySendLimiter:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, datetime], int] = {}

    def try_count(self, key: str, *, window_start: datetime, window_s: int, limit: int) -> bool:
        del window_s  # the fake never expires windows; each window has its own count
        counted = self.counts.get((key, window_start), 0)
        if counted >= limit:
            return False
        self.counts[(key, window_start)] = counted + 1
        return True
