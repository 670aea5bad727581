"""UCP/EMI on the bridge's client role: the :class:`~smpp_bridge.client_adapter.ClientAdapter`.

The bridge logs in with OT 60 (OAdC = the link's ``system_id``, OTON 6 / ONPI 5 as Kannel, PWD
its password) and submits each MT part as an OT 51: AMsg (MT 3) for GSM text without a
concatenation header or with one in XSer 01, else TMsg (MT 4) with the DCS in XSer 02; NRq/NT
from ``registered_delivery``. The OT 51 result's ``SM = AdC:SCTS`` is the operator message id
(:func:`~smpp_bridge.ucp.submit_operator_id`), the key the OT 53 about that message repeats.
Nack EC 04 (operation not allowed: "try later") and EC 05 (call barring, used by SMSCs for
throttling) pause the link; every other EC is permanent. When idle, the session sends OT 31
alerts to its own address so an SMSC's inactivity timer does not drop the link.

OT 52 (MO) and OT 01 from the SMSC become a ``deliver_sm``; OT 53 a receipt ``deliver_sm`` with
``receipted_message_id`` and ``message_state`` (from ``status_from_ucp_dst``; Rsn as ``err``),
all answered only after ``on_deliver`` stored them: Ack, or Nack EC 04 when not stored (the SMSC
keeps it and retries) / EC 02 when it can never be taken. UCP has no temporary/permanent
distinction: what an SMSC does with each Nack is its own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

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
from smpp_bridge.ucp import (
    Ack,
    CallInput,
    DeliverShortMessage,
    DeliveryNotification,
    Event,
    Nack,
    Operation,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResultReceived,
    Role,
    SendData,
    SessionClosed,
    SessionConfig,
    SessionManagement,
    State,
    SubmitShortMessage,
    UcpCharset,
    UcpError,
    UcpSession,
    XSer,
    notification_report,
    submit_operator_id,
)
from smpp_bridge.ucp import constants as uc
from smpp_bridge.ucp.text import originator_fields, originator_text
from smsbilling.domain.dlr import MESSAGE_STATE_FOR
from smsbilling.domain.text import TextError, gsm7_decode, gsm7_encode
from smsbilling.settings import SmppLimits

if TYPE_CHECKING:
    from smpp_bridge.client import LinkConfig

__all__ = ["UcpClientAdapter", "delivery_pdu", "submit_operation"]

logger = logging.getLogger("smpp_bridge.client_ucp")

DC_GSM, DC_BINARY, ESM_UDHI = 0x00, 0x04, 0x40
OTON_ABBREVIATED, ONPI_SMSC_SPECIFIC = "6", "5"  # OT 60 as Kannel's emi sends it
THROTTLING_ECS: Final = frozenset({int(uc.Ec.OPERATION_NOT_ALLOWED), int(uc.Ec.CALL_BARRING_ACTIVE)})
_LOGIN = object()


def session_config(config: LinkConfig, limits: SmppLimits) -> SessionConfig:
    return SessionConfig(
        window_outstanding_max=config.window_outstanding_max,
        keepalive_interval_s=limits.enquire_link_interval_s,
        response_timeout_s=limits.response_timeout_s,
        inactivity_timeout_s=limits.inactivity_timeout_s,
        login_timeout_s=limits.bind_timeout_s,
    )


def _payload(pdu: SubmitSm | DeliverSm) -> bytes:
    return pdu.short_message or MESSAGE_PAYLOAD.get(pdu.tlvs) or b""


def _split_udh(pdu: SubmitSm, payload: bytes) -> tuple[bytes, bytes]:
    if not pdu.esm_class & ESM_UDHI or not payload:
        return b"", payload
    size = 1 + payload[0]
    if size > len(payload):
        raise NotSent("UDH longer than the message", permanent=True)
    return payload[:size], payload[size:]


def submit_operation(pdu: SubmitSm, charset: UcpCharset = UcpCharset.GSM) -> SubmitShortMessage:
    """The OT 51 carrying the bridge's ``submit_sm``. Raises :class:`NotSent` (permanent) when
    the originator or text cannot be put in UCP fields."""
    udh, body = _split_udh(pdu, _payload(pdu))
    try:
        oadc, otoa = originator_fields(pdu.source_addr)
    except UcpError as error:
        raise NotSent(f"originator: {error.message}", error.ec, permanent=True) from None
    xser: tuple[XSer, ...] = (XSer(uc.XSER_GSM_UDH, udh),) if udh else ()
    mt, nb, msg = uc.MT_ALPHANUMERIC, None, body
    if pdu.data_coding == DC_GSM and all(octet < 0x80 for octet in body):
        if charset is UcpCharset.LATIN1:  # the septets as Latin-1 text, where Latin-1 has them
            try:
                msg = gsm7_decode(body).encode("latin-1")
            except (TextError, UnicodeEncodeError):
                mt = uc.MT_TRANSPARENT
    else:
        mt = uc.MT_TRANSPARENT
    if mt == uc.MT_TRANSPARENT:
        msg, nb = body, 8 * len(body)
        xser += (XSer(uc.XSER_GSM_DCS, bytes((pdu.data_coding,))),)
    wanted = pdu.registered_delivery & 0x03
    nt = {1: uc.NT_DELIVERED | uc.NT_NON_DELIVERED, 2: uc.NT_NON_DELIVERED, 3: uc.NT_DELIVERED}.get(wanted)
    return SubmitShortMessage(
        adc=pdu.destination_addr.removeprefix("+"), oadc=oadc, otoa=otoa, mt=mt, nb=nb, msg=msg,
        xser=xser, nrq="1" if nt else "", nt=str(nt) if nt else "",
    )  # fmt: skip


def _receipt_pdu(op: DeliveryNotification) -> DeliverSm:
    """An OT 53 as the receipt ``deliver_sm`` the DLR path reads (an unreadable one carries no id:
    the DLR path acknowledges and counts it, as for SMPP)."""
    try:
        report = notification_report(op)
    except UcpError as error:
        logger.warning("unreadable OT 53", extra={"error": error.message})
        return DeliverSm(esm_class=sc.ESM_TYPE_DELIVERY_RECEIPT, source_addr=op.oadc, destination_addr=op.adc)
    err = f" err:{report.reason}" if report.reason else ""
    return DeliverSm(
        source_addr=op.oadc,
        destination_addr=op.adc,
        esm_class=sc.ESM_TYPE_DELIVERY_RECEIPT,
        short_message=f"id:{report.operator_id}{err}".encode("latin-1", "replace"),
        tlvs=(RECEIPTED_MESSAGE_ID(report.operator_id), MESSAGE_STATE(MESSAGE_STATE_FOR[report.status])),
    )


def delivery_pdu(op: Operation, charset: UcpCharset = UcpCharset.GSM) -> DeliverSm | None:
    """An SMSC's OT 52 / 01 (MO) or 53 (receipt) as a ``deliver_sm``; None for anything else."""
    if isinstance(op, DeliveryNotification):
        return _receipt_pdu(op)
    mt: int | None
    dcs: int | None
    if isinstance(op, CallInput):
        source, udh, mt, msg, dcs = op.oadc, b"", op.mt, op.msg, None
    elif isinstance(op, DeliverShortMessage):
        source, udh, mt, msg, dcs = originator_text(op), op.udh, op.mt, op.msg, op.data_coding
    else:
        return None
    if mt == uc.MT_TRANSPARENT:
        data_coding = DC_BINARY if dcs is None else dcs
    else:  # MT 3 AMsg (GSM septets one per octet, or Latin-1) and MT 2 digits: SMPP's default alphabet
        data_coding = DC_GSM
        if mt == uc.MT_ALPHANUMERIC and charset is UcpCharset.LATIN1:
            try:
                msg = gsm7_encode(msg.decode("latin-1"))
            except TextError:
                msg, data_coding = msg.decode("latin-1").encode("utf-16-be"), 0x08
    ton, npi, _ = address_fields(source)
    payload = udh + msg
    long_payload = len(payload) > sc.SHORT_MESSAGE_SIZE_MAX
    return DeliverSm(
        source_addr_ton=ton, source_addr_npi=npi, source_addr=source,
        destination_addr=op.adc, esm_class=ESM_UDHI if udh else 0, data_coding=data_coding,
        short_message=b"" if long_payload else payload,
        tlvs=(MESSAGE_PAYLOAD(payload),) if long_payload else (),
    )  # fmt: skip


