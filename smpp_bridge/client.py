"""The SMPP client role: the bridge binds out to operator SMSCs (ESME side).

An :class:`SmscLink` is one bind (one TCP connection) kept alive by a supervisor task: connect,
bind, serve, and after any loss reconnect with exponential back-off and full jitter. The asyncio
layer is as thin as the server's: it pumps bytes through the sans-I/O :class:`SmppSession`, arms
the one timer the session asks for (enquire_link, response and inactivity timers live there) and
maps events to outcomes. A :class:`LinkPool` spreads submits over the healthy binds of one
operator link, which share the link's granted TPS.

``submit`` goes through four gates, in this order, each bounded by ``submit_wait_s_max``: a slot
in the bind's window (``window_outstanding_max``), a bound session, the end of any throttle
back-off, and a pacing turn (never more than the granted TPS in any one-second interval; see
``pacing.py``). The PDU is written in the same step as the pacing turn, so the pacer's record is
the send time. Every submit gets exactly one :class:`SubmitOutcome`:

* ``ACCEPTED``: ``ESME_ROK``; ``message_id`` is the operator's id, the DLR correlation key.
* ``RETRY``: certainly not accepted (never sent, or ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL``,
  after which the bind pauses for ``throttle_backoff_s`` before sending anything more).
* ``UNKNOWN``: sent, but no usable answer (timeout, connection lost, malformed response). The
  operator may have accepted it: resubmitting risks a handset duplicate, which is counted, never
  hidden. It never means "not delivered".
* ``PERMANENT``: refused with any other status; resubmitting will not help.

Incoming ``deliver_sm`` / ``data_sm`` (MOs and receipts) go to the injected ``on_deliver``
callback, which puts them on a durable queue; the response is written only after it returns,
and ``ESME_RX_T_APPN`` if it raises or times out, so the SMSC redelivers. A callback that refuses
a message for good (unreadable, too long) raises :class:`DeliverRefused` with the status to
answer. A response that cannot be written (the connection dropped meanwhile) also means a
redelivery: consumers deduplicate. Outbind (an SMSC connecting to us) is not handled: links always bind out.

The protocol is the link's (``LinkConfig.protocol``): the link talks to a small
:class:`~smpp_bridge.client_adapter.ClientAdapter` that owns the session. SMPP's is
:class:`SmppClientAdapter` (here); UCP/EMI's and CIMD2's are in ``client_ucp.py`` and
``client_cimd2.py``. Everything above (window, pacing, back-off, outcomes, deliveries answered
after ``on_deliver`` returns) is the same for the three.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from smpp_bridge.cimd2 import RawOctets
from smpp_bridge.client_adapter import (
    Answered,
    ClientAction,
    ClientAdapter,
    Closed,
    DeliverRefused,
    Incoming,
    LoggedIn,
    LoginRefused,
    NotSent,
    Outcome,
    SubmitOutcome,
    Unanswered,
    Write,
)
from smpp_bridge.pacing import AsyncPacer, BatchedWriter, WindowSlots, backoff_delay
from smpp_bridge.session_driver import SessionDriver
from smpp_bridge.smpp import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    Event,
    Pdu,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SendData,
    SessionClosed,
    SessionConfig,
    SmppError,
    SmppSession,
    State,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.rules import Role
from smpp_bridge.ucp import UcpCharset
from smsbilling.domain.entities import Protocol as LinkProtocol
from smsbilling.settings import SmppLimits

__all__ = [
    "BindMode",
    "Connector",
    "DeliverRefused",
    "LinkConfig",
    "LinkPool",
    "LinkProtocol",
    "LinkStats",
    "OnDeliver",
    "Outcome",
    "SmppClientAdapter",
    "SmscLink",
    "SubmitOutcome",
]

logger = logging.getLogger("smpp_bridge.client")

READ_CHUNK_BYTES = 65536
CLOSE_POLL_S = 0.01
BACKOFF_STATUSES = frozenset({c.ESME_RTHROTTLED, c.ESME_RMSGQFUL})
_BOUND_STATES = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
_BIND = object()  # request contexts for the session's control PDUs
_UNBIND = object()

OnDeliver = Callable[[DeliverSm | DataSm], Awaitable[None]]
Connector = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class BindMode(StrEnum):
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"


_BIND_PDU = {
    BindMode.TRANSMITTER: BindTransmitter,
    BindMode.RECEIVER: BindReceiver,
    BindMode.TRANSCEIVER: BindTransceiver,
}


UCP_WINDOW_MAX = 100  # two-digit TRNs
CIMD2_WINDOW_MAX = 127  # half of the 256 packet numbers
_SMPP_FIELD_OCTETS_MAX = (("system_id", 15), ("password", 8), ("system_type", 12), ("address_range", 40))
# UCP OT 60: OAdC up to 16 characters, PWD up to 32 (hex-IRA, 64 digits); CIMD2 011/012: 32.
_FIELD_OCTETS_MAX = {
    LinkProtocol.UCP: (("system_id", 16), ("password", 32)),
    LinkProtocol.CIMD2: (("system_id", 32), ("password", 32)),
}


@dataclass(frozen=True)
class LinkConfig:
    """One operator link: which protocol, where to bind, as whom, and what the operator granted.

    ``granted_tps=None`` means unlimited (benchmarks, the simulator). ``binds`` lists the mode of
    each bind the :class:`LinkPool` opens (UCP and CIMD2 have one mode: a transceiver session).
    ``password`` is never logged (``repr=False``). ``system_id`` / ``password`` are the SMPP
    bind's, UCP OT 60's OAdC / PWD, CIMD2 login's 011 / 012. ``ucp_charset``: how AMsg octets are
    read and written (GSM 03.38 one septet per octet, as Kannel; or Latin-1). ``cimd2_checksum``:
    whether our packets carry the checksum; ``cimd2_raw_octets``: how 033 octets outside the
    escape set are read.
    """

    link_id: str
    host: str
    port: int
    system_id: str
    password: str = field(default="", repr=False)
    system_type: str = ""
    binds: tuple[BindMode, ...] = (BindMode.TRANSCEIVER,)
    granted_tps: int | None = 50
    window_outstanding_max: int = 10
    interface_version: int = c.INTERFACE_VERSION_34
    address_range: str = ""
    tls: ssl.SSLContext | None = None
    protocol: LinkProtocol = LinkProtocol.SMPP
    ucp_charset: UcpCharset = UcpCharset.GSM
    cimd2_checksum: bool = True
    cimd2_raw_octets: RawOctets = RawOctets.GSM

    def __post_init__(self) -> None:
        """Refuse at start-up what the login would refuse at every reconnect (field sizes)."""
        sizes = _FIELD_OCTETS_MAX.get(self.protocol, _SMPP_FIELD_OCTETS_MAX)
        for name, size_max in sizes:
            value = getattr(self, name)
            if len(value.encode("latin-1", "replace")) > size_max:
                raise ValueError(f"{name} longer than {size_max} octets")
        if not self.binds or self.window_outstanding_max < 1:
            raise ValueError("a link needs at least one bind and a window of at least 1")
        if self.granted_tps is not None and self.granted_tps < 1:
            raise ValueError("granted_tps must be at least 1 (None: unlimited)")
        if self.protocol is not LinkProtocol.SMPP:
            if any(mode is not BindMode.TRANSCEIVER for mode in self.binds):
                raise ValueError(f"{self.protocol.value} sessions are transceivers: no other bind mode")
            window_max = UCP_WINDOW_MAX if self.protocol is LinkProtocol.UCP else CIMD2_WINDOW_MAX
            if self.window_outstanding_max > window_max:
                raise ValueError(f"a {self.protocol.value} window is at most {window_max}")


@dataclass
class LinkStats:
    connects: int = 0
    connect_failures: int = 0
    binds: int = 0
    bind_refusals: int = 0
    submits_sent: int = 0
    accepted: int = 0
    retry: int = 0
    unknown: int = 0
    permanent: int = 0
    throttle_pauses: int = 0
    delivers_received: int = 0
    delivers_refused: int = 0
    deliver_resps_lost: int = 0


class SmppClientAdapter(SessionDriver[ClientAction]):
    """SMPP 3.4 for the client role: bind, ``submit_sm``, ``deliver_sm`` / ``data_sm`` in, unbind."""

    name = "smpp"

    session: SmppSession

    def __init__(self, config: LinkConfig, mode: BindMode, limits: SessionConfig, now: float) -> None:
        self.config = config
        self.mode = mode
        self.session = SmppSession(Role.ESME, now, limits)

    def login(self, now: float) -> bytes:
        config = self.config
        bind = _BIND_PDU[self.mode](
            system_id=config.system_id,
            password=config.password,
            system_type=config.system_type,
            interface_version=config.interface_version,
            address_range=config.address_range,
        )
        return self.session.send_request(bind, now, _BIND)

    @property
    def closed(self) -> bool:
        return self.session.state is State.CLOSED

    @property
    def logged_in(self) -> bool:
        return self.session.state in _BOUND_STATES

    @property
    def outstanding(self) -> int:
        return self.session.outstanding

    def _actions(self, events: list[Event]) -> list[ClientAction]:
        actions: list[ClientAction] = []
        for event in events:
            if isinstance(event, SendData):
                actions.append(Write(event.data))
            elif isinstance(event, ResponseReceived):
                if event.context is _BIND:
                    actions.append(self._bind_answer(event.response))
                elif event.context is not _UNBIND:
                    actions.append(self._answered(event.context, event.response))
            elif isinstance(event, RequestTimedOut):
                actions.append(Unanswered(event.context, "no response within response_timeout_s"))
            elif isinstance(event, RequestFailed):
                actions.append(Unanswered(event.context, event.reason))
            elif isinstance(event, RequestReceived):
                pdu = event.pdu
                if isinstance(pdu, DeliverSm | DataSm):
                    actions.append(Incoming(pdu, pdu))
                else:  # alert_notification: informational, no response exists
                    logger.info("ignored request", extra={"command": c.command_name(pdu.command_id)})
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
            else:  # UnexpectedPdu, OutbindReceived: nothing to do on an outgoing bind
                logger.debug("ignored", extra={"event": type(event).__name__})
        return actions

    def _bind_answer(self, response: Pdu) -> LoggedIn | LoginRefused:
        status = response.command_status
        if status == c.ESME_ROK and response.command_id != c.GENERIC_NACK:
            return LoggedIn()
        return LoginRefused(c.status_name(status))

    @staticmethod
    def _answered(context: object, response: Pdu) -> Answered:
        status = response.command_status
        if status == c.ESME_ROK and isinstance(response, SubmitSmResp):
            return Answered(context, SubmitOutcome(Outcome.ACCEPTED, response.message_id, status))
        reason = c.status_name(status)
        if status in BACKOFF_STATUSES:
            return Answered(
                context, SubmitOutcome(Outcome.RETRY, command_status=status, reason=reason), throttle=True
            )
        if response.command_id == c.GENERIC_NACK:
            reason = f"generic_nack {reason}"
        return Answered(context, SubmitOutcome(Outcome.PERMANENT, command_status=status, reason=reason))

    def submit(self, pdu: SubmitSm, now: float, context: object) -> bytes:
        try:
            return self.session.send_request(pdu, now, context)
        except SmppError as error:  # wrong state or full window: nothing was sent
            raise NotSent(str(error), error.status) from None

    def answer(self, token: object, status: int) -> bytes:
        assert isinstance(token, DeliverSm | DataSm)
        response_type = DeliverSmResp if isinstance(token, DeliverSm) else DataSmResp
        try:
            return self.session.send_response(response_type(token.sequence_number, status))
        except SmppError as error:  # the session no longer awaits it
            raise NotSent(str(error), error.status) from None

    def goodbye(self, now: float) -> bytes | None:
        try:
            return self.session.send_request(Unbind(), now, _UNBIND)
        except SmppError:
            return None


def make_adapter(config: LinkConfig, mode: BindMode, limits: SmppLimits, now: float) -> ClientAdapter:
    """The session adapter of ``config.protocol``, with the bridge's limits in its terms."""
    if config.protocol is LinkProtocol.UCP:
        from smpp_bridge.client_ucp import UcpClientAdapter  # noqa: PLC0415 - it imports this module

        return UcpClientAdapter(config, limits, now)
    if config.protocol is LinkProtocol.CIMD2:
        from smpp_bridge.client_cimd2 import Cimd2ClientAdapter  # noqa: PLC0415 - it imports this module

        return Cimd2ClientAdapter(config, limits, now)
    session_limits = SessionConfig(
        pdu_size_bytes_max=limits.pdu_size_bytes_max,
        window_outstanding_max=config.window_outstanding_max,
        enquire_link_interval_s=limits.enquire_link_interval_s,
        response_timeout_s=limits.response_timeout_s,
        inactivity_timeout_s=limits.inactivity_timeout_s,
        bind_timeout_s=limits.bind_timeout_s,
    )
    return SmppClientAdapter(config, mode, session_limits, now)


