"""UCP session state machine, both roles: login, refusals and their ECs, TRN allocation and
matching, the window, timers (login, response, inactivity, OT 31 keepalive) and closing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smpp_bridge.smpp.rules import Role
from smpp_bridge.ucp import (
    Ack,
    CallInput,
    DeliverShortMessage,
    DeliveryNotification,
    Event,
    LoginRequested,
    Message,
    MtAlert,
    Nack,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResultReceived,
    SendData,
    SessionClosed,
    SessionConfig,
    SessionManagement,
    State,
    SubmitShortMessage,
    UcpError,
    UcpSession,
    UnexpectedFrame,
    decode_frame,
    encode,
)
from smpp_bridge.ucp import constants as c

LOGIN = SessionManagement(trn=0, oadc="partner1", oton="6", onpi="5", pwd="secret")
SUBMIT = SubmitShortMessage(trn=5, adc="447700900123", oadc="4477", mt=3, msg=b"hi")
CONFIG = SessionConfig(
    window_outstanding_max=3, response_timeout_s=10, inactivity_timeout_s=100, login_timeout_s=5
)


def sent(events: list[Event]) -> list[Message]:
    return [decode_frame(e.data) for e in events if isinstance(e, SendData)]


def smsc(*, logged_in: bool = True, login_required: bool = True) -> UcpSession:
    session = UcpSession(Role.SMSC, 0.0, CONFIG, login_required=login_required)
    if logged_in and login_required:
        events = session.receive_data(encode(LOGIN), 0.0)
        assert events == [LoginRequested(LOGIN)]
        assert decode_frame(session.accept_login()) == Ack(60, 0)
    return session


def esme(*, logged_in: bool = True, alert: str = "") -> UcpSession:
    session = UcpSession(Role.ESME, 0.0, CONFIG, alert_address=alert)
    if logged_in:
        data = session.send_request(LOGIN, 0.0)
        assert decode_frame(data) == LOGIN
        assert session.receive_data(encode(Ack(60, 0)), 0.0) == [ResultReceived(LOGIN, Ack(60, 0), None)]
    return session


# --- SMSC role ------------------------------------------------------------------------------------
def test_smsc_login_accept_makes_the_session_active() -> None:
    session = smsc()
    assert session.state is State.ACTIVE and session.inbound_pending == 0


def test_smsc_login_reject_stays_open_and_the_login_timer_closes() -> None:
    session = smsc(logged_in=False)
    session.receive_data(encode(LOGIN), 1.0)
    assert decode_frame(session.reject_login()) == Nack(60, 0, c.Ec.AUTHENTICATION_FAILURE)
    assert session.state is State.OPEN
    assert session.next_deadline() == 5.0
    assert session.handle_timer(5.0) == [SessionClosed("login timeout")]
    assert session.next_deadline() is None


def test_smsc_refuses_traffic_before_login_with_ec_04() -> None:
    session = smsc(logged_in=False)
    assert sent(session.receive_data(encode(SUBMIT), 1.0)) == [Nack(51, 5, c.Ec.OPERATION_NOT_ALLOWED)]


def test_smsc_refuses_smsc_operations_with_ec_03() -> None:
    session = smsc()
    deliver = DeliverShortMessage(trn=7, adc="1", mt=3, msg=b"x")
    assert sent(session.receive_data(encode(deliver), 1.0)) == [Nack(52, 7, c.Ec.OPERATION_NOT_SUPPORTED)]


def test_smsc_refuses_a_second_login_and_other_session_types() -> None:
    session = smsc()
    assert sent(session.receive_data(encode(LOGIN), 1.0)) == [Nack(60, 0, c.Ec.OPERATION_NOT_ALLOWED)]
    fresh = smsc(logged_in=False)
    change_password = SessionManagement(trn=1, oadc="x", styp="3", pwd="a", npwd="b")
    assert sent(fresh.receive_data(encode(change_password), 1.0)) == [
        Nack(60, 1, c.Ec.OPERATION_NOT_SUPPORTED)
    ]
    fresh.receive_data(encode(LOGIN), 1.0)
    assert sent(fresh.receive_data(encode(LOGIN), 1.0)) == []  # same TRN still pending: dropped


def test_smsc_without_login_is_active_at_once() -> None:
    session = smsc(login_required=False)
    assert session.state is State.ACTIVE
    assert session.receive_data(encode(SUBMIT), 1.0) == [RequestReceived(SUBMIT)]


def test_smsc_submit_and_result() -> None:
    session = smsc()
    assert session.receive_data(encode(SUBMIT), 1.0) == [RequestReceived(SUBMIT)]
    assert session.inbound_pending == 1
    ack = Ack(51, 5, "447700900123:010125120000")
    assert decode_frame(session.send_result(ack)) == ack
    assert session.inbound_pending == 0
    with pytest.raises(UcpError):
        session.send_result(ack)  # already answered


def test_a_repeated_trn_is_dropped_while_pending() -> None:
    session = smsc()
    session.receive_data(encode(SUBMIT), 1.0)
    events = session.receive_data(encode(SUBMIT), 2.0)
    assert len(events) == 1 and isinstance(events[0], UnexpectedFrame)
    session.send_result(Nack(51, 5, c.Ec.ADC_INVALID))
    assert session.receive_data(encode(SUBMIT), 3.0) == [RequestReceived(SUBMIT)]  # a new operation


def test_result_must_match_trn_and_ot() -> None:
    session = smsc()
    session.receive_data(encode(SUBMIT), 1.0)
    with pytest.raises(UcpError):
        session.send_result(Ack(52, 5))
    with pytest.raises(UcpError):
        session.send_result(Ack(51, 6))
    with pytest.raises(UcpError):
        session.send_result(Ack(60, 0))  # logins go through accept_login


def test_alert_is_answered_automatically_in_every_state() -> None:
    for session in (smsc(logged_in=False), smsc()):
        assert sent(session.receive_data(encode(MtAlert(trn=9, adc="1234")), 1.0)) == [Ack(31, 9)]


def test_checksum_and_syntax_errors_are_answered() -> None:
    session = smsc()
    data = bytearray(encode(SUBMIT))
    data[-2] = ord("0") if data[-2] != ord("0") else ord("1")
    assert sent(session.receive_data(bytes(data), 1.0)) == [Nack(51, 5, c.Ec.CHECKSUM_ERROR)]
    bad = encode(SUBMIT).replace(b"/447700900123/", b"/44770090012X/")
    body = bad[1:-3]
    bad = bad[:-3] + f"{sum(body) % 256:02X}".encode() + b"\x03"
    assert sent(session.receive_data(bad, 1.0)) == [Nack(51, 5, c.Ec.ADC_INVALID)]


def test_a_malformed_forbidden_operation_gets_the_refusal_ec() -> None:
    session = smsc(logged_in=False)
    bad = encode(SUBMIT).replace(b"/447700900123/", b"/44770090012X/")
    body = bad[1:-3]
    bad = bad[:-3] + f"{sum(body) % 256:02X}".encode() + b"\x03"
    assert sent(session.receive_data(bad, 1.0)) == [Nack(51, 5, c.Ec.OPERATION_NOT_ALLOWED)]


def test_unreadable_frames_are_dropped_with_an_event() -> None:
    session = smsc()
    events = session.receive_data(b"\x02garbage\x03", 1.0)
    assert len(events) == 1 and isinstance(events[0], UnexpectedFrame) and events[0].message is None


def test_smsc_sends_notifications_and_matches_results() -> None:
    session = smsc()
    dlr = DeliveryNotification(adc="4477", oadc="447700900123", scts="010125120000", dst="0", mt=3, msg=b"ok")
    data = session.send_request(dlr, 1.0, context="mt-1")
    sent_op = decode_frame(data)
    assert isinstance(sent_op, DeliveryNotification) and sent_op.trn == 0
    events = session.receive_data(encode(Ack(53, 0, "010125120000")), 2.0)
    assert events == [ResultReceived(sent_op, Ack(53, 0, "010125120000"), "mt-1")]
    assert session.outstanding == 0


def test_smsc_cannot_submit() -> None:
    with pytest.raises(UcpError) as info:
        smsc().send_request(SUBMIT, 1.0)
    assert info.value.ec == c.Ec.OPERATION_NOT_ALLOWED and not info.value.throttled


def test_inactivity_closes_and_fails_what_is_outstanding() -> None:
    session = smsc()
    session.send_request(DeliverShortMessage(adc="1", mt=3, msg=b"x"), 0.0, "ctx")
    session.receive_data(encode(MtAlert(trn=1, adc="1")), 95.0)  # traffic, but no result
    events = session.handle_timer(10.0)
    assert [type(e) for e in events] == [RequestTimedOut]
    assert session.handle_timer(194.9) == []
    assert session.handle_timer(195.0) == [SessionClosed("inactivity timeout")]


# --- SMT (ESME) role ------------------------------------------------------------------------------
def test_esme_login_flow() -> None:
    session = esme(logged_in=False)
    assert session.state is State.OPEN
    with pytest.raises(UcpError):
        session.send_request(SUBMIT, 0.0)  # not before login
    session.send_request(LOGIN, 0.0)
    with pytest.raises(UcpError):
        session.send_request(LOGIN, 0.0)  # one login at a time
    events = session.receive_data(encode(Nack(60, 0, 7)), 1.0)
    assert isinstance(events[0], ResultReceived) and not events[0].ok
    assert session.state is State.OPEN
    trn = decode_frame(session.send_request(LOGIN, 1.0)).trn  # type: ignore[union-attr]
    session.receive_data(encode(Ack(60, trn)), 2.0)
    assert session.state is State.ACTIVE
    with pytest.raises(UcpError):
        session.send_request(LOGIN, 2.0)  # not once logged in


def test_esme_without_login() -> None:
    session = UcpSession(Role.ESME, 0.0, CONFIG, login_required=False)
    assert session.state is State.ACTIVE
    session.send_request(SUBMIT, 0.0)


def test_trns_are_allocated_cyclically_and_skip_outstanding_ones() -> None:
    session = UcpSession(Role.ESME, 0.0, SessionConfig(window_outstanding_max=100), login_required=False)
    trns = []
    for _ in range(99):
        op = decode_frame(session.send_request(SUBMIT, 0.0))
        assert isinstance(op, SubmitShortMessage)
        trns.append(op.trn)
    assert trns == list(range(99))
    session.receive_data(encode(Ack(51, 3, "1:010125120000")), 0.0)
    assert decode_frame(session.send_request(SUBMIT, 0.0)).trn == 99  # type: ignore[union-attr]
    assert decode_frame(session.send_request(SUBMIT, 0.0)).trn == 3  # type: ignore[union-attr]
    with pytest.raises(UcpError) as info:
        session.send_request(SUBMIT, 0.0)
    assert info.value.throttled


def test_the_window_counts_traffic_not_control() -> None:
    session = esme(alert="1234")
    for _ in range(3):
        session.send_request(SUBMIT, 1.0)
    assert session.window_available == 0
    with pytest.raises(UcpError) as info:
        session.send_request(SUBMIT, 1.0)
    assert info.value.throttled and info.value.ec == c.Ec.OPERATION_NOT_ALLOWED
    session.send_request(MtAlert(adc="1234"), 1.0)  # control still goes out
    session.receive_data(encode(Nack(51, 2, c.Ec.MESSAGE_TOO_LONG)), 2.0)
    assert session.window_available == 1


def test_results_are_matched_by_trn_and_ot() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")  # TRN 1 (0 was the login)
    events = session.receive_data(encode(Ack(52, 1)), 2.0)
    assert isinstance(events[0], UnexpectedFrame)
    events = session.receive_data(encode(Ack(51, 7, "1:2")), 2.0)
    assert isinstance(events[0], UnexpectedFrame)
    events = session.receive_data(encode(Nack(51, 1, 6)), 2.0)
    assert isinstance(events[0], ResultReceived) and events[0].context == "a" and not events[0].ok


def test_malformed_result_fails_the_request() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    bad = b"\x0201/00022/R/51/N/XX//00\x03"
    body = bad[1:-3]
    bad = bad[:-3] + f"{sum(body) % 256:02X}".encode() + b"\x03"
    events = session.receive_data(bad, 2.0)
    assert len(events) == 1 and isinstance(events[0], RequestFailed)
    assert (events[0].context, events[0].ec) == ("a", c.Ec.SYNTAX_ERROR)
    assert session.outstanding == 0


def test_response_timeout_and_control_timeout() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    assert session.next_deadline() == 11.0
    assert session.handle_timer(11.0) == [RequestTimedOut(replace(SUBMIT, trn=1), "a")]
    assert session.outstanding == 0 and session.state is State.ACTIVE
    fresh = esme(logged_in=False)
    fresh.send_request(LOGIN, 0.0)
    events = fresh.handle_timer(10.0)
    assert [type(e) for e in events] == [RequestTimedOut, SessionClosed]


def test_keepalive_alert_after_idle_and_its_result_is_internal() -> None:
    session = esme(alert="1234")
    assert session.next_deadline() == 30.0
    events = session.handle_timer(30.0)
    assert sent(events) == [MtAlert(trn=1, adc="1234", pid="0539")]
    assert session.next_deadline() == 40.0  # the alert's own result deadline
    assert session.receive_data(encode(Ack(31, 1)), 31.0) == []
    assert session.next_deadline() == 61.0


def test_unanswered_keepalive_closes() -> None:
    session = esme(alert="1234")
    session.handle_timer(30.0)
    assert session.handle_timer(40.0) == [SessionClosed("mt_alert timed out")]


def test_no_keepalive_without_an_alert_address() -> None:
    session = esme()
    assert session.next_deadline() == 100.0
    assert session.handle_timer(30.0) == []


def test_esme_receives_mo_notifications_and_kannel_style_call_input() -> None:
    session = esme()
    mo = DeliverShortMessage(trn=4, adc="4477", oadc="447700900123", scts="010125120000", mt=3, msg=b"HELP")
    assert session.receive_data(encode(mo), 1.0) == [RequestReceived(mo)]
    call = CallInput(trn=5, adc="4477", oadc="447700900123", mt=3, msg=b"STOP")
    assert session.receive_data(encode(call), 1.0) == [RequestReceived(call)]
    assert decode_frame(session.send_result(Ack(52, 4, "4477:010125120000"))) == Ack(
        52, 4, "4477:010125120000"
    )
    assert sent(session.receive_data(encode(replace(SUBMIT, trn=6)), 1.0)) == [
        Nack(51, 6, c.Ec.OPERATION_NOT_SUPPORTED)
    ]


def test_close_fails_outstanding_then_ends() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    session.receive_data(encode(DeliverShortMessage(trn=4, adc="1", mt=3, msg=b"x")), 1.0)
    events = session.close("connection lost")
    assert isinstance(events[0], RequestFailed) and events[0].ec is None and events[0].context == "a"
    assert events[-1] == SessionClosed("connection lost")
    assert session.close("again") == []
    assert session.receive_data(encode(Ack(51, 1)), 2.0) == []
    assert session.send_result(Ack(52, 4)) == b""
    assert session.state is State.CLOSED and session.next_deadline() is None


def test_window_limit_is_validated() -> None:
    with pytest.raises(ValueError):
        UcpSession(Role.ESME, 0.0, SessionConfig(window_outstanding_max=101))
