"""``deliver_sm`` / ``data_sm`` from an operator SMSC: receipts to the DLR queue, MOs to intake.

The SMSC gets ``deliver_sm_resp`` OK only after this returns (``client.py``), i.e. after:

* a **receipt** (``esm_class`` receipt/ack/notification type, or a ``receipted_message_id``
  TLV): read by :func:`~smsbilling.domain.dlr.smpp_report` (TLVs win over the text) and
  published as ``DlrReceived`` on the DLR queue. Its ``receipt_id`` is derived from (link,
  operator id, status), so a redelivered receipt is the same event. A receipt that names no
  message or no state is acknowledged and counted (``receipts_unreadable``): a redelivery would
  not make it readable.
* an **MO**: stored and queued by :func:`smsbilling.logic.mo_intake.accept_mo` as an
  ``InboundMo`` with the raw payload (``payload_hex`` without the UDH, ``data_coding``) and its
  concatenation (``udh_hex`` or the SAR TLVs); the MO processor decodes and reassembles.

Anything that fails on the way raises, and the SMSC is answered ``ESME_RX_T_APPN``: it keeps the
message and delivers it again. A message that can never be taken (a malformed UDH, a payload over
the platform's limit, no source address) raises :class:`DeliverRefused` with
``ESME_RX_P_APPN``, so the SMSC stops offering it; the reason is logged.

MO identity. SMPP gives an MO no message id, yet intake is idempotent on (link, operator message
id) and a redelivered MO must not be charged twice. The id used is a digest of everything the
SMSC sent (addresses, esm_class, protocol_id, data_coding, payload, concatenation and port TLVs,
``user_message_reference``) plus the ``mo_redelivery_window_s`` period it arrived in; when the
same digest is already stored for the previous period, that id is reused. So a redelivery within
one window is the same MO, and the cost is stated plainly: a subscriber sending the *identical*
message twice within that window is counted once (never charged twice).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from smpp_bridge.batching import Batcher
from smpp_bridge.client import DeliverRefused, OnDeliver
from smpp_bridge.smpp import DataSm, DeliverSm
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import (
    DESTINATION_PORT,
    MESSAGE_PAYLOAD,
    MESSAGE_STATE,
    RECEIPTED_MESSAGE_ID,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
    SOURCE_PORT,
    USER_MESSAGE_REFERENCE,
)
from smsbilling.contracts import DlrReceived
from smsbilling.domain.concat import split_udh
from smsbilling.domain.dlr import DlrError, smpp_report
from smsbilling.domain.entities import OperatorLink
from smsbilling.domain.ids import derived_id, inbound_message_id
from smsbilling.domain.inbound import InboundMo
from smsbilling.domain.text import TextError
from smsbilling.logic.mo_intake import EventPublisher, InboundStore, accept_mo

logger = logging.getLogger("smpp_bridge.deliveries")

RECEIPT_TYPES = (
    c.ESM_TYPE_DELIVERY_RECEIPT | c.ESM_TYPE_SME_DELIVERY_ACK | c.ESM_TYPE_INTERMEDIATE_NOTIFICATION
)
ERROR_CODE_CHARS_MAX = 16  # DlrReceived.error_code
MO_ID_DIGEST_HEX = 40


def is_receipt(pdu: DeliverSm | DataSm) -> bool:
    return bool(pdu.esm_class & RECEIPT_TYPES) or RECEIPTED_MESSAGE_ID.get(pdu.tlvs) is not None


def payload_of(pdu: DeliverSm | DataSm) -> bytes:
    if isinstance(pdu, DeliverSm) and pdu.short_message:
        return pdu.short_message
    return MESSAGE_PAYLOAD.get(pdu.tlvs) or b""


def receipt_id(link_id: str, operator_message_id: str, status: str) -> str:
    return derived_id("dlr", link_id, operator_message_id, status)


def mo_digest(pdu: DeliverSm | DataSm) -> str:
    """What identifies an MO among redeliveries (see the module docstring)."""
    tlvs = pdu.tlvs
    parts = [
        pdu.source_addr_ton,
        pdu.source_addr_npi,
        pdu.source_addr,
        pdu.dest_addr_ton,
        pdu.dest_addr_npi,
        pdu.destination_addr,
        pdu.esm_class,
        pdu.protocol_id if isinstance(pdu, DeliverSm) else -1,
        pdu.data_coding,
        payload_of(pdu).hex(),
        *(d.get(tlvs) for d in (SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM)),
        *(d.get(tlvs) for d in (SOURCE_PORT, DESTINATION_PORT, USER_MESSAGE_REFERENCE)),
    ]
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:MO_ID_DIGEST_HEX]


@dataclass
class DeliverStats:
    mos_accepted: int = 0
    mos_redelivered: int = 0  # the id of the previous window was reused
    mos_refused: int = 0
    receipts_published: int = 0
    receipts_unreadable: int = 0


class DeliverHandler:
    def __init__(
        self,
        *,
        store: InboundStore,
        events: EventPublisher,
        mt_events: Batcher[str],
        executor: Executor,
        redelivery_window_s: int,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``mt_events`` puts JSON on the DLR queue; ``store`` / ``events`` are intake's ports (blocking)."""
        self._store = store
        self._events = events
        self._mt_events = mt_events
        self._executor = executor
        self._window_s = redelivery_window_s
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self.stats = DeliverStats()

    def for_link(self, link: OperatorLink) -> OnDeliver:
        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            await self.handle(link, pdu)

        return on_deliver

    async def handle(self, link: OperatorLink, pdu: DeliverSm | DataSm) -> None:
        if is_receipt(pdu):
            await self._receipt(link, pdu)
        else:
            await self._mo(link, pdu)

    # ------------------------------------------------------------------ receipts
    async def _receipt(self, link: OperatorLink, pdu: DeliverSm | DataSm) -> None:
        text = payload_of(pdu).decode("latin-1")
        try:
            report = smpp_report(text, RECEIPTED_MESSAGE_ID.get(pdu.tlvs), MESSAGE_STATE.get(pdu.tlvs))
            event = DlrReceived(
                receipt_id=receipt_id(link.link_id, report.operator_id, report.status.value),
                link_id=link.link_id,
                operator_message_id=report.operator_id,
                status=report.status,
                error_code=(report.err or "")[:ERROR_CODE_CHARS_MAX],
                received_at=self._wall_clock(),
            )
        except (DlrError, ValidationError) as error:
            self.stats.receipts_unreadable += 1
            logger.warning(
                "unreadable receipt acknowledged", extra={"link": link.link_id, "error": str(error)[:200]}
            )
            return
        await self._mt_events.put(event.model_dump_json())  # raises: not published, answered RX_T_APPN
        self.stats.receipts_published += 1

    # ------------------------------------------------------------------ MOs
    def inbound_mo(self, pdu: DeliverSm | DataSm, operator_message_id: str) -> InboundMo:
        payload = payload_of(pdu)
        udh: bytes | None = None
        if pdu.esm_class & c.ESM_UDHI:
            try:
                header, rest = split_udh(payload)
            except TextError as error:
                raise DeliverRefused(c.ESME_RX_P_APPN, f"bad UDH: {error}") from None
            udh, payload = payload[: header.length], rest
        tlvs = pdu.tlvs
        try:
            return InboundMo(
                operator_message_id=operator_message_id,
                source=pdu.source_addr,
                destination=pdu.destination_addr,
                data_coding=pdu.data_coding,
                payload_hex=payload.hex(),
                udh_hex=udh.hex() if udh is not None else None,
                sar_ref=SAR_MSG_REF_NUM.get(tlvs) if udh is None else None,
                sar_total=SAR_TOTAL_SEGMENTS.get(tlvs) if udh is None else None,
                sar_seq=SAR_SEGMENT_SEQNUM.get(tlvs) if udh is None else None,
            )
        except ValidationError as error:
            fields = ",".join(str(e["loc"][0]) for e in error.errors() if e["loc"])
            raise DeliverRefused(c.ESME_RX_P_APPN, f"MO not acceptable ({fields})") from None

    async def _mo(self, link: OperatorLink, pdu: DeliverSm | DataSm) -> None:
        now = self._wall_clock()
        digest = mo_digest(pdu)
        period = int(now.timestamp()) // self._window_s
        previous = f"smpp-{digest}-{period - 1}"
        try:
            mo = self.inbound_mo(pdu, f"smpp-{digest}-{period}")
        except DeliverRefused:
            self.stats.mos_refused += 1
            raise
        stored, reused = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._accept, link, mo, previous, now
        )
        self.stats.mos_accepted += 1
        self.stats.mos_redelivered += reused
        logger.info("MO accepted", extra={"link": link.link_id, "message_id": stored})

    def _accept(self, link: OperatorLink, mo: InboundMo, previous: str, now: datetime) -> tuple[str, bool]:
        """Blocking: reuse the previous window's id if that MO is stored, then store and queue."""
        reused = self._store.get(inbound_message_id(link.link_id, previous)) is not None
        if reused:
            mo = mo.model_copy(update={"operator_message_id": previous})
        stored = accept_mo(link, mo, now=now, store=self._store, events=self._events)
        return stored.message_id, reused