class _Conn:
    """One TCP connection and its session adapter; a reconnect makes a new one."""

    __slots__ = ("adapter", "out", "timer")

    def __init__(self, adapter: ClientAdapter, writer: asyncio.StreamWriter) -> None:
        self.adapter = adapter
        self.out = BatchedWriter(writer)
        self.timer: asyncio.TimerHandle | None = None

    def write(self, data: bytes) -> None:
        self.out.write(data)

    def close(self) -> None:
        self.out.close()


class SmscLink:
    """One bind to an operator SMSC, reconnected after any loss until :meth:`close`."""

    def __init__(
        self,
        config: LinkConfig,
        limits: SmppLimits,
        *,
        mode: BindMode | None = None,
        on_deliver: OnDeliver | None = None,
        rng: random.Random | None = None,
        pacer: AsyncPacer | None = None,
        connect: Connector | None = None,
        on_change: Callable[[], None] | None = None,
        name: str = "",
    ) -> None:
        self.config = config
        self.mode = mode or config.binds[0]
        self.name = name or f"{config.link_id}:{self.mode.value}"
        self.stats = LinkStats()
        self._limits = limits
        self._on_deliver = on_deliver
        self._rng = rng or random.Random()
        if pacer is None and config.granted_tps is not None:
            pacer = AsyncPacer(config.granted_tps)
        self._pacer = pacer
        self._connect = connect or self._open_connection
        self._on_change = on_change
        self._window = WindowSlots(config.window_outstanding_max)
        self._conn: _Conn | None = None
        self._bound = False
        self._paused_until = 0.0
        self._closing = False
        self._changed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._delivers: set[asyncio.Task[None]] = set()
        self.load = 0  # submits inside submit(): waiting or in flight

    # ------------------------------------------------------------------ introspection
    @property
    def is_bound(self) -> bool:
        return self._bound

    @property
    def can_submit(self) -> bool:
        return self.mode is not BindMode.RECEIVER

    def paused(self, now: float) -> bool:
        return now < self._paused_until

    @property
    def outstanding(self) -> int:
        return 0 if self._conn is None else self._conn.adapter.outstanding

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def close(self) -> None:
        """Refuse new submits, let the window and deliver callbacks finish, log out, disconnect."""
        self._closing = True
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._limits.unbind_timeout_s
        while (self.outstanding or self._delivers) and loop.time() < deadline:
            await asyncio.sleep(CLOSE_POLL_S)
        conn = self._conn
        goodbye = conn.adapter.goodbye(loop.time()) if conn is not None and conn.adapter.logged_in else None
        if conn is not None and goodbye is not None:
            conn.write(goodbye)
            self._arm_timer(conn)
        elif conn is not None:
            conn.close()
        await self._stop_supervisor(self._limits.unbind_timeout_s)

    async def _stop_supervisor(self, timeout_s: float) -> None:
        task = self._supervisor
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:  # the SMSC never answered the unbind: drop the connection
            if self._conn is not None:
                self._conn.close()
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _notify(self) -> None:
        """Wake everyone waiting for a state change (bound, unbound, closing)."""
        self._changed.set()
        self._changed = asyncio.Event()
        if self._on_change is not None:
            self._on_change()

    async def _wait_change(self, timeout_s: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    # ------------------------------------------------------------------ supervisor
    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            bound = False
            try:
                bound = await self._connect_once()
            except (OSError, TimeoutError) as error:
                self.stats.connect_failures += 1
                logger.warning("connect failed", extra={"link": self.name, "error": repr(error)})
            except Exception:  # a bug must not end the link silently: log it and reconnect
                self.stats.connect_failures += 1
                logger.exception("link failed", extra={"link": self.name})
            if self._closing:
                break
            failures = 0 if bound else failures + 1
            delay = backoff_delay(
                failures,
                self._limits.reconnect_backoff_base_s,
                self._limits.reconnect_backoff_max_s,
                self._rng,
            )
            logger.info("reconnecting", extra={"link": self.name, "delay_s": round(delay, 3)})
            await self._wait_change(delay)

    async def _open_connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        config = self.config
        return await asyncio.open_connection(config.host, config.port, ssl=config.tls)

    async def _connect_once(self) -> bool:
        """Connect, log in and serve until the connection ends; whether it ever got bound."""
        reader, writer = await asyncio.wait_for(self._connect(), self._limits.connect_timeout_s)
        self.stats.connects += 1
        loop = asyncio.get_running_loop()
        conn = _Conn(make_adapter(self.config, self.mode, self._limits, loop.time()), writer)
        self._conn = conn
        bound_before = self.stats.binds
        conn.write(conn.adapter.login(loop.time()))
        self._arm_timer(conn)
        try:
            await self._pump(conn, reader)
        finally:
            if not conn.adapter.closed:  # cancelled: fail what is outstanding
                self._handle(conn, conn.adapter.close("link stopped"))
            if conn.timer is not None:
                conn.timer.cancel()
            conn.close()
            self._conn = None
        return self.stats.binds > bound_before

    async def _pump(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        adapter = conn.adapter
        while not adapter.closed:
            if len(self._delivers) >= self.config.window_outstanding_max:  # back-pressure on MOs/DLRs
                await asyncio.wait(self._delivers, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                data = await reader.read(READ_CHUNK_BYTES)
            except ConnectionError as error:
                self._handle(conn, adapter.close(f"connection error: {error!r}"))
                return
            if not data:
                self._handle(conn, adapter.close("connection closed by the SMSC"))
                return
            self._handle(conn, adapter.receive(data, loop.time()))
            self._arm_timer(conn)

    # ------------------------------------------------------------------ timer
    def _arm_timer(self, conn: _Conn) -> None:
        deadline = conn.adapter.next_deadline()
        timer = conn.timer
        if deadline is None:
            if timer is not None:
                timer.cancel()
                conn.timer = None
            return
        if timer is not None:
            if timer.when() <= deadline:
                return  # it fires first; the callback re-arms for the later deadline
            timer.cancel()
        conn.timer = asyncio.get_running_loop().call_at(deadline, self._on_timer, conn)

    def _on_timer(self, conn: _Conn) -> None:
        conn.timer = None
        self._handle(conn, conn.adapter.timer(asyncio.get_running_loop().time()))
        self._arm_timer(conn)

    # ------------------------------------------------------------------ events
    def _handle(self, conn: _Conn, actions: list[ClientAction]) -> None:
        for action in actions:
            if isinstance(action, Write):
                conn.write(action.data)
            elif isinstance(action, Answered):
                if action.throttle:
                    self._pause()
                self._resolve_with(action.context, replace(action.outcome, bind=self.name))
            elif isinstance(action, Unanswered):
                self._resolve_unknown(action.context, action.reason)
            elif isinstance(action, Incoming):
                self._on_incoming(conn, action)
            elif isinstance(action, LoggedIn):
                self._on_logged_in()
            elif isinstance(action, LoginRefused):
                self._on_login_refused(conn, action.reason)
            elif isinstance(action, Closed):
                self._on_closed(conn, action.reason)

    def _on_logged_in(self) -> None:
        self.stats.binds += 1
        self._bound = True
        logger.info("bound", extra={"link": self.name, "mode": self.mode.value})
        self._notify()

    def _on_login_refused(self, conn: _Conn, reason: str) -> None:
        self.stats.bind_refusals += 1
        logger.warning(
            "bind refused",
            extra={"link": self.name, "system_id": self.config.system_id, "status": reason},
        )
        conn.close()  # EOF ends the pump; the supervisor backs off and retries

    def _on_closed(self, conn: _Conn, reason: str) -> None:
        logger.info("session closed", extra={"link": self.name, "reason": reason})
        conn.close()
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        if self._bound:
            self._bound = False
            self._notify()

    def _pause(self) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._paused_until:
            self.stats.throttle_pauses += 1
            logger.info("throttled: pausing", extra={"link": self.name})
        self._paused_until = max(self._paused_until, now + self._limits.throttle_backoff_s)

    def _resolve_unknown(self, context: object, reason: str) -> None:
        self._resolve_with(context, SubmitOutcome(Outcome.UNKNOWN, reason=reason, bind=self.name))

    def _resolve_with(self, context: object, outcome: SubmitOutcome) -> None:
        if isinstance(context, asyncio.Future):
            self._resolve(context, outcome)

    def _resolve(self, future: asyncio.Future[SubmitOutcome], outcome: SubmitOutcome) -> None:
        """The session's one outcome for a submit we sent: free its window slot, wake its caller."""
        self._window.release()
        if not future.done():  # the submitter may have been cancelled
            future.set_result(outcome)

    # ------------------------------------------------------------------ deliveries (MO, DLR)
    def _on_incoming(self, conn: _Conn, incoming: Incoming) -> None:
        self.stats.delivers_received += 1
        task = asyncio.get_running_loop().create_task(self._deliver(conn, incoming))
        self._delivers.add(task)
        task.add_done_callback(self._delivers.discard)

    async def _deliver(self, conn: _Conn, incoming: Incoming) -> None:
        status = c.ESME_ROK
        try:
            if self._on_deliver is None:
                raise LookupError("no on_deliver handler on this link")
            await asyncio.wait_for(self._on_deliver(incoming.pdu), self._limits.deliver_callback_timeout_s)
        except DeliverRefused as error:  # never storable: say so, and the SMSC drops it
            status = error.status
            self.stats.delivers_refused += 1
            logger.warning("deliver refused", extra={"link": self.name, "reason": str(error)})
        except Exception as error:  # the message is not stored: the SMSC must redeliver it
            status = c.ESME_RX_T_APPN
            self.stats.delivers_refused += 1
            logger.error("deliver not stored", extra={"link": self.name, "error": repr(error)})
        try:
            data = conn.adapter.answer(incoming.token, status)
        except NotSent as error:  # the session no longer awaits it
            logger.warning("deliver response refused", extra={"link": self.name, "error": str(error)})
            data = b""
        if not data:
            self.stats.deliver_resps_lost += 1  # stored, but the SMSC will redeliver: a duplicate
            logger.warning("deliver response lost", extra={"link": self.name, "stored": status == 0})
        conn.write(data)

    # ------------------------------------------------------------------ submit
    async def submit(self, pdu: SubmitSm) -> SubmitOutcome:
        """Send one submit_sm; exactly one outcome, whatever happens to the connection."""
        if not self.can_submit:
            raise ValueError(f"{self.name} is a receiver bind: it cannot submit")
        self.load += 1
        try:
            outcome = await self._submit(pdu)
        finally:
            self.load -= 1
        self._count(outcome)
        return outcome

    def _count(self, outcome: SubmitOutcome) -> None:
        stats = self.stats
        if outcome.kind is Outcome.ACCEPTED:
            stats.accepted += 1
        elif outcome.kind is Outcome.RETRY:
            stats.retry += 1
        elif outcome.kind is Outcome.UNKNOWN:
            stats.unknown += 1
        else:
            stats.permanent += 1

    async def _submit(self, pdu: SubmitSm) -> SubmitOutcome:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._limits.submit_wait_s_max
        if not self._window.try_take():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._window.take()
            except TimeoutError:
                return self._not_sent("no window slot within submit_wait_s_max")
        sent = self._send_now(pdu)  # the common case: bound, not paused, no pacing wait
        if sent is None:
            try:
                async with asyncio.timeout_at(deadline):
                    sent = await self._send_when_ready(pdu)
            except BaseException as error:
                self._window.release()
                if isinstance(error, TimeoutError):
                    return self._not_sent("no bound, unpaused session within submit_wait_s_max")
                raise
        if isinstance(sent, SubmitOutcome):
            self._window.release()
            return sent
        # Sent: the slot is released when the session resolves the request (response, timeout or
        # close), not when our caller stops waiting, so the window always matches the session's.
        return await sent

    def _ready(self, now: float) -> bool:
        return self._bound and not self._closing and now >= self._paused_until

    def _send_now(self, pdu: SubmitSm) -> SubmitOutcome | asyncio.Future[SubmitOutcome] | None:
        if self._closing:
            return self._not_sent("link closing")
        now = asyncio.get_running_loop().time()
        conn = self._conn
        if conn is None or not self._ready(now):
            return None
        if self._pacer is not None and not self._pacer.try_turn(now):  # queue behind the waiters
            return None
        return self._send(conn, pdu, now)

    async def _send_when_ready(self, pdu: SubmitSm) -> SubmitOutcome | asyncio.Future[SubmitOutcome]:
        loop = asyncio.get_running_loop()
        while True:
            if self._closing:
                return self._not_sent("link closing")
            now = loop.time()
            if not self._bound:
                await self._wait_change(None)
                continue
            if now < self._paused_until:
                await self._wait_change(self._paused_until - now)
                continue
            if self._pacer is not None:
                await self._pacer.turn()
            conn = self._conn
            if conn is None or not self._ready(loop.time()):
                continue  # the state changed while we waited for our turn: that turn is lost
            return self._send(conn, pdu, loop.time())

    def _send(self, conn: _Conn, pdu: SubmitSm, now: float) -> SubmitOutcome | asyncio.Future[SubmitOutcome]:
        future: asyncio.Future[SubmitOutcome] = asyncio.get_running_loop().create_future()
        try:
            data = conn.adapter.submit(pdu, now, future)
        except NotSent as error:  # wrong state, full window or not encodable: nothing was sent
            if error.permanent:
                return SubmitOutcome(
                    Outcome.PERMANENT, command_status=error.status, reason=str(error), bind=self.name
                )
            return self._not_sent(str(error), error.status)
        conn.write(data)
        self._arm_timer(conn)
        self.stats.submits_sent += 1
        return future

    def _not_sent(self, reason: str, status: int | None = None) -> SubmitOutcome:
        return SubmitOutcome(Outcome.RETRY, command_status=status, reason=reason, bind=self.name)


class LinkPool:
    """Several binds to one operator link; submits go to the least loaded healthy one.

    The binds share the link's granted TPS (one pacer) but keep their own window and back-off.
    """

    def __init__(
        self,
        config: LinkConfig,
        limits: SmppLimits,
        *,
        on_deliver: OnDeliver | None = None,
        rng: random.Random | None = None,
        connect: Connector | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """``on_change`` is called whenever one of the binds comes up or goes down."""
        self.config = config
        self._limits = limits
        self._on_change = on_change
        pacer = AsyncPacer(config.granted_tps) if config.granted_tps is not None else None
        self._changed = asyncio.Event()
        self.links = [
            SmscLink(
                config,
                limits,
                mode=mode,
                on_deliver=on_deliver,
                rng=rng,
                pacer=pacer,
                connect=connect,
                on_change=self._notify,
                name=f"{config.link_id}#{i}:{mode.value}",
            )
            for i, mode in enumerate(config.binds)
        ]
        self._submitters = [link for link in self.links if link.can_submit]

    def start(self) -> None:
        for link in self.links:
            link.start()

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links))

    def healthy(self) -> list[SmscLink]:
        return [link for link in self.links if link.is_bound]

    def can_submit_now(self) -> bool:
        """A transmitter or transceiver bind is up (a submit would be sent, window permitting)."""
        for link in self._submitters:  # noqa: SIM110 - a plain loop: this runs once per submit
            if link.is_bound:
                return True
        return False

    def submit_capacity(self) -> int:
        """How many submits the pool's binds can have outstanding at once."""
        return len(self._submitters) * self.config.window_outstanding_max

    def stats(self) -> dict[str, LinkStats]:
        return {link.name: link.stats for link in self.links}

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        if self._on_change is not None:
            self._on_change()

    def _pick(self) -> SmscLink | None:
        if len(self._submitters) == 1:  # the usual pool: one transceiver
            only = self._submitters[0]
            return only if only.is_bound else None
        now = asyncio.get_running_loop().time()
        bound = [link for link in self._submitters if link.is_bound]
        if not bound:
            return None
        return min(bound, key=lambda link: (link.paused(now), link.load))

    async def submit(self, pdu: SubmitSm) -> SubmitOutcome:
        if not self._submitters:
            raise ValueError(f"link {self.config.link_id} has no transmitter or transceiver bind")
        link = self._pick()
        if link is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._limits.submit_wait_s_max):
                    while (link := self._pick()) is None:
                        await self._changed.wait()
        if link is None:
            return SubmitOutcome(Outcome.RETRY, reason="no bound transmitter within submit_wait_s_max")
        return await link.submit(pdu)
