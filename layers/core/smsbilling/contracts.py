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
