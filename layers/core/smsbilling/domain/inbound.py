"""Inbound (MO) messages as the platform first sees them, before routing and billing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import BillingModel


class MoState(StrEnum):
    RECEIVED = "received"  # stored and queued; nothing else has happened yet
    ACCEPTED = "accepted"  # picked up by the MO processor (kept for records written before routing)
    PART = "part"  # one part of a long message, waiting for the others (the whole goes on alone)
    HELD = "held"  # routed, then held by traffic control for an admin (not final: released or rejected)
    ROUTED = "routed"  # a service was found; billed by its model and handed to partner delivery
    UNROUTED = "unrouted"  # no active service for the prefix: default reply, never billed
    BLACKLISTED = "blacklisted"  # the subscriber is blacklisted: dropped, never billed
    REJECTED = "rejected"  # undecodable or invalid: nothing billed, reason stored

    @property
    def is_final(self) -> bool:
        return self not in (MoState.RECEIVED, MoState.ACCEPTED, MoState.HELD)

    @property
    def is_decided(self) -> bool:
        """Final, or held for an admin: what the processor stores as its decision (and lists)."""
        return self.is_final or self is MoState.HELD


class InboundMo(BaseModel):
    """An MO as an operator link hands it over (HTTP JSON, Kannel's get-url form, or the bridge).

    Either ``text`` (already decoded) or ``payload_hex`` (the raw short message, decoded by the MO
    processor by ``data_coding``). One part of a long message carries its concatenation either in
    ``udh_hex`` (the user data header, its length octet included) or
    in the SAR fields; the MO processor reassembles the parts in any order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator_message_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32, description="subscriber MSISDN")
    destination: str = Field(min_length=1, max_length=32, description="short number")
    text: str = Field(default="", max_length=2000)
    data_coding: int | None = Field(default=None, ge=0, le=255, description="SMPP data_coding of payload")
    payload_hex: str | None = Field(default=None, max_length=2 * 1400, pattern=r"^([0-9a-fA-F]{2})*$")
    udh_hex: str | None = Field(default=None, max_length=2 * 140, pattern=r"^([0-9a-fA-F]{2})*$")
    sar_ref: int | None = Field(default=None, ge=0, le=65535)
    sar_total: int | None = Field(default=None, ge=1, le=255)
    sar_seq: int | None = Field(default=None, ge=1, le=255)


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
    # As received (InboundMo), for the MO processor to decode and reassemble.
    data_coding: int | None = None
    payload_hex: str | None = None
    udh_hex: str | None = None
    sar_ref: int | None = None
    sar_total: int | None = None
    sar_seq: int | None = None
    # Set by the MO processor when it decides (state ROUTED / UNROUTED / BLACKLISTED / REJECTED).
    msisdn: str | None = Field(default=None, description="the subscriber, E.164 digits without '+'")
    full_text: str | None = Field(default=None, description="decoded and reassembled")
    short_number: str | None = None
    prefix: str | None = Field(default=None, description="the keyword as the subscriber wrote it")
    service_id: str | None = None
    partner_id: str | None = None
    billing_model: BillingModel | None = None
    charged_amount: int | None = Field(default=None, description="minor units; None: not charged")
    currency: str | None = None
    reason: str = ""
    is_test: bool = False
    # Traffic control (domain/traffic.py): the risk score and the findings' labels, when checked.
    risk_score: int | None = Field(default=None, ge=0, le=100)
    controls: tuple[str, ...] = ()
