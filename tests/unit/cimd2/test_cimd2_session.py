"""CIMD2 session state machine, both roles: login, logout, packet numbers (odd/even, NACK,
retransmission), refusals and their codes, windowing, timers and closing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smpp_bridge.cimd2 import (
    Alive,
    Cimd2Error,
    Cimd2Session,
    Code,
    DeliverMessage,
    DeliverStatusReport,
    Event,
    Login,
    LoginRequested,
    Logout,
    Message,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    Response,
    ResponseReceived,
    SendData,
    SessionClosed,
    SessionConfig,
    State,
    SubmitMessage,
    UnexpectedPacket,
    decode_frame,
    encode,
)
from smpp_bridge.cimd2 import constants as c
from smpp_bridge.smpp.rules import Role

LOGIN = Login(number=1, user_identity="partner1", password="secret")
SUBMIT = SubmitMessage(number=3, destination_address="358401234567", user_data="hi")
CONFIG = SessionConfig(
    window_outstanding_max=3, response_timeout_s=10, inactivity_timeout_s=100, login_timeout_s=5
)


def sent(events: list[Event]) -> list[Message]:
    return [decode_frame(e.data) for e in events if isinstance(e, SendData)]


def smsc(*, logged_in: bool = True) -> Cimd2Session:
    session = Cimd2Session(Role.SMSC, 0.0, CONFIG)
    if logged_in:
        assert session.receive_data(encode(LOGIN), 0.0) == [LoginRequested(LOGIN)]
        assert decode_frame(session.accept_login()) == Response(51, 1)
    return session


def esme(*, logged_in: bool = True) -> Cimd2Session:
    session = Cimd2Session(Role.ESME, 0.0, CONFIG)
    if logged_in:
        assert decode_frame(session.send_request(LOGIN, 0.0)) == LOGIN
        assert session.receive_data(encode(Response(51, 1)), 0.0) == [
            ResponseReceived(LOGIN, Response(51, 1))
        ]
    return session


# --- SMSC (MC) role -------------------------------------------------------------------------------
def test_smsc_login_accept_and_reject() -> None:
    assert smsc().state is State.ACTIVE
    session = smsc(logged_in=False)
    session.receive_data(encode(LOGIN), 1.0)
    assert decode_frame(session.reject_login()) == Response(51, 1, error_code=Code.INVALID_LOGIN)
    assert session.state is State.OPEN
    with pytest.raises(Cimd2Error):
        session.reject_login()  # nothing pending any more
    assert session.handle_timer(5.0) == [SessionClosed("login timeout")]


def test_smsc_refuses_submit_before_login_with_code_1() -> None:
    session = smsc(logged_in=False)
    assert sent(session.receive_data(encode(SUBMIT), 1.0)) == [
        Response(53, 3, error_code=Code.UNEXPECTED_OPERATION)
    ]


def test_smsc_submit_and_response() -> None:
    session = smsc()
    assert session.receive_data(encode(SUBMIT), 1.0) == [RequestReceived(SUBMIT)]
    answer = Response(53, 3, destination_address="358401234567", mc_timestamp="010125120000")
    assert decode_frame(session.send_response(answer)) == answer
    with pytest.raises(Cimd2Error):
        session.send_response(answer)
    with pytest.raises(Cimd2Error):
        session.send_response(Response(70, 5))


def test_wrong_parity_gets_a_nack_with_the_expected_number() -> None:
    session = smsc()
    even = replace(SUBMIT, number=4)
    assert sent(session.receive_data(encode(even), 1.0)) == [Response(c.NACK, 3)]
    session.receive_data(encode(SUBMIT), 1.0)
    assert sent(session.receive_data(encode(replace(SUBMIT, number=6)), 1.0)) == [Response(c.NACK, 5)]


def test_retransmission_is_answered_again_once_and_a_pending_copy_is_dropped() -> None:
    session = smsc()
    session.receive_data(encode(SUBMIT), 1.0)
    events = session.receive_data(encode(SUBMIT), 1.5)
    assert len(events) == 1 and isinstance(events[0], UnexpectedPacket)  # still pending
    answer = session.send_response(Response(53, 3, mc_timestamp="010125120000"))
    assert session.receive_data(encode(SUBMIT), 2.0) == [SendData(answer)]  # lost response: again
    assert session.receive_data(encode(SUBMIT), 3.0) == [RequestReceived(SUBMIT)]  # a third: new


def test_login_retransmission_gets_the_same_answer() -> None:
    session = smsc(logged_in=False)
    session.receive_data(encode(LOGIN), 0.0)
    answer = session.accept_login()
    assert session.receive_data(encode(LOGIN), 1.0) == [SendData(answer)]


def test_checksum_error_gets_a_nack_with_the_packet_number() -> None:
    session = smsc()
    data = bytearray(encode(SUBMIT))
    data[-2] = ord("0") if data[-2] != ord("0") else ord("1")
    assert sent(session.receive_data(bytes(data), 1.0)) == [Response(c.NACK, 3)]


def test_unknown_operation_gets_a_general_error_response() -> None:
    session = smsc()
    data = b"\x0204:003\t\x03"  # enquire message status: not supported here
    assert sent(session.receive_data(data, 1.0)) == [Response(98, 3, error_code=Code.UNEXPECTED_OPERATION)]


def test_malformed_request_gets_its_response_with_the_parameter_code() -> None:
    session = smsc()
    data = b"\x0203:003\t021:12a\t\x03"
    assert sent(session.receive_data(data, 1.0)) == [
        Response(53, 3, error_code=Code.INCORRECT_DESTINATION_ADDRESS)
    ]


def test_smsc_refuses_mc_operations_from_the_peer() -> None:
    session = smsc()
    deliver = DeliverMessage(number=3, destination_address="1", user_data="x")
    assert sent(session.receive_data(encode(deliver), 1.0)) == [
        Response(70, 3, error_code=Code.UNEXPECTED_OPERATION)
    ]


def test_alive_is_answered_and_logout_closes() -> None:
    session = smsc()
    assert sent(session.receive_data(encode(Alive(number=3)), 1.0)) == [Response(90, 3)]
    events = session.receive_data(encode(Logout(number=5)), 2.0)
    assert sent(events) == [Response(52, 5)] and events[-1] == SessionClosed("logout received")


def test_smsc_numbers_its_requests_even_and_matches_responses() -> None:
    session = smsc()
    numbers = []
    for i in range(3):
        report = DeliverStatusReport(destination_address="1", mc_timestamp="010125120000", status_code=4)
        packet = decode_frame(session.send_request(report, 1.0, context=i))
        numbers.append(packet.number)  # type: ignore[union-attr]
    assert numbers == [0, 2, 4]
    with pytest.raises(Cimd2Error) as info:
        session.send_request(DeliverMessage(destination_address="1"), 1.0)
    assert info.value.throttled
    events = session.receive_data(encode(Response(73, 2)), 2.0)
    assert isinstance(events[0], ResponseReceived) and events[0].context == 1 and events[0].response.ok
    events = session.receive_data(encode(Response(70, 4)), 2.0)
    assert isinstance(events[0], UnexpectedPacket)  # number 4 is a status report, not a deliver


def test_smsc_cannot_submit() -> None:
    with pytest.raises(Cimd2Error):
        smsc().send_request(SUBMIT, 0.0)


# --- ESME (SME) role ------------------------------------------------------------------------------
def test_esme_login_gets_number_001_and_activates() -> None:
    session = esme(logged_in=False)
    with pytest.raises(Cimd2Error):
        session.send_request(SUBMIT, 0.0)
    assert decode_frame(session.send_request(LOGIN, 0.0)).number == 1  # type: ignore[union-attr]
    with pytest.raises(Cimd2Error):
        session.send_request(LOGIN, 0.0)
    session.receive_data(encode(Response(51, 1, error_code=100)), 1.0)
    assert session.state is State.OPEN
    assert decode_frame(session.send_request(LOGIN, 1.0)).number == 3  # type: ignore[union-attr]
    session.receive_data(encode(Response(51, 3)), 2.0)
    assert session.state is State.ACTIVE


def test_esme_numbers_are_odd_and_wrap() -> None:
    session = Cimd2Session(Role.ESME, 0.0, SessionConfig(window_outstanding_max=127))
    session.send_request(LOGIN, 0.0)
    session.receive_data(encode(Response(51, 1)), 0.0)
    numbers = []
    for _ in range(128):
        packet = decode_frame(session.send_request(SUBMIT, 0.0))
        numbers.append(packet.number)  # type: ignore[union-attr]
        session.receive_data(encode(Response(53, packet.number)), 0.0)  # type: ignore[union-attr]
    assert numbers[:3] == [3, 5, 7] and numbers[126:] == [255, 1]
    assert all(n % 2 == 1 for n in numbers)


def test_next_number_still_outstanding_means_throttled() -> None:
    session = Cimd2Session(Role.ESME, 0.0, SessionConfig(window_outstanding_max=127))
    session.send_request(LOGIN, 0.0)
    session.receive_data(encode(Response(51, 1)), 0.0)
    for _ in range(127):
        session.send_request(SUBMIT, 0.0)
    with pytest.raises(Cimd2Error) as info:
        session.send_request(SUBMIT, 0.0)
    assert info.value.throttled and info.value.code == Code.TEMPORARY_CONGESTION


def test_window_counts_traffic_not_alive() -> None:
    session = esme()
    for _ in range(3):
        session.send_request(SUBMIT, 1.0)
    with pytest.raises(Cimd2Error) as info:
        session.send_request(SUBMIT, 1.0)
    assert info.value.throttled
    session.send_request(Alive(), 1.0)
    assert session.outstanding == 3


def test_nack_refuses_the_request_it_names_or_the_latest_one() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")  # 3
    session.send_request(SUBMIT, 1.0, "b")  # 5
    events = session.receive_data(encode(Response(c.NACK, 3)), 2.0)
    assert isinstance(events[0], ResponseReceived) and events[0].context == "a" and not events[0].response.ok
    events = session.receive_data(encode(Response(c.NACK, 9)), 2.0)  # "I expected 009"
    assert isinstance(events[0], ResponseReceived) and events[0].context == "b"
    assert decode_frame(session.send_request(SUBMIT, 2.0)).number == 9  # type: ignore[union-attr]


def test_general_error_response_and_malformed_response() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")  # 3
    events = session.receive_data(encode(Response(98, 3, error_code=1)), 2.0)
    assert isinstance(events[0], ResponseReceived) and events[0].response.error_code == 1
    session.send_request(SUBMIT, 2.0, "b")  # 5
    events = session.receive_data(b"\x0253:005\t060:12\t\x03", 3.0)
    assert isinstance(events[0], RequestFailed) and events[0].context == "b" and events[0].code == 8


def test_esme_receives_mo_and_reports_and_answers_alive() -> None:
    session = esme()
    mo = DeliverMessage(
        number=0, destination_address="4477", originating_address="358401234567", user_data="HELP"
    )
    report = DeliverStatusReport(
        number=2, destination_address="358401234567", mc_timestamp="010125120000", status_code=4
    )
    assert session.receive_data(encode(mo), 1.0) == [RequestReceived(mo)]
    assert session.receive_data(encode(report), 1.0) == [RequestReceived(report)]
    assert decode_frame(session.send_response(Response(70, 0))) == Response(70, 0)
    assert decode_frame(session.send_response(Response(73, 2))) == Response(73, 2)
    assert sent(session.receive_data(encode(Alive(number=4)), 1.0)) == [Response(90, 4)]
    assert sent(session.receive_data(encode(replace(mo, number=7)), 1.0)) == [Response(c.NACK, 6)]


def test_esme_logout() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    data = session.send_request(Logout(), 1.0)
    assert session.state is State.LOGGING_OUT
    with pytest.raises(Cimd2Error):
        session.send_request(SUBMIT, 1.0)
    mo = DeliverMessage(number=0, destination_address="4477", user_data="late")
    assert session.receive_data(encode(mo), 1.5) == [RequestReceived(mo)]  # still answered
    events = session.receive_data(encode(Response(52, decode_frame(data).number)), 2.0)  # type: ignore[union-attr]
    assert isinstance(events[0], ResponseReceived)
    assert isinstance(events[1], RequestFailed) and events[1].context == "a"
    assert events[-1] == SessionClosed("logged out")


def test_keepalive_alive_after_idle_and_its_timeout_closes() -> None:
    session = esme()
    assert session.next_deadline() == 30.0
    events = session.handle_timer(30.0)
    assert sent(events) == [Alive(number=3)]
    assert session.receive_data(encode(Response(90, 3)), 31.0) == []
    assert session.next_deadline() == 61.0
    session.handle_timer(61.0)
    assert session.handle_timer(71.0) == [SessionClosed("alive timed out")]


def test_response_timeout_then_inactivity() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    assert session.handle_timer(11.0) == [RequestTimedOut(replace(SUBMIT, number=3), "a")]
    session = smsc()
    assert session.handle_timer(30.0) != []  # the MC sends alive too
    session.receive_data(encode(Response(90, 0)), 30.0)
    assert session.handle_timer(130.0) == [SessionClosed("inactivity timeout")]


def test_close_fails_outstanding_and_is_final() -> None:
    session = esme()
    session.send_request(SUBMIT, 1.0, "a")
    events = session.close("connection lost")
    assert isinstance(events[0], RequestFailed) and events[0].code is None
    assert events[-1] == SessionClosed("connection lost")
    assert session.close("again") == [] and session.receive_data(encode(Alive(number=2)), 2.0) == []
    assert session.send_response(Response(70, 0)) == b"" and session.next_deadline() is None


def test_without_checksum() -> None:
    session = Cimd2Session(Role.ESME, 0.0, checksum=False)
    assert session.send_request(LOGIN, 0.0) == encode(LOGIN, with_checksum=False)


def test_window_limit_is_validated() -> None:
    with pytest.raises(ValueError):
        Cimd2Session(Role.ESME, 0.0, SessionConfig(window_outstanding_max=128))
