"""Session state machine: binds, every transition, wrong-state statuses, correlation, windowing."""

from __future__ import annotations

import pytest

from smpp_bridge.smpp import (
    AlertNotification,
    Bind,
    BindReceiver,
    BindReceiverResp,
    BindRequested,
    BindResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Event,
    GenericNack,
    Outbind,
    OutbindReceived,
    Pdu,
    QuerySm,
    ReplaceSm,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    Role,
    SendData,
    SessionClosed,
    SessionConfig,
    SmppError,
    SmppSession,
    State,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnexpectedPdu,
    decode_pdu,
    encode_pdu,
    tlv,
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.codec import HEADER
from smsbilling.settings import SmppLimits

BIND_STATE = {BindTransmitter: State.BOUND_TX, BindReceiver: State.BOUND_RX, BindTransceiver: State.BOUND_TRX}
BIND_RESP: dict[type[Bind], type[BindResp]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}
SUBMITS: list[Pdu] = [
    SubmitSm(destination_addr="1"),
    SubmitMulti(),
    DataSm(),
    QuerySm(message_id="m"),
    CancelSm(message_id="m"),
    ReplaceSm(message_id="m"),
]


def feed(session: SmppSession, *pdus: Pdu, now: float = 1.0) -> list[Event]:
    return session.receive_data(b"".join(encode_pdu(p) for p in pdus), now)


def sent(events: list[Event]) -> list[Pdu]:
    return [decode_pdu(e.data) for e in events if isinstance(e, SendData)]


def only_sent(events: list[Event]) -> Pdu:
    (pdu,) = sent(events)
    assert len(events) == 1
    return pdu


def smsc(**limits: float) -> SmppSession:
    return SmppSession(Role.SMSC, 0.0, SessionConfig(**limits))  # type: ignore[arg-type]


def esme(**limits: float) -> SmppSession:
    return SmppSession(Role.ESME, 0.0, SessionConfig(**limits))  # type: ignore[arg-type]


def smsc_bound(kind: type[Bind] = BindTransceiver, **limits: float) -> SmppSession:
    session = smsc(**limits)
    (event,) = feed(session, kind(1, system_id="partner", password="pw"))
    assert isinstance(event, BindRequested)
    session.accept_bind("bridge")
    assert session.state is BIND_STATE[kind]
    return session


def esme_bound(kind: type[Bind] = BindTransceiver, **limits: float) -> SmppSession:
    session = esme(**limits)
    request = decode_pdu(session.send_request(kind(system_id="bridge", password="pw"), 0.0))
    (event,) = feed(session, BIND_RESP[kind](request.sequence_number, 0, "smsc"))
    assert isinstance(event, ResponseReceived) and session.state is BIND_STATE[kind]
    return session


# --- SMSC role: binds --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [BindTransmitter, BindReceiver, BindTransceiver])
def test_smsc_accepts_each_bind_kind(kind: type[Bind]) -> None:
    session = smsc()
    (event,) = feed(session, kind(5, system_id="partner", password="pw"))
    assert isinstance(event, BindRequested) and event.pdu.password == "pw"
    assert session.state is State.OPEN
    response = decode_pdu(session.accept_bind("bridge"))
    assert response == BIND_RESP[kind](5, 0, "bridge", (tlv.SC_INTERFACE_VERSION(0x34),))
    assert session.state is BIND_STATE[kind]


def test_bind_from_a_3_3_esme_gets_no_tlv() -> None:
    session = smsc()
    feed(session, BindTransmitter(1, system_id="old", interface_version=0x33))
    assert decode_pdu(session.accept_bind("bridge")) == BindTransmitterResp(1, 0, "bridge")


def test_rejected_bind_is_header_only_and_stays_open() -> None:
    session = smsc()
    feed(session, BindTransmitter(3, system_id="partner", password="bad"))
    data = session.reject_bind(c.ESME_RINVPASWD)
    assert data == HEADER.pack(16, c.BIND_TRANSMITTER_RESP, c.ESME_RINVPASWD, 3)
    assert session.state is State.OPEN
    (event,) = feed(session, BindTransmitter(4, system_id="partner", password="good"))
    assert isinstance(event, BindRequested)


def test_accept_or_reject_without_a_pending_bind_is_refused() -> None:
    session = smsc()
    with pytest.raises(SmppError):
        session.accept_bind()
    feed(session, BindTransmitter(1))
    with pytest.raises(SmppError):
        session.reject_bind(c.ESME_ROK)


def test_accept_bind_with_a_bad_system_id_changes_nothing() -> None:
    session = smsc()
    feed(session, BindTransmitter(1))
    with pytest.raises(SmppError):
        session.accept_bind("x" * 16)
    assert session.state is State.OPEN
    assert decode_pdu(session.accept_bind("bridge")).command_status == 0


def test_second_bind_while_pending_or_bound_gets_ralybnd() -> None:
    session = smsc()
    feed(session, BindTransmitter(1))
    assert only_sent(feed(session, BindReceiver(2))) == BindReceiverResp(2, c.ESME_RALYBND)
    session.accept_bind()
    assert only_sent(feed(session, BindTransceiver(3))) == BindTransceiverResp(3, c.ESME_RALYBND)
    assert session.state is State.BOUND_TX


# --- SMSC role: wrong state and direction ------------------------------------------------------
@pytest.mark.parametrize("request_pdu", SUBMITS, ids=lambda p: type(p).__name__)
def test_submits_before_bind_get_rinvbndsts(request_pdu: Pdu) -> None:
    response = only_sent(feed(smsc(), request_pdu))
    assert response.command_id == request_pdu.command_id | c.RESPONSE_BIT
    assert response.command_status == c.ESME_RINVBNDSTS


@pytest.mark.parametrize("request_pdu", SUBMITS, ids=lambda p: type(p).__name__)
def test_submits_to_a_receiver_bind_get_rinvbndsts(request_pdu: Pdu) -> None:
    response = only_sent(feed(smsc_bound(BindReceiver), request_pdu))
    assert response.command_status == c.ESME_RINVBNDSTS


@pytest.mark.parametrize("kind", [BindTransmitter, BindTransceiver])
@pytest.mark.parametrize("request_pdu", SUBMITS, ids=lambda p: type(p).__name__)
def test_submits_in_tx_and_trx_reach_the_application(kind: type[Bind], request_pdu: Pdu) -> None:
    session = smsc_bound(kind)
    (event,) = feed(session, request_pdu)
    assert isinstance(event, RequestReceived) and type(event.pdu) is type(request_pdu)
    assert session.inbound_pending == 1


def test_deliver_sm_and_alert_from_an_esme_are_refused() -> None:
    session = smsc_bound()
    assert only_sent(feed(session, DeliverSm(4))) == DeliverSmResp(4, c.ESME_RINVBNDSTS)
    assert only_sent(feed(session, AlertNotification(5))) == GenericNack(5, c.ESME_RINVBNDSTS)
    assert only_sent(feed(session, Outbind(6))) == GenericNack(6, c.ESME_RINVBNDSTS)


def test_unbind_before_bind_gets_rinvbndsts() -> None:
    assert only_sent(feed(smsc(), Unbind(2))) == UnbindResp(2, c.ESME_RINVBNDSTS)


def test_response_to_a_submit_and_its_checks() -> None:
    session = smsc_bound()
    (event,) = feed(session, SubmitSm(9, destination_addr="447700900123"))
    assert isinstance(event, RequestReceived)
    with pytest.raises(SmppError):  # wrong sequence
        session.send_response(SubmitSmResp(10, 0, "x"))
    with pytest.raises(SmppError):  # wrong kind
        session.send_response(DeliverSmResp(9))
    data = session.send_response(SubmitSmResp(9, 0, "msg-1"))
    assert decode_pdu(data) == SubmitSmResp(9, 0, "msg-1")
    assert session.inbound_pending == 0
    with pytest.raises(SmppError):  # answered once only
        session.send_response(SubmitSmResp(9, 0, "msg-1"))


def test_submit_can_be_answered_with_generic_nack_or_an_error_status() -> None:
    session = smsc_bound()
    feed(session, SubmitSm(1), SubmitSm(2))
    assert len(session.send_response(SubmitSmResp(1, c.ESME_RTHROTTLED))) == 16
    assert decode_pdu(session.send_response(GenericNack(2, c.ESME_RSYSERR))) == GenericNack(2, 8)


def test_smsc_sends_deliver_sm_only_to_receivers() -> None:
    with pytest.raises(SmppError) as info:
        smsc_bound(BindTransmitter).send_request(DeliverSm(), 1.0)
    assert info.value.status == c.ESME_RINVBNDSTS
    for kind in (BindReceiver, BindTransceiver):
        session = smsc_bound(kind)
        assert isinstance(decode_pdu(session.send_request(DeliverSm(), 1.0)), DeliverSm)
        assert isinstance(decode_pdu(session.send_request(AlertNotification(), 1.0)), AlertNotification)
        assert session.outstanding == 1  # alert_notification has no response to wait for


def test_smsc_outbind() -> None:
    session = smsc()
    assert isinstance(decode_pdu(session.send_request(Outbind(system_id="bridge"), 0.0)), Outbind)
    assert session.outstanding == 0 and session.state is State.OPEN


# --- ESME role ---------------------------------------------------------------------------------
def test_esme_bind_flow_and_second_bind() -> None:
    session = esme()
    session.send_request(BindTransceiver(system_id="bridge"), 0.0)
    with pytest.raises(SmppError) as info:
        session.send_request(BindTransmitter(), 0.0)
    assert info.value.status == c.ESME_RALYBND
    (event,) = feed(session, BindTransceiverResp(1, 0, "smsc", (tlv.SC_INTERFACE_VERSION(0x34),)))
    assert isinstance(event, ResponseReceived) and session.state is State.BOUND_TRX
    with pytest.raises(SmppError) as info:
        session.send_request(BindTransmitter(), 0.0)
    assert info.value.status == c.ESME_RALYBND


def test_esme_submit_while_bind_pending_is_rinvbndsts() -> None:
    session = esme()
    session.send_request(BindTransmitter(), 0.0)
    with pytest.raises(SmppError) as info:
        session.send_request(SubmitSm(), 0.0)
    assert info.value.status == c.ESME_RINVBNDSTS


def test_esme_failed_bind_stays_open() -> None:
    session = esme()
    session.send_request(BindTransmitter(system_id="bridge", password="bad"), 0.0)
    (event,) = session.receive_data(HEADER.pack(16, c.BIND_TRANSMITTER_RESP, c.ESME_RINVPASWD, 1), 1.0)
    assert isinstance(event, ResponseReceived) and event.response.command_status == c.ESME_RINVPASWD
    assert session.state is State.OPEN
    session.send_request(BindTransmitter(system_id="bridge", password="good"), 1.0)


def test_esme_cannot_submit_before_bind_or_as_receiver() -> None:
    with pytest.raises(SmppError) as info:
        esme().send_request(SubmitSm(), 0.0)
    assert info.value.status == c.ESME_RINVBNDSTS
    with pytest.raises(SmppError):
        esme_bound(BindReceiver).send_request(SubmitSm(), 0.0)


def test_deliver_sm_to_a_transmitter_bind_gets_rinvbndsts() -> None:
    assert only_sent(feed(esme_bound(BindTransmitter), DeliverSm(3))) == DeliverSmResp(3, c.ESME_RINVBNDSTS)
    assert only_sent(feed(esme_bound(BindTransmitter), DataSm(4))).command_status == c.ESME_RINVBNDSTS


@pytest.mark.parametrize("kind", [BindReceiver, BindTransceiver])
def test_deliver_sm_reaches_receivers(kind: type[Bind]) -> None:
    session = esme_bound(kind)
    (event,) = feed(session, DeliverSm(3, short_message=b"MO"))
    assert isinstance(event, RequestReceived)
    assert decode_pdu(session.send_response(DeliverSmResp(3))) == DeliverSmResp(3)
    (event,) = feed(session, AlertNotification(4, tlvs=(tlv.MS_AVAILABILITY_STATUS(0),)))
    assert isinstance(event, RequestReceived) and session.inbound_pending == 0


def test_submit_received_by_an_esme_is_refused() -> None:
    assert only_sent(feed(esme_bound(), SubmitSm(2))) == SubmitSmResp(2, c.ESME_RINVBNDSTS)


def test_outbind_received_in_open_and_when_bound() -> None:
    session = esme()
    (event,) = feed(session, Outbind(1, system_id="smsc", password="pw"))
    assert isinstance(event, OutbindReceived) and event.pdu.system_id == "smsc"
    session.send_request(BindReceiver(system_id="bridge"), 1.0)
    assert only_sent(feed(esme_bound(), Outbind(2))) == GenericNack(2, c.ESME_RINVBNDSTS)


# --- both roles: enquire_link, unbind, garbage --------------------------------------------------
@pytest.mark.parametrize("make", [smsc, esme, smsc_bound, esme_bound])
def test_enquire_link_is_answered_in_every_state(make: object) -> None:
    session = make()  # type: ignore[operator]
    assert only_sent(feed(session, EnquireLink(11))) == EnquireLinkResp(11)


def test_enquire_link_answered_while_unbinding() -> None:
    session = esme_bound()
    session.send_request(Unbind(), 1.0)
    assert session.state is State.UNBOUND
    assert only_sent(feed(session, EnquireLink(12))) == EnquireLinkResp(12)
    assert only_sent(feed(session, DeliverSm(13))) == DeliverSmResp(13, c.ESME_RINVBNDSTS)


@pytest.mark.parametrize("make", [smsc_bound, esme_bound])
def test_unbind_received_is_answered_then_closes(make: object) -> None:
    session = make()  # type: ignore[operator]
    events = feed(session, Unbind(7), EnquireLink(8))
    assert sent(events) == [UnbindResp(7)]
    assert events[-1] == SessionClosed("unbind received")
    assert session.state is State.CLOSED
    assert feed(session, EnquireLink(9)) == []
    assert session.next_deadline() is None


def test_we_unbind_then_close_on_unbind_resp() -> None:
    session = esme_bound()
    session.send_request(SubmitSm(destination_addr="1"), 1.0, context="m1")
    unbind = decode_pdu(session.send_request(Unbind(), 1.0))
    with pytest.raises(SmppError):
        session.send_request(SubmitSm(), 1.0)
    events = feed(session, UnbindResp(unbind.sequence_number))
    assert isinstance(events[0], ResponseReceived)
    assert isinstance(events[1], RequestFailed) and events[1].context == "m1"
    assert events[2] == SessionClosed("unbound")


@pytest.mark.parametrize("make", [smsc, smsc_bound, esme_bound])
def test_unknown_command_gets_generic_nack_and_the_session_continues(make: object) -> None:
    session = make()  # type: ignore[operator]
    events = session.receive_data(HEADER.pack(16, 0x00000111, 0, 31), 1.0)
    assert only_sent(events) == GenericNack(31, c.ESME_RINVCMDID)
    assert session.state is not State.CLOSED


@pytest.mark.parametrize("length", [0, 15, 64 * 1024 + 1])
def test_bad_command_length_nacks_and_closes(length: int) -> None:
    session = smsc_bound()
    events = session.receive_data(HEADER.pack(length, c.SUBMIT_SM, 0, 44), 1.0)
    assert sent(events) == [GenericNack(44, c.ESME_RINVCMDLEN)]
    assert isinstance(events[-1], SessionClosed) and session.state is State.CLOSED


def test_malformed_submit_gets_its_status_and_the_session_continues() -> None:
    session = smsc_bound()
    body = encode_pdu(SubmitSm(5))[16:]
    bad = body[:3] + b"9" * 30 + body[3:]  # source_addr of 30 octets
    events = session.receive_data(HEADER.pack(16 + len(bad), c.SUBMIT_SM, 0, 5) + bad, 1.0)
    assert only_sent(events) == SubmitSmResp(5, c.ESME_RINVSRCADR)
    (event,) = feed(session, SubmitSm(6))
    assert isinstance(event, RequestReceived)


def test_malformed_submit_before_bind_gets_rinvbndsts() -> None:
    events = smsc().receive_data(HEADER.pack(20, c.SUBMIT_SM, 0, 5) + b"\0\0\0\0", 1.0)
    assert only_sent(events) == SubmitSmResp(5, c.ESME_RINVBNDSTS)


def test_malformed_bind_gets_the_field_status() -> None:
    body = b"x" * 20 + b"\0" + encode_pdu(BindTransmitter())[17:]
    events = smsc().receive_data(HEADER.pack(16 + len(body), c.BIND_TRANSMITTER, 0, 1) + body, 1.0)
    assert only_sent(events) == BindTransmitterResp(1, c.ESME_RINVSYSID)


# --- correlation and window --------------------------------------------------------------------
def test_responses_correlate_by_sequence_in_any_order() -> None:
    session = esme_bound(window_outstanding_max=3)
    seqs = [decode_pdu(session.send_request(SubmitSm(), 1.0, context=i)).sequence_number for i in range(3)]
    assert seqs == [2, 3, 4]
    events = feed(session, SubmitSmResp(4, 0, "c"), SubmitSmResp(2, 0, "a"), GenericNack(3, c.ESME_RSYSERR))
    assert [(e.context, type(e.response).__name__) for e in events] == [  # type: ignore[union-attr]
        (2, "SubmitSmResp"),
        (0, "SubmitSmResp"),
        (1, "GenericNack"),
    ]
    assert events[0].request.sequence_number == 4  # type: ignore[union-attr]
    assert session.outstanding == 0


def test_unexpected_responses_are_reported_not_acted_on() -> None:
    session = esme_bound()
    session.send_request(SubmitSm(), 1.0)
    events = feed(session, SubmitSmResp(99), DeliverSmResp(2), GenericNack(77))
    assert [type(e) for e in events] == [UnexpectedPdu] * 3
    assert session.outstanding == 1


def test_malformed_response_fails_its_request() -> None:
    session = esme_bound()
    session.send_request(SubmitSm(), 1.0, context="m1")
    events = session.receive_data(HEADER.pack(20, c.SUBMIT_SM_RESP, 0, 2) + b"abcd", 1.0)
    assert events == [RequestFailed(events[0].request, "m1", c.ESME_RINVCMDLEN, events[0].reason)]  # type: ignore[union-attr]
    assert session.outstanding == 0 and sent(events) == []


def test_window_is_never_exceeded() -> None:
    session = esme_bound(window_outstanding_max=2)
    session.send_request(SubmitSm(), 1.0)
    session.send_request(SubmitSm(), 1.0)
    assert session.window_available == 0
    with pytest.raises(SmppError) as info:
        session.send_request(SubmitSm(), 1.0)
    assert info.value.status == c.ESME_RTHROTTLED
    session.send_request(EnquireLink(), 1.0)  # keepalives do not take a window slot
    feed(session, SubmitSmResp(2, 0, "a"))
    assert session.window_available == 1
    session.send_request(SubmitSm(), 1.0)


def test_sequence_numbers_wrap_and_skip_outstanding() -> None:
    session = esme_bound(window_outstanding_max=5)
    session._sequence = 0x7FFFFFFE  # white-box: jump to the end of the range
    seqs = [decode_pdu(session.send_request(SubmitSm(), 1.0)).sequence_number for _ in range(3)]
    assert seqs == [0x7FFFFFFF, 1, 2]
    session._sequence = 0x7FFFFFFE
    assert decode_pdu(session.send_request(SubmitSm(), 1.0)).sequence_number == 3  # 0x7FFFFFFF, 1, 2 busy


def test_smsc_limits_from_settings_fit_the_session() -> None:
    session = SmppSession(Role.SMSC, 0.0, SmppLimits(window_outstanding_max=3))
    assert session.window_available == 3


def test_close_fails_outstanding_and_later_responses_are_dropped() -> None:
    session = esme_bound()
    session.send_request(SubmitSm(), 1.0, context="m1")
    feed(session, DeliverSm(50))
    events = session.close("connection lost")
    assert events == [
        RequestFailed(events[0].request, "m1", c.ESME_RSYSERR, "connection lost"),  # type: ignore[union-attr]
        SessionClosed("connection lost"),
    ]
    assert session.send_response(DeliverSmResp(50)) == b""
    assert session.close("again") == []
    with pytest.raises(SmppError):
        session.send_request(SubmitSm(), 2.0)
