"""The UCP session state machine, for both roles, without I/O.

Bytes in, events out; bytes for the peer come back from ``send_request`` / ``send_result`` /
``accept_login`` / ``reject_login`` or as :class:`SendData` events (negative results the session
makes by itself, its OT 31 keepalive). Time is always an argument. The adapter's loop is the one of
:class:`smpp_bridge.smpp.SmppSession`::

    events = session.receive_data(chunk, now)     # on every read
    events = session.handle_timer(now)            # when session.next_deadline() is reached
    data = session.send_request(op, now, ctx)     # an outgoing operation; window-checked, TRN set
    data = session.send_result(ack_or_nack)       # answer a RequestReceived
    events = session.close("connection lost")     # on EOF / transport error

Roles: ``Role.SMSC`` (peers log in to us) and ``Role.ESME`` (we are the SMT and log in out).
TRNs run 00-99 per direction; ours are allocated cyclically, skipping those still outstanding, and
results are matched by TRN *and* OT. At most ``window_outstanding_max`` (<= 100) traffic operations
are outstanding; OT 60 and 31 do not take a slot. An inbound operation whose TRN still awaits our
result is a repeat and is dropped (we answer the first one). The session never authenticates: an
OT 60 becomes :class:`LoginRequested` and the application decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Protocol

from smpp_bridge.smpp.rules import Role

from . import constants as c
from .codec import encode
from .errors import UcpError
from .events import (
    Event,
    LoginRequested,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResultReceived,
    SendData,
    SessionClosed,
    UnexpectedFrame,
)
from .operations import Ack, MtAlert, Nack, Operation, SessionManagement
from .rules import CONTROL_OTS, State, allowed, refusal_ec
from .stream import FrameDecoder

TRN_COUNT: Final = c.TRN_MAX + 1


class SessionLimits(Protocol):
    """The limits a session needs (a ``UcpLimits`` settings group would satisfy it)."""

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
_INTERNAL: Final = object()  # context of the OT 31 the session sends by itself
_NOT_ALLOWED: Final = int(c.Ec.OPERATION_NOT_ALLOWED)


class _Outstanding:
    __slots__ = ("context", "counted", "deadline", "request")

    def __init__(self, request: Operation, context: object, deadline: float, counted: bool) -> None:
        self.request = request
        self.context = context
        self.deadline = deadline
        self.counted = counted


class UcpSession:
    def __init__(
        self,
        role: Role,
        now: float,
        limits: SessionLimits = DEFAULT_LIMITS,
        *,
        login_required: bool = True,
        alert_address: str = "",
    ) -> None:
        """``login_required``: SMSC role, peers must send OT 60 first; SMT role, we send OT 60
        before any traffic. ``alert_address``: SMT role, the AdC of the OT 31 keepalive the session
        sends after ``keepalive_interval_s`` without traffic (none when empty, as in Kannel)."""
        if not 0 < limits.window_outstanding_max <= TRN_COUNT:
            raise ValueError(f"window_outstanding_max must be 1..{TRN_COUNT}")
        self.role = role
        self._window_max = limits.window_outstanding_max
        self._keepalive_interval = limits.keepalive_interval_s
        self._response_timeout = limits.response_timeout_s
        self._inactivity_timeout = limits.inactivity_timeout_s
        self._login_deadline = now + limits.login_timeout_s
        self._alert_address = alert_address if role is Role.ESME else ""
        self._decoder = FrameDecoder(limits.frame_size_bytes_max)
        self._last_rx = now
        self._last_alert = now
        self._next_trn = 0
        self._outstanding: dict[int, _Outstanding] = {}  # by TRN; insertion = deadline order
        self._window_used = 0
        self._inbound: dict[int, int] = {}  # TRN -> OT of the result we owe
        self._pending_login: SessionManagement | None = None
        self._login_outstanding = False
        self._alert_outstanding = False
        self._state = State.OPEN
        self._set_state(State.OPEN if login_required else State.ACTIVE)

    # --- introspection ------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def outstanding(self) -> int:
        """Traffic operations in the window (awaiting a result; 60 and 31 excluded)."""
        return self._window_used

    @property
    def window_available(self) -> int:
        return self._window_max - self._window_used

    @property
    def inbound_pending(self) -> int:
        """Operations from the peer that we have not answered yet."""
        return len(self._inbound)

    # --- input --------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        if self._state is State.CLOSED:
            return events
        self._last_rx = now
        for item in self._decoder.feed(data):
            if isinstance(item, UcpError):
                self._on_error(item, events)
            elif isinstance(item, Ack | Nack):
                self._on_result(item, events)
            else:
                self._on_operation(item, events)
            if self._closed():
                break
        return events

    def _on_operation(self, op: Operation, events: list[Event]) -> None:
        if op.trn in self._inbound:
            events.append(UnexpectedFrame(op, f"TRN {op.trn:02d} still awaits our result"))
        elif op.ot not in self._incoming:
            self._answer(Nack(op.ot, op.trn, refusal_ec(self.role, op.ot)), events)
        elif isinstance(op, SessionManagement):
            self._on_login(op, events)
        elif isinstance(op, MtAlert):
            self._answer(Ack(op.ot, op.trn), events)
        else:
            self._inbound[op.trn] = op.ot
            events.append(RequestReceived(op))

    def _on_login(self, op: SessionManagement, events: list[Event]) -> None:
        if self._pending_login is not None:
            self._answer(Nack(op.ot, op.trn, _NOT_ALLOWED), events)
        elif op.styp != c.STYP_OPEN_SESSION:
            self._answer(Nack(op.ot, op.trn, int(c.Ec.OPERATION_NOT_SUPPORTED)), events)
        else:
            self._pending_login = op
            self._inbound[op.trn] = op.ot
            events.append(LoginRequested(op))

    def _answer(self, result: Ack | Nack, events: list[Event]) -> None:
        events.append(SendData(encode(result)))

    def _on_error(self, error: UcpError, events: list[Event]) -> None:
        trn, ot = error.trn, error.ot
        if trn is None or ot is None or error.o_r is None:
            events.append(UnexpectedFrame(None, f"dropped: {error.message}"))
        elif error.o_r == "R":
            entry = self._outstanding.get(trn)
            if entry is not None and entry.request.ot == ot:
                self._finish(entry, ok=False)
                events.append(RequestFailed(entry.request, entry.context, error.ec, error.message))
            else:
                events.append(UnexpectedFrame(None, f"dropped result: {error.message}"))
        elif trn in self._inbound:
            events.append(UnexpectedFrame(None, f"TRN {trn:02d} still awaits our result: {error.message}"))
        else:
            ec = error.ec
            if ec != c.Ec.CHECKSUM_ERROR and ot not in self._incoming:
                ec = refusal_ec(self.role, ot)
            self._answer(Nack(ot, trn, ec), events)

    def _on_result(self, result: Ack | Nack, events: list[Event]) -> None:
        entry = self._outstanding.get(result.trn)
        if entry is None or entry.request.ot != result.ot:
            events.append(UnexpectedFrame(result, "no outstanding operation with this TRN and OT"))
            return
        self._finish(entry, ok=isinstance(result, Ack))
        if entry.context is not _INTERNAL:
            events.append(ResultReceived(entry.request, result, entry.context))

    def _finish(self, entry: _Outstanding, *, ok: bool) -> None:
        """Take ``entry`` out of the window and apply what its outcome means for the state."""
        del self._outstanding[entry.request.trn]
        self._window_used -= entry.counted
        if entry.request.ot == c.SESSION_MANAGEMENT:
            self._login_outstanding = False
            if ok and self._state is State.OPEN:
                self._set_state(State.ACTIVE)
        elif entry.request.ot == c.MT_ALERT:
            self._alert_outstanding = False

    # --- output -------------------------------------------------------------------------------
    def send_request(self, op: Operation, now: float, context: object = None) -> bytes:
        """Encode ``op`` with the next free TRN and start its result timer.

        Raises :class:`UcpError`: EC 04 when the role or state forbids it (or a login is already
        outstanding), EC 04 with ``throttled=True`` when the window (or the TRN space) is full.
        ``context`` comes back in the ResultReceived / RequestTimedOut / RequestFailed event.
        """
        ot = op.ot
        if ot not in self._outgoing or (ot == c.SESSION_MANAGEMENT and self._login_outstanding):
            raise UcpError(_NOT_ALLOWED, f"cannot send {c.ot_name(ot)} in state {self._state}", ot=ot)
        counted = ot not in CONTROL_OTS
        if counted and self._window_used >= self._window_max:
            message = f"window of {self._window_max} outstanding operations is full"
            raise UcpError(_NOT_ALLOWED, message, ot=ot, throttled=True)
        trn = self._free_trn()
        if op.trn != trn:
            op = replace(op, trn=trn)
        data = encode(op)  # before any state change, so a bad field changes nothing
        self._next_trn = (trn + 1) % TRN_COUNT
        self._outstanding[trn] = _Outstanding(op, context, now + self._response_timeout, counted)
        self._window_used += counted
        if ot == c.SESSION_MANAGEMENT:
            self._login_outstanding = True
        elif ot == c.MT_ALERT:
            self._alert_outstanding = True
            self._last_alert = now
        return data

    def _free_trn(self) -> int:
        for offset in range(TRN_COUNT):
            trn = (self._next_trn + offset) % TRN_COUNT
            if trn not in self._outstanding:
                return trn
        raise UcpError(_NOT_ALLOWED, "all 100 TRNs are outstanding", throttled=True)

    def send_result(self, result: Ack | Nack) -> bytes:
        """Encode the result to a :class:`RequestReceived` (same TRN and OT).

        Returns ``b""`` once the session is closed (the peer is gone and will resubmit).
        """
        if self._state is State.CLOSED:
            return b""
        if self._inbound.get(result.trn) != result.ot or result.ot == c.SESSION_MANAGEMENT:
            message = f"no {c.ot_name(result.ot)} with TRN {result.trn:02d} awaits a result"
            raise UcpError(_NOT_ALLOWED, message, trn=result.trn, ot=result.ot)
        data = encode(result)
        del self._inbound[result.trn]
        return data

    def accept_login(self) -> bytes:
        """SMSC role: accept the pending OT 60; returns the positive result to send."""
        login = self._take_login()
        self._set_state(State.ACTIVE)
        return encode(Ack(login.ot, login.trn))

    def reject_login(self, ec: int = int(c.Ec.AUTHENTICATION_FAILURE)) -> bytes:
        """SMSC role: refuse the pending OT 60 (the session stays OPEN; the login timer runs on)."""
        login = self._take_login()
        return encode(Nack(login.ot, login.trn, ec))

    def _take_login(self) -> SessionManagement:
        login = self._pending_login
        if login is None or self._state is not State.OPEN:
            raise UcpError(_NOT_ALLOWED, f"no login is pending (state {self._state})")
        self._pending_login = None
        del self._inbound[login.trn]
        return login

    # --- time ---------------------------------------------------------------------------------
    def _keepalive_due(self) -> float | None:
        if self._state is not State.ACTIVE or not self._alert_address or self._alert_outstanding:
            return None
        return max(self._last_rx, self._last_alert) + self._keepalive_interval

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called; ``None`` once closed."""
        if self._state is State.CLOSED:
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
        """Expire operations, enforce the login and inactivity timers, send OT 31 when idle."""
        events: list[Event] = []
        if self._state is not State.CLOSED:
            self._expire(now, events)
        if self._state is State.CLOSED:
            return events
        keepalive = self._keepalive_due()
        if self._state is State.OPEN and now >= self._login_deadline:
            self._close("login timeout", events)
        elif now >= self._last_rx + self._inactivity_timeout:
            self._close("inactivity timeout", events)
        elif keepalive is not None and now >= keepalive:
            alert = MtAlert(adc=self._alert_address, pid=c.PID_PC_OVER_TCP_IP)
            events.append(SendData(self.send_request(alert, now, _INTERNAL)))
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
            if entry.request.ot in CONTROL_OTS:
                self._close(f"{c.ot_name(entry.request.ot)} timed out", events)
                return

    # --- closing ------------------------------------------------------------------------------
    def close(self, reason: str) -> list[Event]:
        """The transport is gone (EOF, error, shutdown): fail what is outstanding."""
        events: list[Event] = []
        self._close(reason, events)
        return events

    def _close(self, reason: str, events: list[Event]) -> None:
        if self._state is State.CLOSED:
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
