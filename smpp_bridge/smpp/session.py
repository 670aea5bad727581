"""The SMPP session state machine, for both roles, without I/O.

Bytes in, events out; bytes for the peer come back from the ``send_*`` / ``*_bind`` calls or as
:class:`SendData` events (responses the session makes by itself). Time is always an argument.
The adapter's loop is::

    events = session.receive_data(chunk, now)     # on every read
    events = session.handle_timer(now)            # when session.next_deadline() is reached
    data = session.send_request(pdu, now, ctx)    # an outgoing request; window-checked
    data = session.send_response(resp_pdu)        # answer a RequestReceived
    events = session.close("connection lost")     # on EOF / transport error

after each call, write ``SendData`` bytes in order, close the transport on ``SessionClosed``, and
re-arm the single timer at ``next_deadline()``. Deadlines assume ``now`` never goes backwards
(use a monotonic clock such as ``loop.time()``).

The session never authenticates: a bind becomes :class:`BindRequested`, and the application calls
:meth:`SmppSession.accept_bind` or :meth:`SmppSession.reject_bind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from . import constants as c
from .codec import encode_pdu
from .errors import SmppError
from .events import (
    BindRequested,
    Event,
    OutbindReceived,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SendData,
    SessionClosed,
    UnexpectedPdu,
)
from .pdus import (
    PDU_CLASSES,
    RESPONSE_ID,
    Bind,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    UnbindResp,
    renumbered,
)
from .rules import (
    BIND_IDS,
    BIND_RESPONSE,
    BOUND_STATES,
    CONTROL_IDS,
    STATE_AFTER_BIND,
    Role,
    State,
    allowed,
    refusal_status,
)
from .stream import PduDecoder
from .tlv import SC_INTERFACE_VERSION


class SessionLimits(Protocol):
    """The limits a session needs; ``smsbilling.settings.SmppLimits`` satisfies it."""

    @property
    def pdu_size_bytes_max(self) -> int: ...
    @property
    def window_outstanding_max(self) -> int: ...
    @property
    def enquire_link_interval_s(self) -> float: ...
    @property
    def response_timeout_s(self) -> float: ...
    @property
    def inactivity_timeout_s(self) -> float: ...
    @property
    def bind_timeout_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Defaults equal to ``SmppLimits``; tests and tools use this instead of the settings."""

    pdu_size_bytes_max: int = 64 * 1024
    window_outstanding_max: int = 10
    enquire_link_interval_s: float = 30.0
    response_timeout_s: float = 30.0
    inactivity_timeout_s: float = 120.0
    bind_timeout_s: float = 10.0


class _Outstanding:
    __slots__ = ("context", "counted", "deadline", "request", "response_id")

    def __init__(self, request: Pdu, context: object, deadline: float, counted: bool) -> None:
        self.request = request
        self.context = context
        self.deadline = deadline
        self.counted = counted
        self.response_id = RESPONSE_ID[request.command_id]


_INTERNAL: Final = object()  # context of the enquire_link the session sends by itself
DEFAULT_LIMITS: Final = SessionConfig()


