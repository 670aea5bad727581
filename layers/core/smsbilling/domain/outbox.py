"""The per-partner outbox: messages waiting for a partner's SMPP bind (MOs and delivery receipts).

Whoever produces a message for an SMPP partner (partner delivery, the DLR processor) puts an item
here; the bridge delivers items as ``deliver_sm`` while the partner is bound and leaves them while
it is offline. An item is leased while in flight, deleted on ``deliver_sm_resp`` OK, and released
for another try otherwise, so a dropped connection loses nothing (it may deliver twice: SMPP cannot
tell a lost response from a lost request, and the bridge counts such possible duplicates).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.dlr import DlrStatus


class OutboxKind(StrEnum):
    MO = "mo"
    RECEIPT = "receipt"


class OutboxItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str = Field(min_length=1, max_length=96, description="unique per item (idempotency key)")
    message_id: str = Field(
        min_length=1, max_length=64, description="the MO's id, or the MT a receipt is for"
    )
    system_id: str = Field(min_length=1, max_length=15)
    kind: OutboxKind
    created_at: datetime
    source: str = Field(default="", max_length=21)
    destination: str = Field(default="", max_length=21)
    data_coding: int = Field(default=0, ge=0, le=255)
    short_message_hex: str = Field(default="", max_length=2 * 65535, pattern=r"^([0-9a-f]{2})*$")
    receipt_status: DlrStatus | None = None
    submitted_at: datetime | None = None
    attempts: int = Field(default=0, ge=0)

    @property
    def short_message(self) -> bytes:
        return bytes.fromhex(self.short_message_hex)
