"""CIMD2 on the bridge's server role: the :class:`~smpp_bridge.server.ServerAdapter` for CIMD2.

A partner logs in with op 01 (011 user identity = the bridge account's system id, 012 password),
submits with op 03 and receives its outbox as op 20 (MOs) and op 23 (status reports) on the same
session. The submit response (53) goes out only after the submit is queued as a ``SendMt``; it
carries the recipient (021) and an MC time stamp (060) unique per recipient, which the op 23
about that message repeats. Throttling, a full window and a queue outage are code 10 (temporary
congestion). 033 user data is read with Kannel's raw-octet reading and written with escapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from smpp_bridge.cimd2 import (
    Cimd2Error,
    Cimd2Session,
    DeliverMessage,
    DeliverStatusReport,
    Event,
    LoginRequested,
    Packet,
    RawOctets,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    Response,
    ResponseReceived,
    Role,
    SendData,
    SessionClosed,
    SessionConfig,
    State,
    SubmitMessage,
    UnexpectedPacket,
    decode_user_data,
    encode_user_data,
)
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.outbox import address_fields
from smpp_bridge.server import (
    Action,
    AdapterError,
    Closed,
    Delivered,
    Dropped,
    LoginAttempt,
    ServerContext,
    Submission,
    SubmitRefusal,
    Write,
    stamp_of,
)
from smpp_bridge.session_driver import SessionDriver
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.domain.text import TextError, gsm7_decode, gsm7_encode
from smsbilling.settings import SmppLimits

__all__ = ["Cimd2Adapter", "cimd2_session_config"]

CIMD2_WINDOW_MAX: Final = 127
CIMD2_TIME_FORMAT: Final = "%y%m%d%H%M%S"
DC_GSM, DC_BINARY, ESM_UDHI = 0x00, 0x04, 0x40
TON_ALPHANUMERIC: Final = 5
_STATUS_CODE_FOR: Final = {
    DlrStatus.DELIVERED: 4,
    DlrStatus.EXPIRED: 2,
    DlrStatus.UNDELIVERED: 3,
    DlrStatus.REJECTED: 3,
}  # anything not final: 1, in process
_CODE_FOR: Final = {
    SubmitRefusal.NOT_ALLOWED: int(cc.Code.UNEXPECTED_OPERATION),
    SubmitRefusal.THROTTLED: int(cc.Code.TEMPORARY_CONGESTION),
    SubmitRefusal.QUEUE_FULL: int(cc.Code.TEMPORARY_CONGESTION),
    SubmitRefusal.BAD_DESTINATION: int(cc.Code.INCORRECT_DESTINATION_ADDRESS),
}


def cimd2_session_config(limits: SmppLimits) -> SessionConfig:
    """The bridge's SMPP limits, in CIMD2's terms (the window is at most 127 packet numbers)."""
    return SessionConfig(
        window_outstanding_max=min(limits.window_outstanding_max, CIMD2_WINDOW_MAX),
        keepalive_interval_s=limits.enquire_link_interval_s,
        response_timeout_s=limits.response_timeout_s,
        inactivity_timeout_s=limits.inactivity_timeout_s,
        login_timeout_s=limits.bind_timeout_s,
    )


def registered_delivery(status_report_request: int | None) -> int:
    """SMPP's registered_delivery for 056: 1 when success is asked for, 2 failures only."""
    bits = status_report_request or 0
    if bits & cc.SRR_DELIVERY_SUCCESSFUL:
        return 1
    return 2 if bits & (cc.SRR_DELIVERY_FAILED | cc.SRR_VALIDITY_EXPIRED) else 0


def submission_of(packet: SubmitMessage) -> Submission:
    """A partner's op 03 as the bridge's submission. Raises :class:`Cimd2Error` (302) for user
    data outside GSM 03.38."""
    if packet.alphanumeric_originating_address:
        source, ton, npi = packet.alphanumeric_originating_address, TON_ALPHANUMERIC, 0
    else:
        ton, npi, source = address_fields((packet.originating_address or "").removeprefix("+"))
    udh = packet.user_data_header or b""
    if packet.user_data_binary is not None:
        data_coding = packet.data_coding_scheme if packet.data_coding_scheme is not None else DC_BINARY
        body = packet.user_data_binary
    else:
        text = decode_user_data(packet.user_data or "", raw=RawOctets.GSM)
        try:
            body = gsm7_encode(text)  # SMPP's default alphabet, one septet per octet
        except TextError as exc:
            raise Cimd2Error(int(cc.Code.USER_DATA_SYNTAX_ERROR), exc.reason) from None
        data_coding = DC_GSM
    return Submission(
        token=packet, source=source, source_ton=ton, source_npi=npi,
        destination=(packet.destination_address or "").removeprefix("+"),
        esm_class=ESM_UDHI if udh else 0, data_coding=data_coding,
        registered_delivery=registered_delivery(packet.status_report_request), payload=udh + body,
    )  # fmt: skip


