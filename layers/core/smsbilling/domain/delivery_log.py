"""What partner delivery remembers about one MO: its outcome, and the one reply requested for it.

Two records beside the MO (``MSG#<mo id>``), each its own item so that neither the MO processor's
whole-item writes of the MO nor the strict MO model ever meet them:

* :class:`DeliveryRecord` (``sk = DELIVERY``): the outcome so far. A settled one (delivered, or
  queued for SMPP) is never replaced, so a redelivered ``MoRouted`` finds it and calls no one. A
  dead one is final too but not settled: staff redrive the command from the DLQ once the cause
  is fixed, and the redriven command is tried again.
* :class:`ReplyRecord` (``sk = REPLY``): the reply MT requested for the MO, first writer wins. The
  sync handler's answer and the partner API's async reply both claim it, so an MO gets at most one
  reply, and a repeat (a redelivery, an API retry) re-sends exactly the same ``MtRequested``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from smsbilling.domain.ids import derived_id

REASON_CHARS_MAX = 200


def reply_mt_id(mo_id: str) -> str:
    """The id of the reply MT to an MO: the same for the sync answer and the API's async reply."""
    return derived_id("mt", mo_id, "reply")


class DeliveryState(StrEnum):
    CALLING = "calling"  # an attempt holds the handler until ``lease_until``: no other may call it
    RETRYING = "retrying"  # an attempt failed and the next one is scheduled
    DELIVERED = "delivered"  # the handler took it (and its reply, if any, is requested)
    QUEUED = "queued"  # in the partner's SMPP outbox: the bridge delivers it
    DEAD = "dead"  # given up, the reason kept here and on the DLQ message

    @property
    def is_final(self) -> bool:
        return self not in (DeliveryState.CALLING, DeliveryState.RETRYING)

    @property
    def is_settled(self) -> bool:
        """The MO reached the partner (or its outbox): nothing may call the handler again."""
        return self in (DeliveryState.DELIVERED, DeliveryState.QUEUED)


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=64, description="the MO's id")
    state: DeliveryState
    attempts: int = Field(ge=1, description="attempts made so far")
    reason: str = Field(default="", max_length=REASON_CHARS_MAX)
    http_status: int | None = Field(default=None, ge=100, le=599)
    reply_mt_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime
    lease_until: datetime | None = Field(default=None, description="CALLING: until when the call holds")


class ReplyRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=64, description="the MO's id")
    mt_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)
    billed: bool
    origin: Literal["handler", "api"]
    requested_at: AwareDatetime
