"""The CIMD2 session state machine, for both roles, without I/O.

Same loop as :class:`smpp_bridge.smpp.SmppSession` and :class:`smpp_bridge.ucp.UcpSession`::

    events = session.receive_data(chunk, now)     # on every read
    events = session.handle_timer(now)            # when session.next_deadline() is reached
    data = session.send_request(packet, now, ctx) # an outgoing request; window-checked, numbered
    data = session.send_response(response)        # answer a RequestReceived
    events = session.close("connection lost")     # on EOF / transport error

Roles: ``Role.SMSC`` (the MC: SMEs log in to us) and ``Role.ESME`` (we are the SME). Our requests
are numbered by :mod:`.rules` (odd for the SME, even for the MC); if the next number is still
outstanding the window is full. Peer requests of the wrong parity get a NACK carrying the number
we expected; a wrong checksum gets a NACK with the packet's number. A retransmission (the number
and opcode of the previous request) that we already answered gets the same response again, once
more; one still awaiting our response is dropped. An unknown operation gets a general error
response (98, code 1); a request the role or state forbids its response with code 1. Logout
received: response, then close. Alive is answered by the session and sent by it after
``keepalive_interval_s`` without traffic. The session never authenticates: a login becomes
:class:`LoginRequested` and the application decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Protocol

from smpp_bridge.smpp.rules import Role

from . import constants as c
from .codec import encode
from .errors import Cimd2Error
from .events import (
    Event,
    LoginRequested,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SendData,
    SessionClosed,
    UnexpectedPacket,
)
from .packets import REQUEST_CLASSES, Alive, Login, Packet, Response
from .rules import CONTROL_OPCODES, State, after, allowed, first_number, peer_parity
from .stream import Cimd2Decoder

NUMBERS_PER_SIDE: Final = (c.NUMBER_MAX + 1) // 2  # 128 odd and 128 even numbers


class SessionLimits(Protocol):
    """The limits a session needs (a ``Cimd2Limits`` settings group would satisfy it)."""

    @property
    def frame_size_bytes_max(self) -> int: ...
    @property
    def window_outstanding_max(self) -> int: ...
    @property
    def keepalive_interval_s(self) -> float: ...
    @property
    def response_timeout_s(self) -> float: ...
    @property
    def inactivity_timeout_s(self) -> float: ...
    @property
    def login_timeout_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SessionConfig:
    frame_size_bytes_max: int = c.FRAME_SIZE_BYTES_MAX_DEFAULT
    window_outstanding_max: int = 10
    keepalive_interval_s: float = 30.0
    response_timeout_s: float = 30.0
    inactivity_timeout_s: float = 120.0
    login_timeout_s: float = 10.0


DEFAULT_LIMITS: Final = SessionConfig()
_INTERNAL: Final = object()  # context of the alive the session sends by itself
_UNEXPECTED: Final = int(c.Code.UNEXPECTED_OPERATION)


class _Outstanding:
    __slots__ = ("context", "counted", "deadline", "request")

    def __init__(self, request: Packet, context: object, deadline: float, counted: bool) -> None:
        self.request = request
        self.context = context
        self.deadline = deadline
        self.counted = counted


class Cimd2Session:
    def __init__(
        self, role: Role, now: float, limits: SessionLimits = DEFAULT_LIMITS, *, checksum: bool = True
    ) -> None:
        """``checksum``: whether the packets we send carry the optional checksum."""
        if not 0 < limits.window_outstanding_max < NUMBERS_PER_SIDE:
            raise ValueError(f"window_outstanding_max must be 1..{NUMBERS_PER_SIDE - 1}")
        self.role = role
        self._checksum = checksum
        self._window_max = limits.window_outstanding_max
        self._keepalive_interval = limits.keepalive_interval_s
        self._response_timeout = limits.response_timeout_s
        self._inactivity_timeout = limits.inactivity_timeout_s
        self._login_deadline = now + limits.login_timeout_s
        self._decoder = Cimd2Decoder(limits.frame_size_bytes_max)
        self._last_rx = now
        self._last_alive = now
        self._next_number = first_number(role)
        self._expected_in = 1 - first_number(role)  # the peer's first number
        self._outstanding: dict[int, _Outstanding] = {}  # by number; insertion = deadline order
        self._window_used = 0
        self._inbound: dict[int, int] = {}  # number -> opcode of the request we owe a response
        self._last_in: tuple[int, int] | None = None  # (number, opcode) of the last peer request
        self._last_answer: bytes | None = None  # our response to it, for one retransmission
        self._pending_login: Login | None = None
        self._alive_outstanding = False
        self._state = State.OPEN
        self._set_state(State.OPEN)

    # --- introspection ------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def outstanding(self) -> int:
        """Traffic requests in the window (awaiting a response; login, logout, alive excluded)."""
        return self._window_used

    @property
    def window_available(self) -> int:
        return self._window_max - self._window_used

    @property
    def inbound_pending(self) -> int:
        return len(self._inbound)

    # --- input --------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        if self._closed():
            return events
        self._last_rx = now
        for item in self._decoder.feed(data):
            if isinstance(item, Cimd2Error):
                self._on_error(item, events)
            elif isinstance(item, Response):
                self._on_response(item, events)
            else:
                self._on_request(item, events)
            if self._closed():
                break
        return events

    def _on_request(self, packet: Packet, events: list[Event]) -> None:
        number, opcode = packet.number, packet.opcode
        if self._repeat(number, opcode, events):
            return
        if number % 2 != peer_parity(self.role):
            self._send(Response(c.NACK, self._expected_in), events)
            return
        self._expected_in = after(number)
        self._last_in, self._last_answer = (number, opcode), None
        if opcode not in self._incoming:
            self._respond(Response(opcode + c.RESPONSE_OFFSET, number, error_code=_UNEXPECTED), events)
        elif opcode == c.ALIVE:
            self._respond(Response(c.ALIVE + c.RESPONSE_OFFSET, number), events)
        elif opcode == c.LOGOUT:
            self._respond(Response(c.LOGOUT + c.RESPONSE_OFFSET, number), events)
            self._close("logout received", events)
        elif isinstance(packet, Login):
            if self._pending_login is not None:
                self._respond(Response(c.LOGIN + c.RESPONSE_OFFSET, number, error_code=_UNEXPECTED), events)
                return
            self._pending_login = packet
            self._inbound[number] = opcode
            events.append(LoginRequested(packet))
        else:
            self._inbound[number] = opcode
            events.append(RequestReceived(packet))

    def _repeat(self, number: int, opcode: int, events: list[Event]) -> bool:
        """A request we have seen: still pending (dropped) or just answered (answer again)."""
        if number in self._inbound:
            events.append(UnexpectedPacket(None, f"packet {number:03d} still awaits our response"))
            return True
        if self._last_in == (number, opcode) and self._last_answer is not None:
            events.append(SendData(self._last_answer))
            self._last_answer = None  # once: a third copy is a new request
            return True
        return False

    def _send(self, response: Response, events: list[Event]) -> bytes:
        data = encode(response, with_checksum=self._checksum)
        events.append(SendData(data))
        return data

    def _respond(self, response: Response, events: list[Event]) -> None:
        self._last_answer = self._send(response, events)

    def _on_error(self, error: Cimd2Error, events: list[Event]) -> None:
        number, opcode = error.number, error.opcode
        if number is None or opcode is None:
            events.append(UnexpectedPacket(None, f"dropped: {error.message}"))
        elif error.transmission:
            self._send(Response(c.NACK, number), events)
        elif opcode >= c.RESPONSE_OFFSET:
            self._on_bad_response(error, number, opcode, events)
        elif number in self._inbound:
            events.append(UnexpectedPacket(None, f"packet {number:03d} still awaits our response"))
        elif opcode not in REQUEST_CLASSES:
            self._send(Response(c.GENERAL_ERROR_RESPONSE, number, error_code=error.code), events)
        else:
            code = error.code if opcode in self._incoming else _UNEXPECTED
            self._send(Response(opcode + c.RESPONSE_OFFSET, number, error_code=code), events)

    def _on_bad_response(self, error: Cimd2Error, number: int, opcode: int, events: list[Event]) -> None:
        entry = self._outstanding.get(number)
        if entry is not None and opcode in (
            entry.request.opcode + c.RESPONSE_OFFSET,
            c.NACK,
            c.GENERAL_ERROR_RESPONSE,
        ):
            self._finish(entry, ok=False)
            if entry.context is not _INTERNAL:
                events.append(RequestFailed(entry.request, entry.context, error.code, error.message))
        else:
            events.append(UnexpectedPacket(None, f"dropped response: {error.message}"))

    def _on_response(self, response: Response, events: list[Event]) -> None:
        entry = self._outstanding.get(response.number)
        if response.opcode == c.NACK and entry is None and self._outstanding:
            # A NACK carrying the number the peer expected: it refuses our latest request.
            entry = next(reversed(self._outstanding.values()))
            if response.number % 2 == first_number(self.role):
                self._next_number = response.number
        expected = (
            (entry.request.opcode + c.RESPONSE_OFFSET, c.NACK, c.GENERAL_ERROR_RESPONSE) if entry else ()
        )
        if entry is None or response.opcode not in expected:
            events.append(UnexpectedPacket(response, "no outstanding request with this number and opcode"))
            return
        self._finish(entry, ok=response.ok)
        if entry.context is not _INTERNAL:
            events.append(ResponseReceived(entry.request, response, entry.context))
        if entry.request.opcode == c.LOGOUT:
            self._close("logged out", events)

    def _finish(self, entry: _Outstanding, *, ok: bool) -> None:
        """Take ``entry`` out of the window and apply what its outcome means for the state."""
        del self._outstanding[entry.request.number]
        self._window_used -= entry.counted
        opcode = entry.request.opcode
        if opcode == c.LOGIN and ok and self._state is State.OPEN:
            self._set_state(State.ACTIVE)
        elif opcode == c.ALIVE:
            self._alive_outstanding = False

    # --- output -------------------------------------------------------------------------------
    def send_request(self, packet: Packet, now: float, context: object = None) -> bytes:
        """Encode ``packet`` with our next packet number and start its response timer.

        Raises :class:`Cimd2Error`: code 1 when the role or state forbids it, code 10 (temporary
        congestion) with ``throttled=True`` when the window is full or the next number is still
        outstanding. ``context`` comes back in the outcome event.
        """
        opcode = packet.opcode
        if opcode not in self._outgoing or (opcode == c.LOGIN and self._login_outstanding()):
            raise Cimd2Error(
                _UNEXPECTED, f"cannot send {c.opcode_name(opcode)} in state {self._state}", opcode=opcode
            )
        counted = opcode not in CONTROL_OPCODES
        number = self._next_number
        if (counted and self._window_used >= self._window_max) or number in self._outstanding:
            message = f"window of {self._window_max} outstanding requests is full (next number {number:03d})"
            raise Cimd2Error(int(c.Code.TEMPORARY_CONGESTION), message, opcode=opcode, throttled=True)
        if packet.number != number:
            packet = replace(packet, number=number)
        data = encode(packet, with_checksum=self._checksum)  # before any state change
        self._next_number = after(number)
        self._outstanding[number] = _Outstanding(packet, context, now + self._response_timeout, counted)
        self._window_used += counted
        if opcode == c.LOGOUT:
            self._set_state(State.LOGGING_OUT)
        elif opcode == c.ALIVE:
            self._alive_outstanding = True
            self._last_alive = now
        return data

    def _login_outstanding(self) -> bool:
        return any(entry.request.opcode == c.LOGIN for entry in self._outstanding.values())

    def send_response(self, response: Response) -> bytes:
        """Encode the response to a :class:`RequestReceived` (opcode + 50, same number).

        Returns ``b""`` once the session is closed (the peer is gone and will resubmit).
        """
        if self._closed():
            return b""
        expected = self._inbound.get(response.number)
        if expected is None or expected == c.LOGIN or response.opcode != expected + c.RESPONSE_OFFSET:
            message = f"no request {response.number:03d} awaits a {c.opcode_name(response.opcode)}"
            raise Cimd2Error(_UNEXPECTED, message, opcode=response.opcode, number=response.number)
        data = encode(response, with_checksum=self._checksum)
        del self._inbound[response.number]
        if self._last_in is not None and self._last_in[0] == response.number:
            self._last_answer = data
        return data

    def accept_login(self) -> bytes:
        """SMSC role: accept the pending login; returns the positive response to send."""
        login = self._take_login()
        self._set_state(State.ACTIVE)
        return self._login_answer(Response(c.LOGIN + c.RESPONSE_OFFSET, login.number))

    def reject_login(self, code: int = int(c.Code.INVALID_LOGIN)) -> bytes:
        """SMSC role: refuse the pending login (the session stays OPEN; the login timer runs on)."""
        if not code:
            raise Cimd2Error(_UNEXPECTED, "reject_login needs a non-zero error code")
        login = self._take_login()
        return self._login_answer(Response(c.LOGIN + c.RESPONSE_OFFSET, login.number, error_code=code))

    def _login_answer(self, response: Response) -> bytes:
        data = encode(response, with_checksum=self._checksum)
        if self._last_in is not None and self._last_in[0] == response.number:
            self._last_answer = data
        return data

    def _take_login(self) -> Login:
        login = self._pending_login
        if login is None or self._state is not State.OPEN:
            raise Cimd2Error(_UNEXPECTED, f"no login is pending (state {self._state})")
        self._pending_login = None
        del self._inbound[login.number]
        return login

    # --- time ---------------------------------------------------------------------------------
    def _keepalive_due(self) -> float | None:
        if self._state is not State.ACTIVE or self._alive_outstanding:
            return None
        return max(self._last_rx, self._last_alive) + self._keepalive_interval

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called; ``None`` once closed."""
        if self._closed():
            return None
        deadline = self._last_rx + self._inactivity_timeout
        if self._state is State.OPEN:
            deadline = min(deadline, self._login_deadline)
        keepalive = self._keepalive_due()
        if keepalive is not None:
            deadline = min(deadline, keepalive)
        if self._outstanding:
            deadline = min(deadline, next(iter(self._outstanding.values())).deadline)
        return deadline

    def handle_timer(self, now: float) -> list[Event]:
        """Expire requests, enforce the login and inactivity timers, send alive when idle."""
        events: list[Event] = []
        if not self._closed():
            self._expire(now, events)
        if self._closed():
            return events
        keepalive = self._keepalive_due()
        if self._state is State.OPEN and now >= self._login_deadline:
            self._close("login timeout", events)
        elif now >= self._last_rx + self._inactivity_timeout:
            self._close("inactivity timeout", events)
        elif keepalive is not None and now >= keepalive:
            events.append(SendData(self.send_request(Alive(), now, _INTERNAL)))
        return events

    def _expire(self, now: float, events: list[Event]) -> None:
        outstanding = self._outstanding
        while outstanding:
            entry = next(iter(outstanding.values()))
            if entry.deadline > now:
                return
            self._finish(entry, ok=False)
            if entry.context is not _INTERNAL:
                events.append(RequestTimedOut(entry.request, entry.context))
            if entry.request.opcode in CONTROL_OPCODES:
                self._close(f"{c.opcode_name(entry.request.opcode)} timed out", events)
                return

    # --- closing ------------------------------------------------------------------------------
    def close(self, reason: str) -> list[Event]:
        """The transport is gone (EOF, error, shutdown): fail what is outstanding."""
        events: list[Event] = []
        self._close(reason, events)
        return events

    def _close(self, reason: str, events: list[Event]) -> None:
        if self._closed():
            return
        self._set_state(State.CLOSED)
        for entry in self._outstanding.values():
            if entry.context is not _INTERNAL:
                events.append(RequestFailed(entry.request, entry.context, None, reason))
        self._outstanding.clear()
        self._window_used = 0
        self._inbound.clear()
        self._pending_login = None
        events.append(SessionClosed(reason))

    def _closed(self) -> bool:
        return self._state is State.CLOSED

    def _set_state(self, state: State) -> None:
        self._state = state
        self._incoming, self._outgoing = allowed(self.role, state)
