"""Inbound (MO) messages as the platform first sees them, before routing and billing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class MoState(StrEnum):
    RECEIVED = "received"  # stored and queued; nothing else has happened yet
    ACCEPTED = "accepted"  # picked up by the MO processor


class InboundMo(BaseModel):
    """An MO as submitted by an operator link over HTTP (the input form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator_message_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32, description="subscriber MSISDN")
    destination: str = Field(min_length=1, max_length=32, description="short number")
    text: str = Field(max_length=2000)


class StoredMo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str
    link_id: str
    operator_id: str
    operator_message_id: str
    source: str
    destination: str
    text: str
    state: MoState
    received_at: datetime
