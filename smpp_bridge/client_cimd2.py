"""CIMD2 on the bridge's client role: the :class:`~smpp_bridge.client_adapter.ClientAdapter`.

The bridge logs in with op 01 (011 = the link's ``system_id``, 012 its password) and submits each
MT part as an op 03: GSM text in 033 (the default character conversion, escapes for the
characters outside shared ASCII), anything else in 034 with its DCS in 030; a concatenation
header in 032; 056 from ``registered_delivery`` (final states, failures only, or success only).
The submit response's 021 + 060 is the operator message id
(:func:`~smpp_bridge.cimd2.submit_operator_id`), the pair the op 23 about that message repeats.
Code 10 (temporary congestion) pauses the link; every other code is permanent. Alive (40) is sent
when idle and answered by the session; closing sends a logout (02).

Op 20 (MO) becomes a ``deliver_sm``; op 23 a receipt ``deliver_sm`` with ``receipted_message_id``
and ``message_state`` (from ``status_from_cimd2``; 062 as ``err``), each answered only after
``on_deliver`` stored it: a positive response, or code 10 when not stored (try later) / code 9
(requested operation failed) when it can never be taken.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from smpp_bridge.cimd2 import (
    Cimd2Error,
    Cimd2Session,
    DeliverMessage,
    DeliverStatusReport,
    Event,
    Login,
    Logout,
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
    decode_user_data,
    encode_user_data,
    status_report,
    submit_operator_id,
)
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.client_adapter import (
    Answered,
    ClientAction,
    Closed,
    Incoming,
    LoggedIn,
    LoginRefused,
    NotSent,
    Outcome,
    SubmitOutcome,
    Unanswered,
    Write,
)
from smpp_bridge.outbox import address_fields
from smpp_bridge.session_driver import SessionDriver
from smpp_bridge.smpp import DeliverSm, SubmitSm
from smpp_bridge.smpp import constants as sc
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD, MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from smsbilling.domain.dlr import MESSAGE_STATE_FOR
from smsbilling.domain.text import TextError, gsm7_decode, gsm7_encode
from smsbilling.settings import SmppLimits

if TYPE_CHECKING:
    from smpp_bridge.client import LinkConfig

__all__ = ["Cimd2ClientAdapter", "delivery_pdu", "submit_packet"]

logger = logging.getLogger("smpp_bridge.client_cimd2")

DC_GSM, DC_BINARY, DC_UCS2, ESM_UDHI = 0x00, 0x04, 0x08, 0x40
ALPHANUMERIC_CHARS_MAX: Final = 11
_SRR_FOR: Final = {  # registered_delivery bits 1-0 -> 056
    1: cc.SRR_FINAL_STATES,
    2: cc.SRR_VALIDITY_EXPIRED | cc.SRR_DELIVERY_FAILED,
    3: cc.SRR_DELIVERY_SUCCESSFUL,
}
_LOGIN = object()
_LOGOUT = object()


def session_config(config: LinkConfig, limits: SmppLimits) -> SessionConfig:
    return SessionConfig(
        window_outstanding_max=config.window_outstanding_max,
        keepalive_interval_s=limits.enquire_link_interval_s,
        response_timeout_s=limits.response_timeout_s,
        inactivity_timeout_s=limits.inactivity_timeout_s,
        login_timeout_s=limits.bind_timeout_s,
    )


def submit_packet(pdu: SubmitSm) -> SubmitMessage:
    """The op 03 carrying the bridge's ``submit_sm``. Raises :class:`NotSent` (permanent) when the
    originator cannot be put in 023 / 027."""
    payload = pdu.short_message or MESSAGE_PAYLOAD.get(pdu.tlvs) or b""
    udh = b""
    if pdu.esm_class & ESM_UDHI and payload:
        size = 1 + payload[0]
        if size > len(payload):
            raise NotSent("UDH longer than the message", permanent=True)
        udh, payload = payload[:size], payload[size:]
    source = pdu.source_addr.removeprefix("+")
    numeric = source.isdigit() and source.isascii()
    if not numeric and not 0 < len(pdu.source_addr) <= ALPHANUMERIC_CHARS_MAX:
        raise NotSent("alphanumeric originator of 1-11 characters", permanent=True)
    user_data: str | None = None
    binary: bytes | None = None
    dcs: int | None = None
    if pdu.data_coding == DC_GSM and all(octet < 0x80 for octet in payload):
        user_data = encode_user_data(gsm7_decode(payload, errors="replace"))
    else:
        binary, dcs = payload, pdu.data_coding
    return SubmitMessage(
        destination_address=pdu.destination_addr.removeprefix("+"),
        originating_address=source if numeric else None,
        alphanumeric_originating_address=None if numeric else pdu.source_addr,
        data_coding_scheme=dcs, user_data_header=udh or None, user_data=user_data, user_data_binary=binary,
        status_report_request=_SRR_FOR.get(pdu.registered_delivery & 0x03),
    )  # fmt: skip


def _receipt_pdu(packet: DeliverStatusReport) -> DeliverSm:
    """An op 23 as the receipt ``deliver_sm`` the DLR path reads (an unreadable one carries no id:
    the DLR path acknowledges and counts it, as for SMPP)."""
    source, destination = packet.destination_address or "", packet.originating_address or ""
    try:
        report = status_report(packet)
    except Cimd2Error as error:
        logger.warning("unreadable op 23", extra={"error": error.message})
        return DeliverSm(
            esm_class=sc.ESM_TYPE_DELIVERY_RECEIPT, source_addr=source, destination_addr=destination
        )
    err = f" err:{report.error_code}" if report.error_code is not None else ""
    return DeliverSm(
        source_addr=source,
        destination_addr=destination,
        esm_class=sc.ESM_TYPE_DELIVERY_RECEIPT,
        short_message=f"id:{report.operator_id}{err}".encode("latin-1", "replace"),
        tlvs=(RECEIPTED_MESSAGE_ID(report.operator_id), MESSAGE_STATE(MESSAGE_STATE_FOR[report.status])),
    )


def delivery_pdu(packet: Packet, raw: RawOctets = RawOctets.GSM) -> DeliverSm | None:
    """An MC's op 20 (MO) or op 23 (status report) as a ``deliver_sm``; None for anything else."""
    if isinstance(packet, DeliverStatusReport):
        return _receipt_pdu(packet)
    if not isinstance(packet, DeliverMessage):
        return None
    source = packet.alphanumeric_originating_address or (packet.originating_address or "").removeprefix("+")
    udh = packet.user_data_header or b""
    if packet.user_data_binary is not None:
        data_coding = DC_BINARY if packet.data_coding_scheme is None else packet.data_coding_scheme
        body = packet.user_data_binary
    else:
        text = decode_user_data(packet.user_data or "", raw=raw, errors="replace")
        try:
            body, data_coding = gsm7_encode(text), DC_GSM  # SMPP's default alphabet, unpacked
        except TextError:  # Latin-1 octets outside GSM 03.38: keep them as UCS-2
            body, data_coding = text.encode("utf-16-be"), DC_UCS2
    ton, npi, _ = address_fields(source)
    payload = udh + body
    long_payload = len(payload) > sc.SHORT_MESSAGE_SIZE_MAX
    return DeliverSm(
        source_addr_ton=ton, source_addr_npi=npi, source_addr=source,
        destination_addr=(packet.destination_address or "").removeprefix("+"),
        esm_class=ESM_UDHI if udh else 0, data_coding=data_coding,
        short_message=b"" if long_payload else payload,
        tlvs=(MESSAGE_PAYLOAD(payload),) if long_payload else (),
    )  # fmt: skip


