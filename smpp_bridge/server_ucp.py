"""UCP/EMI on the bridge's server role: the :class:`~smpp_bridge.server.ServerAdapter` for UCP.

A partner logs in with OT 60 (OAdC = the bridge account's system id, PWD its password), submits
with OT 51 (or OT 01), and receives its outbox as OT 52 (MOs) and OT 53 (receipts) on the same
session: UCP has no separate receiver binds. The OT 51 result is sent only after the submit is
queued as a ``SendMt``; its ``SM`` is ``AdC:SCTS``, with an SCTS unique per recipient, and the
OT 53 about that message quotes the same SCTS (``stamped_message_id``). Throttling, a full window
and a queue outage are EC 04 (operation not allowed, "try later"), as UCP has no throttling code.
AMsg is read and written as GSM 03.38, one septet per octet (Kannel's reading).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

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
from smpp_bridge.ucp import (
    Ack,
    CallInput,
    DeliverShortMessage,
    DeliveryNotification,
    Event,
    LoginRequested,
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
    State,
    SubmitShortMessage,
    UcpError,
    UcpSession,
    UnexpectedFrame,
    XSer,
)
from smpp_bridge.ucp import constants as uc
from smpp_bridge.ucp.text import originator_fields, originator_text
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.settings import SmppLimits

__all__ = ["UcpAdapter", "ucp_session_config"]

UCP_WINDOW_MAX: Final = 100
UCP_TIME_FORMAT: Final = "%d%m%y%H%M%S"
DC_GSM, DC_BINARY, ESM_UDHI = 0x00, 0x04, 0x40
# OT 53 Dst: 0 delivered, 1 buffered (not final), 2 not delivered.
_DST_FOR: Final = {
    DlrStatus.DELIVERED: "0",
    DlrStatus.UNDELIVERED: "2",
    DlrStatus.EXPIRED: "2",
    DlrStatus.REJECTED: "2",
}
_EC_FOR: Final = {
    SubmitRefusal.NOT_ALLOWED: int(uc.Ec.OPERATION_NOT_ALLOWED),
    SubmitRefusal.THROTTLED: int(uc.Ec.OPERATION_NOT_ALLOWED),
    SubmitRefusal.QUEUE_FULL: int(uc.Ec.OPERATION_NOT_ALLOWED),
    SubmitRefusal.BAD_DESTINATION: int(uc.Ec.ADC_INVALID),
}


def ucp_session_config(limits: SmppLimits) -> SessionConfig:
    """The bridge's SMPP limits, in UCP's terms (the window is at most 100: two-digit TRNs)."""
    return SessionConfig(
        window_outstanding_max=min(limits.window_outstanding_max, UCP_WINDOW_MAX),
        keepalive_interval_s=limits.enquire_link_interval_s,
        response_timeout_s=limits.response_timeout_s,
        inactivity_timeout_s=limits.inactivity_timeout_s,
        login_timeout_s=limits.bind_timeout_s,
    )


def registered_delivery(op: SubmitShortMessage) -> int:
    """SMPP's registered_delivery for an OT 51's NRq/NT: 1 every final state, 2 failures only."""
    if op.nrq != "1":
        return 0
    nt = int(op.nt) if op.nt.isdigit() else uc.NT_DELIVERED | uc.NT_NON_DELIVERED
    if nt & uc.NT_DELIVERED:
        return 1
    return 2 if nt & uc.NT_NON_DELIVERED else 0


def submission_of(op: SubmitShortMessage | CallInput) -> Submission:
    """A partner's OT 51 / OT 01 as the bridge's submission (payload in SMPP's terms)."""
    if isinstance(op, CallInput):
        source = op.oadc
        data_coding, esm_class, payload, rd = DC_GSM, 0, op.msg, 0
    else:
        source = originator_text(op)
        udh = op.udh
        if op.mt == uc.MT_TRANSPARENT:
            data_coding = op.data_coding if op.data_coding is not None else DC_BINARY
        else:  # MT 3 AMsg: GSM septets one per octet (SMPP's unpacked default alphabet); MT 2 digits
            data_coding = DC_GSM
        esm_class = ESM_UDHI if udh else 0
        payload, rd = udh + op.msg, registered_delivery(op)
    ton, npi, _ = address_fields(source)
    return Submission(
        token=op, source=source, source_ton=ton, source_npi=npi, destination=op.adc, esm_class=esm_class,
        data_coding=data_coding, registered_delivery=rd, payload=payload,
    )  # fmt: skip


def _digits(address: str) -> str:
    return address.removeprefix("+")


def deliver_for(item: OutboxItem, now: datetime) -> DeliverShortMessage | DeliveryNotification:
    """The OT 52 (MO) or OT 53 (receipt) carrying an outbox item."""
    if item.kind is OutboxKind.RECEIPT:
        status = item.receipt_status or DlrStatus.UNKNOWN
        scts = stamp_of(item.message_id) or item.submitted_at or now
        return DeliveryNotification(
            adc=_digits(item.destination),  # the partner's originator
            oadc=_digits(item.source),  # the recipient of its message
            scts=scts.strftime(UCP_TIME_FORMAT),
            dst=_DST_FOR.get(status, "1"),
            dscts=now.strftime(UCP_TIME_FORMAT),
            mt=uc.MT_ALPHANUMERIC,
            msg=f"Message {status.value}".encode("ascii"),
        )
    oadc, otoa = originator_fields(item.source)
    payload = item.short_message
    xser: tuple[XSer, ...] = ()
    if item.data_coding == DC_GSM and all(octet < 0x80 for octet in payload):
        mt, nb = uc.MT_ALPHANUMERIC, None
    else:
        mt, nb = uc.MT_TRANSPARENT, 8 * len(payload)
        xser = (XSer(uc.XSER_GSM_DCS, bytes((item.data_coding,))),)
    return DeliverShortMessage(
        adc=_digits(item.destination), oadc=oadc, otoa=otoa, scts=now.strftime(UCP_TIME_FORMAT),
        mt=mt, nb=nb, msg=payload, xser=xser,
    )  # fmt: skip


class UcpAdapter(SessionDriver[Action]):
    name = "ucp"

    session: UcpSession

    def __init__(self, ctx: ServerContext, now: float) -> None:
        self.session = UcpSession(Role.SMSC, now, ucp_session_config(ctx.limits), login_required=True)

    def _actions(self, events: list[Event]) -> list[Action]:
        actions: list[Action] = []
        for event in events:
            if isinstance(event, SendData):
                actions.append(Write(event.data))
            elif isinstance(event, LoginRequested):
                actions.append(LoginAttempt(event.operation.oadc, event.operation.pwd))
            elif isinstance(event, RequestReceived):
                actions.append(self._request(event.operation))
            elif isinstance(event, ResultReceived):
                actions.append(Delivered(event.context, ok=event.ok, answered=True))
            elif isinstance(event, RequestTimedOut | RequestFailed):
                actions.append(Delivered(event.context, ok=False, answered=False))
            elif isinstance(event, UnexpectedFrame):
                actions.append(Dropped(event.reason))
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
        return actions

    def _request(self, op: Operation) -> Action:
        if isinstance(op, SubmitShortMessage | CallInput):
            try:
                return submission_of(op)
            except UcpError as error:  # e.g. an undecodable alphanumeric OAdC
                return self._result(Nack(op.ot, op.trn, error.ec))
        return self._result(Nack(op.ot, op.trn, int(uc.Ec.OPERATION_NOT_SUPPORTED)))

    def _result(self, result: Ack | Nack) -> Action:
        try:
            return Write(self.session.send_result(result))
        except UcpError as error:
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
        except UcpError as error:
            raise AdapterError(error.message) from None

    def _send_result(self, result: Ack | Nack) -> bytes:
        try:
            return self.session.send_result(result)
        except UcpError as error:
            raise AdapterError(error.message) from None

    def accept_submit(self, submission: Submission, message_id: str) -> bytes:
        op = submission.token
        assert isinstance(op, SubmitShortMessage | CallInput)
        stamp = stamp_of(message_id) or datetime.now(UTC)
        return self._send_result(Ack(op.ot, op.trn, sm=f"{op.adc}:{stamp.strftime(UCP_TIME_FORMAT)}"))

    def refuse_submit(self, submission: Submission, refusal: SubmitRefusal) -> bytes:
        op = submission.token
        assert isinstance(op, SubmitShortMessage | CallInput)
        return self._send_result(Nack(op.ot, op.trn, _EC_FOR[refusal]))

    def goodbye(self, now: float) -> bytes | None:
        return None  # UCP has no logout: the SMT sees the connection close