class UcpClientAdapter(SessionDriver[ClientAction]):
    name = "ucp"

    session: UcpSession

    def __init__(self, config: LinkConfig, limits: SmppLimits, now: float) -> None:
        self.config = config
        self.session = UcpSession(
            Role.ESME,
            now,
            session_config(config, limits),
            login_required=True,
            alert_address=config.system_id,
        )

    def login(self, now: float) -> bytes:
        login = SessionManagement(
            oadc=self.config.system_id, oton=OTON_ABBREVIATED, onpi=ONPI_SMSC_SPECIFIC,
            styp=uc.STYP_OPEN_SESSION, pwd=self.config.password,
        )  # fmt: skip
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
            elif isinstance(event, ResultReceived):
                actions.append(self._result(event))
            elif isinstance(event, RequestTimedOut):
                actions.append(self._unanswered(event.context, "no result within response_timeout_s"))
            elif isinstance(event, RequestFailed):
                actions.append(self._unanswered(event.context, event.reason))
            elif isinstance(event, RequestReceived):
                actions.append(self._request(event.operation))
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
            else:  # UnexpectedFrame, LoginRequested (never in this role)
                logger.debug("ignored", extra={"link": self.config.link_id, "event": type(event).__name__})
        return actions

    @staticmethod
    def _unanswered(context: object, reason: str) -> ClientAction:
        return LoginRefused(reason) if context is _LOGIN else Unanswered(context, reason)

    def _result(self, event: ResultReceived) -> ClientAction:
        result = event.result
        if event.context is _LOGIN:
            if isinstance(result, Ack):
                return LoggedIn()
            return LoginRefused(f"OT 60 Nack EC {result.ec:02d}")
        request = event.request
        if isinstance(result, Ack):
            assert isinstance(request, SubmitShortMessage)
            try:
                message_id = submit_operator_id(result, request)
            except UcpError:  # accepted, but with nothing to correlate receipts by: keep what it said
                message_id = result.sm or request.adc
                logger.warning("OT 51 Ack without SCTS", extra={"link": self.config.link_id, "sm": result.sm})
            return Answered(event.context, SubmitOutcome(Outcome.ACCEPTED, message_id))
        reason = f"ucp EC {result.ec:02d}"
        if result.ec in THROTTLING_ECS:
            return Answered(
                event.context,
                SubmitOutcome(Outcome.RETRY, command_status=result.ec, reason=reason),
                throttle=True,
            )
        return Answered(
            event.context, SubmitOutcome(Outcome.PERMANENT, command_status=result.ec, reason=reason)
        )

    def _request(self, op: Operation) -> ClientAction:
        pdu = delivery_pdu(op, self.config.ucp_charset)
        if pdu is not None:
            return Incoming(op, pdu)
        try:  # OT 31 is answered by the session; anything else the SMT does not serve
            return Write(self.session.send_result(Nack(op.ot, op.trn, int(uc.Ec.OPERATION_NOT_SUPPORTED))))
        except UcpError as error:
            logger.warning("no result sent", extra={"link": self.config.link_id, "error": error.message})
            return Write(b"")

    def submit(self, pdu: SubmitSm, now: float, context: object) -> bytes:
        op = submit_operation(pdu, self.config.ucp_charset)
        try:
            return self.session.send_request(op, now, context)
        except UcpError as error:  # window full or not logged in (EC 04), or a field the codec refuses
            permanent = not error.throttled and self.session.state is State.ACTIVE and error.ec != 4
            raise NotSent(error.message, error.ec, permanent=permanent) from None

    def answer(self, token: object, status: int) -> bytes:
        assert isinstance(token, Operation)
        result: Ack | Nack
        if status == sc.ESME_ROK:
            result = Ack(token.ot, token.trn)
        elif status == sc.ESME_RX_T_APPN:
            result = Nack(token.ot, token.trn, int(uc.Ec.OPERATION_NOT_ALLOWED))
        else:
            result = Nack(token.ot, token.trn, int(uc.Ec.SYNTAX_ERROR))
        try:
            return self.session.send_result(result)
        except UcpError as error:
            raise NotSent(error.message, error.ec) from None

    def goodbye(self, now: float) -> bytes | None:
        return None  # UCP has no logout: the SMSC sees the connection close