class Cimd2ClientAdapter(SessionDriver[ClientAction]):
    name = "cimd2"

    session: Cimd2Session

    def __init__(self, config: LinkConfig, limits: SmppLimits, now: float) -> None:
        self.config = config
        self.session = Cimd2Session(
            Role.ESME, now, session_config(config, limits), checksum=config.cimd2_checksum
        )

    def login(self, now: float) -> bytes:
        login = Login(user_identity=self.config.system_id, password=self.config.password)
        return self.session.send_request(login, now, _LOGIN)

    @property
    def closed(self) -> bool:
        return self.session.state is State.CLOSED

    @property
    def logged_in(self) -> bool:
        return self.session.state is State.ACTIVE

    @property
    def outstanding(self) -> int:
        return self.session.outstanding

    def _actions(self, events: list[Event]) -> list[ClientAction]:
        actions: list[ClientAction] = []
        for event in events:
            if isinstance(event, SendData):
                actions.append(Write(event.data))
            elif isinstance(event, ResponseReceived):
                action = self._response(event)
                if action is not None:
                    actions.append(action)
            elif isinstance(event, RequestTimedOut | RequestFailed):
                reason = "no response within response_timeout_s"
                if isinstance(event, RequestFailed):
                    reason = event.reason
                if event.context is _LOGIN:
                    actions.append(LoginRefused(reason))
                elif event.context is not _LOGOUT:
                    actions.append(Unanswered(event.context, reason))
            elif isinstance(event, RequestReceived):
                actions.append(self._request(event.packet))
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
            else:  # UnexpectedPacket, LoginRequested (never in this role)
                logger.debug("ignored", extra={"link": self.config.link_id, "event": type(event).__name__})
        return actions

    def _response(self, event: ResponseReceived) -> ClientAction | None:
        response = event.response
        if event.context is _LOGOUT:
            return None
        if event.context is _LOGIN:
            return LoggedIn() if response.ok else LoginRefused(f"login refused, code {response.error_code}")
        request = event.request
        if response.ok:
            assert isinstance(request, SubmitMessage)
            try:
                message_id = submit_operator_id(response, request)
            except Cimd2Error:  # accepted, but with nothing to correlate receipts by
                message_id = response.destination_address or request.destination_address or ""
                logger.warning("submit response without 060", extra={"link": self.config.link_id})
            return Answered(event.context, SubmitOutcome(Outcome.ACCEPTED, message_id))
        code = response.error_code
        reason = f"cimd2 code {code} ({cc.code_name(code)})" if code is not None else "cimd2 error response"
        if code == cc.Code.TEMPORARY_CONGESTION:
            return Answered(
                event.context, SubmitOutcome(Outcome.RETRY, command_status=code, reason=reason), throttle=True
            )
        return Answered(event.context, SubmitOutcome(Outcome.PERMANENT, command_status=code, reason=reason))

    def _request(self, packet: Packet) -> ClientAction:
        pdu = delivery_pdu(packet, self.config.cimd2_raw_octets)
        if pdu is not None:
            return Incoming(packet, pdu)
        response = Response(
            packet.opcode + cc.RESPONSE_OFFSET, packet.number, error_code=int(cc.Code.UNEXPECTED_OPERATION)
        )
        try:
            return Write(self.session.send_response(response))
        except Cimd2Error as error:
            logger.warning("no response sent", extra={"link": self.config.link_id, "error": error.message})
            return Write(b"")

    def submit(self, pdu: SubmitSm, now: float, context: object) -> bytes:
        packet = submit_packet(pdu)
        try:
            return self.session.send_request(packet, now, context)
        except Cimd2Error as error:  # window full, not logged in, or a field the codec refuses
            permanent = not error.throttled and self.session.state is State.ACTIVE and error.code != 1
            raise NotSent(error.message, error.code, permanent=permanent) from None

    def answer(self, token: object, status: int) -> bytes:
        assert isinstance(token, Packet)
        code: int | None = None
        if status == sc.ESME_RX_T_APPN:
            code = int(cc.Code.TEMPORARY_CONGESTION)
        elif status != sc.ESME_ROK:
            code = int(cc.Code.REQUESTED_OPERATION_FAILED)
        try:
            return self.session.send_response(
                Response(token.opcode + cc.RESPONSE_OFFSET, token.number, error_code=code)
            )
        except Cimd2Error as error:
            raise NotSent(error.message, error.code) from None

    def goodbye(self, now: float) -> bytes | None:
        try:
            return self.session.send_request(Logout(), now, _LOGOUT)
        except Cimd2Error:
            return None
