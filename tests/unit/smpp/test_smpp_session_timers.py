"""Session timers (bind, enquire_link, response, inactivity) and random two-party traffic."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import hypothesis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.smpp import (
    BindRequested,
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Event,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Role,
    SendData,
    SessionClosed,
    SessionConfig,
    SmppError,
    SmppSession,
    State,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnexpectedPdu,
    decode_pdu,
)
from smpp_bridge.smpp import constants as c

from .test_smpp_session import esme_bound, feed, sent, smsc, smsc_bound


def test_bind_timeout_closes_an_open_session() -> None:
    session = smsc(bind_timeout_s=10.0)
    assert session.next_deadline() == 10.0
    assert session.handle_timer(9.9) == []
    feed(session, BindTransceiver(1), now=5.0)  # a bind the application never answers
    assert session.handle_timer(10.0) == [SessionClosed("bind timeout")]
    assert session.state is State.CLOSED and session.handle_timer(99.0) == []


def test_esme_bind_without_answer_fails_and_closes() -> None:
    session = SmppSession(Role.ESME, 0.0, SessionConfig(bind_timeout_s=10.0))
    session.send_request(BindTransceiver(), 0.0, context="bind")
    events = session.handle_timer(10.0)
    assert events == [
        RequestFailed(events[0].request, "bind", c.ESME_RSYSERR, "bind timeout"),
        SessionClosed("bind timeout"),
    ]  # type: ignore[union-attr]


def test_enquire_link_after_idle_interval_and_its_answer() -> None:
    session = smsc_bound(enquire_link_interval_s=30.0)
    assert session.next_deadline() == 31.0  # last data at t=1
    assert session.handle_timer(30.0) == []
    (probe,) = sent(session.handle_timer(31.0))
    assert isinstance(probe, EnquireLink)
    assert session.next_deadline() == 61.0  # its response timer
    assert session.handle_timer(40.0) == []  # only one probe at a time
    assert feed(session, EnquireLinkResp(probe.sequence_number), now=42.0) == []  # internal: no event
    assert session.next_deadline() == 72.0


def test_traffic_postpones_enquire_link() -> None:
    session = smsc_bound(enquire_link_interval_s=30.0)
    feed(session, SubmitSm(5), now=20.0)
    assert session.next_deadline() == 50.0
    assert session.handle_timer(49.0) == []


def test_unanswered_enquire_link_closes() -> None:
    session = smsc_bound(enquire_link_interval_s=30.0, response_timeout_s=10.0)
    session.handle_timer(31.0)
    assert session.handle_timer(41.0) == [SessionClosed("enquire_link timed out")]


def test_inactivity_closes() -> None:
    session = smsc_bound(enquire_link_interval_s=1000.0, inactivity_timeout_s=120.0)
    assert session.next_deadline() == 121.0
    assert session.handle_timer(121.0) == [SessionClosed("inactivity timeout")]


def test_response_timeout_frees_the_window_and_late_response_is_unexpected() -> None:
    session = esme_bound(window_outstanding_max=1, response_timeout_s=30.0, enquire_link_interval_s=1000.0)
    session.send_request(SubmitSm(), 2.0, context="m1")
    assert session.window_available == 0
    assert session.next_deadline() == 32.0
    events = session.handle_timer(32.0)
    assert events == [RequestTimedOut(events[0].request, "m1")]  # type: ignore[union-attr]
    assert session.window_available == 1 and session.state is State.BOUND_TRX
    (event,) = feed(session, SubmitSmResp(2, 0, "late"), now=33.0)
    assert isinstance(event, UnexpectedPdu)


def test_timeouts_expire_in_order() -> None:
    session = esme_bound(window_outstanding_max=5, response_timeout_s=10.0, enquire_link_interval_s=1000.0)
    for i in range(3):
        session.send_request(SubmitSm(), 1.0 + i, context=i)
    feed(session, SubmitSmResp(3), now=4.0)  # the middle one is answered
    events = session.handle_timer(20.0)
    assert [e.context for e in events] == [0, 2]  # type: ignore[union-attr]


def test_enquire_link_sent_by_the_application_is_reported() -> None:
    session = esme_bound()
    seq = decode_pdu(session.send_request(EnquireLink(), 1.0, context="ping")).sequence_number
    (event,) = feed(session, EnquireLinkResp(seq))
    assert isinstance(event, ResponseReceived) and event.context == "ping"


# --- two sessions talking, random operations ----------------------------------------------------
OPS = ["submit"] * 4 + ["answer"] * 3 + ["pump"] * 3 + ["deliver", "answer_mo", "tick", "garbage", "drop"]


class Pair:
    """An ESME and an SMSC session joined by in-memory pipes; the SMSC accepts every bind."""

    def __init__(self, window: int) -> None:
        limits = SessionConfig(window_outstanding_max=window, response_timeout_s=20.0)
        self.now = 0.0
        self.esme = SmppSession(Role.ESME, 0.0, limits)
        self.smsc = SmppSession(Role.SMSC, 0.0, limits)
        self.to_smsc: list[bytes] = []
        self.to_esme: list[bytes] = []
        self.mt_pending: list[int] = []
        self.mo_pending: list[int] = []
        self.outcomes: Counter[object] = Counter()
        self.sent: set[object] = set()
        self.to_smsc.append(self.esme.send_request(BindTransceiver(system_id="e"), 0.0))

    def handle(self, events: list[Event], side: str) -> None:
        for event in events:
            if isinstance(event, SendData):
                (self.to_esme if side == "smsc" else self.to_smsc).append(event.data)
            elif isinstance(event, BindRequested):
                self.to_esme.append(self.smsc.accept_bind("s"))
            elif isinstance(event, RequestReceived):
                pending = self.mt_pending if side == "smsc" else self.mo_pending
                pending.append(event.pdu.sequence_number)
            elif (
                isinstance(event, ResponseReceived | RequestTimedOut | RequestFailed)
                and side == "esme"
                and isinstance(event.request, SubmitSm)
            ):
                self.outcomes[event.context] += 1

    def pump(self) -> None:
        while self.to_smsc or self.to_esme:
            if self.to_smsc:
                self.handle(self.smsc.receive_data(self.to_smsc.pop(0), self.now), "smsc")
            if self.to_esme:
                self.handle(self.esme.receive_data(self.to_esme.pop(0), self.now), "esme")

    def step(self, op: str, arg: int) -> None:
        if op == "submit":
            context = len(self.sent)
            try:
                self.to_smsc.append(self.esme.send_request(SubmitSm(destination_addr="1"), self.now, context))
                self.sent.add(context)
            except SmppError as exc:
                assert exc.status in (c.ESME_RTHROTTLED, c.ESME_RINVBNDSTS)
        elif op == "answer" and self.mt_pending:
            seq = self.mt_pending.pop(0)
            status = c.ESME_RTHROTTLED if arg == 0 else 0
            self.to_esme.append(self.smsc.send_response(SubmitSmResp(seq, status, f"id{seq}")))
        elif op == "deliver":
            try:
                self.to_esme.append(self.smsc.send_request(DeliverSm(short_message=b"mo"), self.now))
            except SmppError as exc:
                assert exc.status in (c.ESME_RTHROTTLED, c.ESME_RINVBNDSTS)
        elif op == "answer_mo" and self.mo_pending:
            self.to_smsc.append(self.esme.send_response(DeliverSmResp(self.mo_pending.pop(0))))
        elif op == "pump":
            self.pump()
        elif op == "tick":
            self.now += 7.0 * arg
            self.handle(self.esme.handle_timer(self.now), "esme")
            self.handle(self.smsc.handle_timer(self.now), "smsc")
        elif op == "garbage":
            self.to_smsc.append(bytes([arg]) * (arg + 1))
        elif op == "drop" and arg == 0:
            self.handle(self.esme.close("dropped"), "esme")
            self.handle(self.smsc.close("dropped"), "smsc")
        assert self.esme.outstanding <= self.esme._window_max
        assert self.smsc.outstanding <= self.smsc._window_max


@given(
    st.integers(1, 5), st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 5)), min_size=5, max_size=100)
)
@settings(max_examples=400, deadline=timedelta(seconds=2))
def test_random_traffic_keeps_the_window_and_settles_every_request(
    window: int, ops: list[tuple[str, int]]
) -> None:
    pair = Pair(window)
    pair.pump()
    for op, arg in ops:
        pair.step(op, arg)
    hypothesis.event(f"esme ended {pair.esme.state}")
    hypothesis.event(f"submits sent: {min(len(pair.sent), 10)}{'+' if len(pair.sent) >= 10 else ''}")
    pair.handle(pair.esme.close("end"), "esme")
    # every submit that went out ends in exactly one outcome: answered, timed out or failed
    assert {ctx: n for ctx, n in pair.outcomes.items() if n != 1} == {}
    assert set(pair.outcomes) == pair.sent


@pytest.mark.parametrize("window", [1, 10, 100])
def test_full_exchange_between_two_sessions(window: int) -> None:
    pair = Pair(window)
    pair.pump()
    assert pair.esme.state is State.BOUND_TRX and pair.smsc.state is State.BOUND_TRX
    for _ in range(window):
        pair.step("submit", 1)
    assert pair.esme.window_available == 0
    pair.pump()
    for _ in range(window):
        pair.step("answer", 1)
    pair.pump()
    assert pair.esme.outstanding == 0 and sum(pair.outcomes.values()) == window


def test_unanswered_unbind_closes() -> None:
    session = esme_bound(response_timeout_s=5.0, enquire_link_interval_s=1000.0)
    session.send_request(Unbind(), 2.0, context="bye")
    assert session.next_deadline() == 7.0
    events = session.handle_timer(7.0)
    assert events == [RequestTimedOut(events[0].request, "bye"), SessionClosed("unbind timed out")]  # type: ignore[union-attr]


def test_crossing_unbinds_close_cleanly() -> None:
    session = smsc_bound()
    session.send_request(Unbind(), 1.0)
    events = feed(session, Unbind(40), now=2.0)
    assert sent(events) == [UnbindResp(40)]
    assert isinstance(events[-1], SessionClosed) and session.state is State.CLOSED
