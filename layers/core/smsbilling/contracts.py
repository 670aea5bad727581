"""Queue message contracts shared by producers and consumers.

Every message carries ``schema_version`` and ``message_id``; consumers correlate by message id,
never by a protocol sequence number. Events are named in the past tense. A consumer that meets a
``schema_version`` it does not know fails the record (it goes back to the queue and, after the
redrive limit, to the DLQ with the body intact) rather than guessing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.dlr import DlrStatus


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


# --- the premium loop (docs/adr/0004-premium-loop.md) ---------------------------------------------


class MtPurpose(StrEnum):
    REPLY = "reply"  # a partner's answer to an MO (sync body, async API call, GET body)
    DEFAULT_REPLY = "default_reply"  # the operator's answer to an unknown prefix; never billed
    SUBSCRIPTION = "subscription"  # a periodic billed MT of an MT-subscription
    NOTICE = "notice"  # subscribed / unsubscribed confirmations; never billed
    OTP = "otp"  # the "password by SMS" ready service
    API = "api"  # a partner's send through the API (bulk and single)


class MoRouted(Contract):
    """Command to the partner-delivery consumer: deliver the routed MO to its service's handler.

    The MO itself (text, msisdn, service) is read from the messages table by ``message_id``;
    ``attempt`` counts deliveries (1 = first). A retry is this command again, sent with a delay.
    """

    kind: Literal["mo.routed"] = "mo.routed"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    service_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(default=1, ge=1, le=100)


class MtRequested(Contract):
    """Command to the MT processor: send ``text`` to a subscriber (the platform encodes and splits).

    ``message_id`` is derived from the business key (e.g. the MO id and "reply"), so a redelivered
    command creates one MT. ``billed`` marks the billed MT of an MT-billed short number or of a
    subscription: its charge is pending until the DLR says delivered.
    """

    kind: Literal["mt.requested"] = "mt.requested"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    purpose: MtPurpose
    partner_id: str | None = Field(default=None, max_length=64, description="None: the platform's own")
    service_id: str | None = Field(default=None, max_length=64)
    in_reply_to: str | None = Field(default=None, max_length=64, description="the MO's id")
    operator_id: str = Field(min_length=1, max_length=64)
    link_id: str | None = Field(default=None, max_length=64, description="preferred link (the MO's)")
    source: str = Field(min_length=1, max_length=32, description="short number or sender")
    destination: str = Field(min_length=1, max_length=32, description="E.164 digits, no '+'")
    text: str = Field(min_length=1, max_length=2000)
    billed: bool = False
    requested_at: datetime
    repeat_ok: bool = Field(default=False, description="the partner marked a legitimate repeat (duplicates)")


class OutboundSubmit(Contract):
    """Command to the bridge (outbound queue): submit one part of an MT on an SMPP operator link."""

    kind: Literal["mt.submit"] = "mt.submit"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64, description="the MT's id")
    part_index: int = Field(ge=0, le=254)
    link_id: str = Field(min_length=1, max_length=64)
    source: str = Field(max_length=21)
    source_ton: int = Field(ge=0, le=255)
    source_npi: int = Field(ge=0, le=255)
    destination: str = Field(min_length=1, max_length=21)
    esm_class: int = Field(ge=0, le=255)
    data_coding: int = Field(ge=0, le=255)
    registered_delivery: int = Field(ge=0, le=255)
    short_message_hex: str = Field(max_length=2 * 255, pattern=r"^([0-9a-f]{2})*$")


class SubmitResult(Contract):
    """Event (DLR queue): an operator link answered the submit of one MT part (or could not be reached).

    ``operator_message_id`` is set when accepted. Refused: ``error`` says why (e.g. ``smpp:0x58``,
    ``http:400``); ``permanent`` False means the sender will try again, so the MT stays ``sent``.
    """

    kind: Literal["mt.submit_result"] = "mt.submit_result"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    part_index: int = Field(ge=0, le=254)
    link_id: str = Field(min_length=1, max_length=64)
    accepted: bool
    operator_message_id: str | None = Field(default=None, max_length=64)
    error: str = Field(default="", max_length=200)
    permanent: bool = True
    at: datetime


class DlrReceived(Contract):
    """Event (DLR queue): an operator link reported a delivery receipt for an operator message id."""

    kind: Literal["dlr.received"] = "dlr.received"
    schema_version: Literal[1] = 1
    receipt_id: str = Field(min_length=1, max_length=64, description="derived: link + operator id + status")
    link_id: str = Field(min_length=1, max_length=64)
    operator_message_id: str = Field(min_length=1, max_length=64)
    status: DlrStatus
    error_code: str = Field(default="", max_length=16)
    received_at: datetime


class NotifyMtStatus(Contract):
    """Command (DLR queue): settle a final MT and tell its partner: attempt ``attempt`` of the callback.

    Sent by the MT processor (attempt 1) for an MT refused before it was sent, and by the MT-events
    processor, with a delay, to try a failed status callback again. The MT record counts attempts,
    so a repeated command with a number already tried does nothing.
    """

    kind: Literal["mt.notify"] = "mt.notify"
    schema_version: Literal[1] = 1
    message_id: str = Field(min_length=1, max_length=64)
    attempt: int = Field(ge=1, le=50)


MtEvent = Annotated[SubmitResult | DlrReceived | NotifyMtStatus, Field(discriminator="kind")]
"""What the DLR queue carries: the MT-events processor handles all three."""
