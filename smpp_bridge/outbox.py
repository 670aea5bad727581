"""Delivering a partner's outbox as ``deliver_sm`` while it is bound (MOs and delivery receipts).

One pump per bound RX/TRX connection of a partner account: it leases as many items as the
session's window has room for, sends them, and on each ``deliver_sm_resp`` acknowledges (OK) or
releases (any error, timeout, or the connection dropping) the item. Several binds of one partner,
on one bridge or several, share the outbox through the store's leases. ``Outbox`` is what
producers in this process call (and tests); Lambdas write the same store directly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from smpp_bridge.smpp import DeliverSm
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD, MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from smsbilling.domain.dlr import MESSAGE_STATE_FOR, DlrStatus, format_receipt, partner_receipt
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.ports import OutboxStore

SHORT_MESSAGE_OCTETS_MAX = 254  # longer content goes in message_payload
ESM_CLASS_RECEIPT = 0x04
TON_INTERNATIONAL, TON_NETWORK_SPECIFIC, TON_ALPHANUMERIC, NPI_E164 = 1, 3, 5, 1
SHORT_CODE_DIGITS_MAX = 6  # as smsbilling.domain.msisdn treats bare digits


def address_fields(value: str) -> tuple[int, int, str]:
    if value.isdigit() and len(value) <= SHORT_CODE_DIGITS_MAX:
        return TON_NETWORK_SPECIFIC, 0, value  # a short number, not an E.164 MSISDN
    if value.isdigit():
        return TON_INTERNATIONAL, NPI_E164, value
    return TON_ALPHANUMERIC, 0, value


def deliver_sm_for(item: OutboxItem, *, now: datetime) -> DeliverSm:
    """The ``deliver_sm`` that carries an outbox item (sequence number set by the session)."""
    src_ton, src_npi, source = address_fields(item.source)
    dst_ton, dst_npi, destination = address_fields(item.destination)
    if item.kind is OutboxKind.RECEIPT:
        status = item.receipt_status or DlrStatus.UNKNOWN
        receipt = partner_receipt(item.message_id, status, submitted_at=item.submitted_at or now, done_at=now)
        return DeliverSm(
            source_addr_ton=src_ton, source_addr_npi=src_npi, source_addr=source,
            dest_addr_ton=dst_ton, dest_addr_npi=dst_npi, destination_addr=destination,
            esm_class=ESM_CLASS_RECEIPT,
            short_message=format_receipt(receipt).encode("ascii"),
            tlvs=(RECEIPTED_MESSAGE_ID(item.message_id), MESSAGE_STATE(MESSAGE_STATE_FOR[status])),
        )  # fmt: skip
    payload = item.short_message
    in_body = len(payload) <= SHORT_MESSAGE_OCTETS_MAX
    return DeliverSm(
        source_addr_ton=src_ton, source_addr_npi=src_npi, source_addr=source,
        dest_addr_ton=dst_ton, dest_addr_npi=dst_npi, destination_addr=destination,
        data_coding=item.data_coding,
        short_message=payload if in_body else b"",
        tlvs=() if in_body else (MESSAGE_PAYLOAD(payload),),
    )  # fmt: skip


class Outbox:
    """Producers' side in this process: store an item, wake the pumps of that account."""

    def __init__(self, store: OutboxStore, wake: Callable[[str], None]) -> None:
        self.store = store
        self._wake = wake

    async def put(self, item: OutboxItem) -> None:
        await asyncio.to_thread(self.store.put, item)
        self._wake(item.system_id)

    async def put_mo(
        self, system_id: str, source: str, destination: str, short_message: bytes, data_coding: int = 0
    ) -> OutboxItem:
        message_id = uuid.uuid4().hex
        item = OutboxItem(
            item_id=f"mo-{message_id}", message_id=message_id, system_id=system_id, kind=OutboxKind.MO,
            created_at=datetime.now(UTC), source=source, destination=destination,
            data_coding=data_coding, short_message_hex=short_message.hex(),
        )  # fmt: skip
        await self.put(item)
        return item

    async def put_receipt(
        self,
        system_id: str,
        message_id: str,
        status: DlrStatus,
        *,
        source: str = "",
        destination: str = "",
        submitted_at: datetime | None = None,
    ) -> OutboxItem:
        """A receipt for the partner's message ``message_id`` (source/destination as it submitted them)."""
        item = OutboxItem(
            item_id=f"dlr-{message_id}-{status.value}", message_id=message_id, system_id=system_id,
            kind=OutboxKind.RECEIPT, created_at=datetime.now(UTC),
            source=destination, destination=source, receipt_status=status, submitted_at=submitted_at,
        )  # fmt: skip
        await self.put(item)
        return item