class SmppSession:
    def __init__(self, role: Role, now: float, limits: SessionLimits = DEFAULT_LIMITS) -> None:
        self.role = role
        self._window_max = limits.window_outstanding_max
        self._enquire_interval = limits.enquire_link_interval_s
        self._response_timeout = limits.response_timeout_s
        self._inactivity_timeout = limits.inactivity_timeout_s
        self._bind_deadline = now + limits.bind_timeout_s
        self._decoder = PduDecoder(limits.pdu_size_bytes_max)
        self._last_rx = now
        self._last_enquire = now
        self._sequence = 0
        self._outstanding: dict[int, _Outstanding] = {}  # by sequence; insertion = deadline order
        self._window_used = 0
        self._inbound: dict[int, int] = {}  # sequence -> response command_id we owe
        self._pending_bind: Bind | None = None
        self._bind_outstanding = False
        self._enquire_outstanding = False
        self._state = State.OPEN
        self._incoming, self._outgoing = allowed(role, State.OPEN)

    # --- introspection ------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def outstanding(self) -> int:
        """Requests in the window (awaiting a response; control PDUs excluded)."""
        return self._window_used

    @property
    def window_available(self) -> int:
        return self._window_max - self._window_used

    @property
    def inbound_pending(self) -> int:
        """Requests from the peer that we have not answered yet."""
        return len(self._inbound)

    # --- input --------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        if self._state is State.CLOSED:
            return events
        self._last_rx = now
        for item in self._decoder.feed(data):
            if isinstance(item, SmppError):
                self._on_error(item, events)
            elif item.command_id & c.RESPONSE_BIT:
                self._on_response(item, events)
            elif item.command_id in self._incoming:
                self._on_request(item, events)
            else:
                self._refuse(item.command_id, item.sequence_number, None, events)
            if self._closed():
                break
        return events

    def _on_request(self, pdu: Pdu, events: list[Event]) -> None:
        command_id = pdu.command_id
        if command_id == c.ENQUIRE_LINK:
            events.append(SendData(encode_pdu(EnquireLinkResp(pdu.sequence_number))))
        elif command_id in BIND_IDS:
            self._on_bind(pdu, events)
        elif command_id == c.UNBIND:
            events.append(SendData(encode_pdu(UnbindResp(pdu.sequence_number))))
            self._close("unbind received", events)
        elif isinstance(pdu, Outbind):
            events.append(OutbindReceived(pdu))
        else:
            response_id = RESPONSE_ID.get(command_id)
            if response_id is not None:
                self._inbound[pdu.sequence_number] = response_id
            events.append(RequestReceived(pdu))

    def _on_bind(self, pdu: Pdu, events: list[Event]) -> None:
        if self._pending_bind is not None or not isinstance(pdu, Bind):
            self._refuse(pdu.command_id, pdu.sequence_number, c.ESME_RALYBND, events)
            return
        self._pending_bind = pdu
        events.append(BindRequested(pdu))

    def _refuse(self, command_id: int, seq: int, status: int | None, events: list[Event]) -> None:
        if status is None:
            status = refusal_status(command_id, self._state)
        response_id = RESPONSE_ID.get(command_id)
        cls = GenericNack if response_id is None else PDU_CLASSES[response_id]
        events.append(SendData(encode_pdu(cls(seq, status))))

    def _on_error(self, error: SmppError, events: list[Event]) -> None:
        command_id = error.command_id
        if error.fatal:
            events.append(SendData(encode_pdu(GenericNack(error.sequence_number, error.status))))
            self._close(f"protocol error: {error.message}", events)
        elif command_id & c.RESPONSE_BIT and command_id in PDU_CLASSES:
            entry = self._outstanding.get(error.sequence_number)
            if entry is not None and command_id in (entry.response_id, c.GENERIC_NACK):
                self._finish(entry, None)
                events.append(RequestFailed(entry.request, entry.context, error.status, error.message))
                if entry.request.command_id == c.UNBIND:
                    self._close("unbound (malformed unbind_resp)", events)
        elif command_id in PDU_CLASSES and command_id not in self._incoming:
            self._refuse(command_id, error.sequence_number, None, events)
        else:
            self._refuse(command_id, error.sequence_number, error.status, events)

    def _on_response(self, pdu: Pdu, events: list[Event]) -> None:
        entry = self._outstanding.get(pdu.sequence_number)
        command_id = pdu.command_id
        if entry is None or command_id not in (entry.response_id, c.GENERIC_NACK):
            events.append(UnexpectedPdu(pdu, "no outstanding request with this sequence_number"))
            return
        ok = pdu.command_status == c.ESME_ROK and command_id != c.GENERIC_NACK
        self._finish(entry, ok)
        if entry.context is not _INTERNAL:
            events.append(ResponseReceived(entry.request, pdu, entry.context))
        if entry.request.command_id == c.UNBIND:
            self._close("unbound", events)

    def _finish(self, entry: _Outstanding, ok: bool | None) -> None:
        """Take ``entry`` out of the window and apply what its outcome means for the state."""
        del self._outstanding[entry.request.sequence_number]
        if entry.counted:
            self._window_used -= 1
        command_id = entry.request.command_id
        if command_id in BIND_IDS:
            self._bind_outstanding = False
            if ok:
                self._set_state(STATE_AFTER_BIND[command_id])
        elif command_id == c.ENQUIRE_LINK:
            self._enquire_outstanding = False

    # --- output -------------------------------------------------------------------------------
    def send_request(self, pdu: Pdu, now: float, context: object = None) -> bytes:
        """Encode ``pdu`` with the next sequence number and start its response timer.

        Raises :class:`SmppError`: ``ESME_RINVBNDSTS`` when the state forbids it,
        ``ESME_RALYBND`` for a second bind, ``ESME_RTHROTTLED`` when the window is full.
        ``context`` comes back in the ResponseReceived / RequestTimedOut / RequestFailed event.
        """
        command_id = pdu.command_id
        second_bind = command_id in BIND_IDS and self._bind_outstanding
        if command_id not in self._outgoing or second_bind:
            status = c.ESME_RALYBND if second_bind else refusal_status(command_id, self._state)
            message = f"cannot send {c.command_name(command_id)} in state {self._state}"
            raise SmppError(status, pdu.sequence_number, message, command_id=command_id)
        counted = command_id not in CONTROL_IDS
        if counted and self._window_used >= self._window_max:
            message = f"window of {self._window_max} outstanding requests is full"
            raise SmppError(c.ESME_RTHROTTLED, pdu.sequence_number, message, command_id=command_id)
        seq = self._next_sequence()
        if pdu.sequence_number != seq:
            pdu = renumbered(pdu, seq)
        data = encode_pdu(pdu)
        if command_id in RESPONSE_ID:
            self._outstanding[seq] = _Outstanding(pdu, context, now + self._response_timeout, counted)
            self._window_used += counted
        if command_id in BIND_IDS:
            self._bind_outstanding = True
        elif command_id == c.UNBIND:
            self._set_state(State.UNBOUND)
        elif command_id == c.ENQUIRE_LINK:
            self._enquire_outstanding = True
            self._last_enquire = now
        return data

    def send_response(self, pdu: Pdu) -> bytes:
        """Encode the response to a :class:`RequestReceived` (same ``sequence_number``).

        Returns ``b""`` once the session is closed (the peer is gone and will resubmit).
        """
        if self._state is State.CLOSED:
            return b""
        seq = pdu.sequence_number
        expected = self._inbound.get(seq)
        if expected is None or pdu.command_id not in (expected, c.GENERIC_NACK):
            message = f"no request {seq} awaits a {c.command_name(pdu.command_id)}"
            raise SmppError(c.ESME_RSYSERR, seq, message, command_id=pdu.command_id)
        data = encode_pdu(pdu)
        del self._inbound[seq]
        return data

    def accept_bind(self, system_id: str = "", interface_version: int = c.INTERFACE_VERSION_34) -> bytes:
        """SMSC role: accept the pending bind; returns the bind_*_resp to send."""
        bind = self._pending()
        tlvs = (SC_INTERFACE_VERSION(interface_version),) if bind.interface_version >= 0x34 else ()
        response = BIND_RESPONSE[bind.command_id](bind.sequence_number, c.ESME_ROK, system_id, tlvs)
        data = encode_pdu(response)  # before any state change, so a bad system_id changes nothing
        self._pending_bind = None
        self._set_state(STATE_AFTER_BIND[bind.command_id])
        return data

    def reject_bind(self, status: int) -> bytes:
        """SMSC role: refuse the pending bind with a non-zero status (header-only response).

        The session stays OPEN; the bind timer that started with the connection keeps running.
        """
        if status == c.ESME_ROK:
            raise SmppError(c.ESME_RSYSERR, 0, "reject_bind needs an error status")
        bind = self._pending()
        data = encode_pdu(BIND_RESPONSE[bind.command_id](bind.sequence_number, status))
        self._pending_bind = None
        return data

    def _pending(self) -> Bind:
        bind = self._pending_bind
        if bind is None or self._state is not State.OPEN:
            raise SmppError(c.ESME_RSYSERR, 0, f"no bind is pending (state {self._state})")
        return bind

    # --- time ---------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called; ``None`` once closed."""
        if self._state is State.CLOSED:
            return None
        deadline = self._last_rx + self._inactivity_timeout
        if self._state is State.OPEN:
            deadline = min(deadline, self._bind_deadline)
        elif self._state in BOUND_STATES and not self._enquire_outstanding:
            deadline = min(deadline, max(self._last_rx, self._last_enquire) + self._enquire_interval)
        if self._outstanding:
            deadline = min(deadline, next(iter(self._outstanding.values())).deadline)
        return deadline

    def handle_timer(self, now: float) -> list[Event]:
        """Expire requests, enforce the bind and inactivity timers, send enquire_link when idle."""
        events: list[Event] = []
        if self._state is not State.CLOSED:
            self._expire_requests(now, events)
        if self._state is State.CLOSED:
            return events
        if self._state is State.OPEN and now >= self._bind_deadline:
            self._close("bind timeout", events)
        elif now >= self._last_rx + self._inactivity_timeout:
            self._close("inactivity timeout", events)
        elif (
            self._state in BOUND_STATES
            and not self._enquire_outstanding
            and now >= max(self._last_rx, self._last_enquire) + self._enquire_interval
        ):
            events.append(SendData(self.send_request(EnquireLink(), now, _INTERNAL)))
        return events

    def _expire_requests(self, now: float, events: list[Event]) -> None:
        outstanding = self._outstanding
        while outstanding:
            entry = next(iter(outstanding.values()))
            if entry.deadline > now:
                return
            self._finish(entry, None)
            if entry.context is not _INTERNAL:
                events.append(RequestTimedOut(entry.request, entry.context))
            command_id = entry.request.command_id
            if command_id in CONTROL_IDS:
                self._close(f"{c.command_name(command_id)} timed out", events)
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
                events.append(RequestFailed(entry.request, entry.context, c.ESME_RSYSERR, reason))
        self._outstanding.clear()
        self._window_used = 0
        self._inbound.clear()
        self._pending_bind = None
        events.append(SessionClosed(reason))

    # --- helpers ------------------------------------------------------------------------------
    def _closed(self) -> bool:
        return self._state is State.CLOSED

    def _set_state(self, state: State) -> None:
        self._state = state
        self._incoming, self._outgoing = allowed(self.role, state)

    def _next_sequence(self) -> int:
        seq = self._sequence
        while True:
            seq = seq + 1 if seq < c.SEQUENCE_MAX else 1
            if seq not in self._outstanding:
                self._sequence = seq
                return seq