def deliver_for(item: OutboxItem, now: datetime) -> DeliverMessage | DeliverStatusReport:
    """The op 20 (MO) or op 23 (status report) carrying an outbox item."""
    if item.kind is OutboxKind.RECEIPT:
        status = item.receipt_status or DlrStatus.UNKNOWN
        stamp = stamp_of(item.message_id) or item.submitted_at or now
        return DeliverStatusReport(
            destination_address=item.source.removeprefix("+"),  # the recipient of the partner's MT
            originating_address=item.destination.removeprefix("+") or None,
            mc_timestamp=stamp.strftime(CIMD2_TIME_FORMAT),
            status_code=_STATUS_CODE_FOR.get(status, 1),
            discharge_time=now.strftime(CIMD2_TIME_FORMAT),
        )
    payload = item.short_message
    source = item.source.removeprefix("+")
    numeric = source.isdigit() and source.isascii()
    user_data: str | None = None
    binary: bytes | None = None
    dcs: int | None = None
    if item.data_coding == DC_GSM and all(octet < 0x80 for octet in payload):
        user_data = encode_user_data(gsm7_decode(payload, errors="replace"))
    else:
        binary, dcs = payload, item.data_coding
    return DeliverMessage(
        destination_address=item.destination.removeprefix("+"),
        originating_address=source if numeric else None,
        alphanumeric_originating_address=None if numeric else item.source[:11],
        data_coding_scheme=dcs, user_data=user_data, user_data_binary=binary,
        mc_timestamp=now.strftime(CIMD2_TIME_FORMAT),
    )  # fmt: skip


class Cimd2Adapter(SessionDriver[Action]):
    name = "cimd2"

    session: Cimd2Session

    def __init__(self, ctx: ServerContext, now: float) -> None:
        self.session = Cimd2Session(Role.SMSC, now, cimd2_session_config(ctx.limits), checksum=True)

    def _actions(self, events: list[Event]) -> list[Action]:
        actions: list[Action] = []
        for event in events:
            if isinstance(event, SendData):
                actions.append(Write(event.data))
            elif isinstance(event, LoginRequested):
                login = event.packet
                actions.append(LoginAttempt(login.user_identity or "", login.password or ""))
            elif isinstance(event, RequestReceived):
                actions.append(self._request(event.packet))
            elif isinstance(event, ResponseReceived):
                actions.append(Delivered(event.context, ok=event.response.ok, answered=True))
            elif isinstance(event, RequestTimedOut | RequestFailed):
                actions.append(Delivered(event.context, ok=False, answered=False))
            elif isinstance(event, UnexpectedPacket):
                actions.append(Dropped(event.reason))
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
        return actions

    def _request(self, packet: Packet) -> Action:
        code = int(cc.Code.UNEXPECTED_OPERATION)
        if isinstance(packet, SubmitMessage):
            try:
                return submission_of(packet)
            except Cimd2Error as error:
                code = error.code
        try:
            response = Response(packet.opcode + cc.RESPONSE_OFFSET, packet.number, error_code=code)
            return Write(self.session.send_response(response))
        except Cimd2Error as error:
            return Dropped(error.message)

    def accept_login(self) -> bytes:
        return self.session.accept_login()

    def reject_login(self) -> bytes:
        return self.session.reject_login()

    @property
    def logged_in(self) -> bool:
        return self.session.state is State.ACTIVE

    @property
    def receives(self) -> bool:
        return self.session.state is State.ACTIVE

    @property
    def window_available(self) -> int:
        return self.session.window_available

    def send_item(self, item: OutboxItem, now: float) -> bytes:
        try:
            return self.session.send_request(deliver_for(item, datetime.now(UTC)), now, context=item)
        except Cimd2Error as error:
            raise AdapterError(error.message) from None

    def _send_response(self, response: Response) -> bytes:
        try:
            return self.session.send_response(response)
        except Cimd2Error as error:
            raise AdapterError(error.message) from None

    def accept_submit(self, submission: Submission, message_id: str) -> bytes:
        packet = submission.token
        assert isinstance(packet, SubmitMessage)
        stamp = stamp_of(message_id) or datetime.now(UTC)
        return self._send_response(
            Response(
                cc.SUBMIT_MESSAGE + cc.RESPONSE_OFFSET,
                packet.number,
                destination_address=packet.destination_address,
                mc_timestamp=stamp.strftime(CIMD2_TIME_FORMAT),
            )
        )

    def refuse_submit(self, submission: Submission, refusal: SubmitRefusal) -> bytes:
        packet = submission.token
        assert isinstance(packet, SubmitMessage)
        return self._send_response(
            Response(cc.SUBMIT_MESSAGE + cc.RESPONSE_OFFSET, packet.number, error_code=_CODE_FOR[refusal])
        )

    def goodbye(self, now: float) -> bytes | None:
        return None  # only the SME logs out in CIMD2: the MC closes the connection
