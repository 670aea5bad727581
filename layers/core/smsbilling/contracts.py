"""Queue message contracts shared by producers and consumers.

Every message carries ``schema_version`` and ``message_id``; consumers correlate by message id,
never by a protocol sequence number. Events are named in the past tense. A consumer that meets a
``schema_version`` it does not know fails the record (it goes back to the queue and, after the
redrive limit, to the DLQ with the body intact) rather than guessing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoReceived(Contract):
    """An MO message was accepted from an operator link and stored as ``received``."""

    kind: Literal["mo.received"] = "mo.received"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    link_id: str = Field(min_length=1, max_length=64)
    received_at: datetime


class SendMt(Contract):
    """Command: send an MT on behalf of a tenant (a partner's SMPP submit, API send, or reply).

    Carries the message as submitted (data coding and raw bytes, hex-encoded); the MT processor
    decodes, checks, prices and routes it.
    """

    kind: Literal["mt.send"] = "mt.send"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=64, description="partner id")
    channel: str = Field(min_length=1, max_length=80, description="how it arrived, e.g. smpp:<system_id>")
    source: str = Field(max_length=64)
    source_ton: int = Field(ge=0, le=255)
    source_npi: int = Field(ge=0, le=255)
    destination: str = Field(min_length=1, max_length=64)
    esm_class: int = Field(ge=0, le=255)
    data_coding: int = Field(ge=0, le=255)
    registered_delivery: int = Field(ge=0, le=255)
    short_message_hex: str = Field(max_length=2 * 65536, pattern=r"^([0-9a-f]{2})*$")
    received_at: datetime
