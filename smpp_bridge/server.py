"""The bridge's server role: partners (and operators) bind or log in to the bridge.

One protocol-independent :class:`Connection` does what every link protocol shares: it pumps bytes
through a sans-I/O session, arms the one timer the session asks for, authenticates logins
(:class:`Authenticator`: allow-list before password, one answer for every refusal, lockout, binds
per account), applies the per-bind window and rate and the account's rate over all its binds
(the account's own ``submit_rate_per_s`` / ``account_submit_rate_per_s`` where the admin set them),
turns accepted submits into ``SendMt`` commands answered only after the sink has stored them, and
delivers the partner's outbox (MOs, receipts) while it is bound, acknowledging or releasing each
item on the peer's answer.

What differs per protocol is a small :class:`ServerAdapter`: it owns the session, translates its
events into the :data:`Action` vocabulary below and builds the protocol's answers. SMPP's is
here (:class:`SmppAdapter`); UCP/EMI's and CIMD2's are in ``server_ucp.py`` and
``server_cimd2.py``. A partner over its rate gets the protocol's throttling error (never a
disconnect); a queue outage gets a temporary error so the client retries. Answers may go out of
order: every protocol correlates by its own request number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from smpp_bridge.auth import Authenticator, BindRefused
from smpp_bridge.outbox import deliver_sm_for
from smpp_bridge.ratelimit import TokenBucket
from smpp_bridge.session_driver import SessionDriver
from smpp_bridge.sinks import MtSink, SinkUnavailable
from smpp_bridge.smpp import (
    BindRequested,
    CancelSmResp,
    DataSm,
    DataSmResp,
    Event,
    Pdu,
    QuerySmResp,
    ReplaceSmResp,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Role,
    SendData,
    SessionClosed,
    SmppError,
    SmppSession,
    State,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.pdus import PDU_CLASSES
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD
from smsbilling.contracts import SendMt
from smsbilling.domain.entities import SmppAccount
from smsbilling.domain.outbox import OutboxItem
from smsbilling.ports import OutboxStore
from smsbilling.settings import BridgeSettings, SmppLimits

logger = logging.getLogger("smpp_bridge.server")

# The channel names the bridge account (the same credentials for every protocol): the MT
# processor reads the system id from it to send receipts back to the partner's outbox.
CHANNEL_PREFIX = "smpp:"
SCTS_RECIPIENTS_TRACKED_MAX = 100_000

# Requests we do not serve yet, answered with the status the spec defines for their failure.
_REFUSED_RESPONSES: dict[int, tuple[type[Pdu], int]] = {
    c.QUERY_SM: (QuerySmResp, c.ESME_RQUERYFAIL),
    c.CANCEL_SM: (CancelSmResp, c.ESME_RCANCELFAIL),
    c.REPLACE_SM: (ReplaceSmResp, c.ESME_RREPLACEFAIL),
    c.SUBMIT_MULTI: (SubmitMultiResp, c.ESME_RINVCMDID),
}


# ---------------------------------------------------------------------- the adapter vocabulary
class AdapterError(Exception):
    """The adapter cannot do it now (the session closed, a field cannot be encoded)."""


class SubmitRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # not a partner account (or not logged in)
    THROTTLED = "throttled"  # over the bind's rate or window
    QUEUE_FULL = "queue_full"  # not stored: try again later
    BAD_DESTINATION = "bad_destination"


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    system_id: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Submission:
    """A partner's submit, in SMPP's terms (what ``SendMt`` carries); ``token`` is the adapter's."""

    token: object
    source: str
    source_ton: int
    source_npi: int
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Delivered:
    """The outcome of an outbox item we sent: ``ok`` (acknowledge) or not (release)."""

    item: object
    ok: bool
    answered: bool  # False: no usable answer (timeout, closed), the partner may have it twice


@dataclass(frozen=True, slots=True)
class Closed:
    reason: str


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str  # a frame or request the session refused or dropped (counted as a protocol error)


Action = Write | LoginAttempt | Submission | Delivered | Closed | Dropped


class ServerAdapter(Protocol):
    """One protocol's session, seen by the protocol-independent :class:`Connection`."""

    name: str

    def receive(self, data: bytes, now: float) -> list[Action]: ...
    def timer(self, now: float) -> list[Action]: ...
    def close(self, reason: str) -> list[Action]: ...
    def next_deadline(self) -> float | None: ...
    def accept_login(self) -> bytes: ...
    def reject_login(self) -> bytes: ...
    @property
    def logged_in(self) -> bool: ...
    @property
    def receives(self) -> bool:
        """The peer takes deliveries (MOs, receipts) on this session."""
        ...

    @property
    def window_available(self) -> int: ...
    def send_item(self, item: OutboxItem, now: float) -> bytes:
        """The bytes delivering ``item``; its :class:`Delivered` carries it back. AdapterError."""
        ...

    def accept_submit(self, submission: Submission, message_id: str) -> bytes: ...
    def refuse_submit(self, submission: Submission, refusal: SubmitRefusal) -> bytes: ...
    def goodbye(self, now: float) -> bytes | None:
        """A logout/unbind to send when draining (``None``: the protocol has none, just close)."""
        ...


AdapterFactory = Callable[["ServerContext", float], ServerAdapter]


# ---------------------------------------------------------------------- shared state
@dataclass
class BridgeStats:
    connections: int = 0
    binds_accepted: int = 0
    binds_refused: int = 0
    submits_accepted: int = 0
    submits_throttled: int = 0
    submits_failed: int = 0
    protocol_errors: int = 0
    outbox_delivered: int = 0
    outbox_refused: int = 0
    outbox_possible_duplicates: int = 0  # sent, but no answer: the partner may have it twice


class SctsClock:
    """Service-centre time stamps unique per recipient (UCP and CIMD2 use them as message ids):
    a second already given to a recipient is bumped to the next free one."""

    def __init__(self, tracked_max: int = SCTS_RECIPIENTS_TRACKED_MAX) -> None:
        self._last: dict[str, int] = {}
        self._tracked_max = tracked_max

    def stamp(self, recipient: str, now: datetime) -> datetime:
        second = int(now.timestamp())
        last = self._last.get(recipient)
        if last is not None and last >= second:
            second = last + 1
        if recipient not in self._last and len(self._last) >= self._tracked_max:
            cutoff = int(now.timestamp()) - 1  # entries in the past can no longer collide
            self._last = {k: v for k, v in self._last.items() if v >= cutoff}
            if len(self._last) >= self._tracked_max:
                del self._last[next(iter(self._last))]
        self._last[recipient] = second
        return datetime.fromtimestamp(second, UTC)


STAMP_FORMAT = "%Y%m%d%H%M%S"


def stamped_message_id(stamp: datetime) -> str:
    """A message id carrying its SCTS, so receipts can quote it (``<uuid>.<YYYYmmddHHMMSS>``)."""
    return f"{uuid.uuid4().hex}.{stamp.strftime(STAMP_FORMAT)}"


def stamp_of(message_id: str) -> datetime | None:
    """The SCTS of a :func:`stamped_message_id` (``None`` for ids from elsewhere)."""
    _, dot, stamp = message_id.rpartition(".")
    if not dot:
        return None
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class ServerContext:
    """What every connection shares: limits, authentication, the sink, the clock, the counters."""

    limits: SmppLimits
    authenticator: Authenticator
    sink: MtSink
    outbox: OutboxStore
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    clock: Callable[[], float] = time.monotonic
    stats: BridgeStats = field(default_factory=BridgeStats)
    connections: set[Connection] = field(default_factory=set)
    outbox_wakers: dict[str, set[asyncio.Event]] = field(default_factory=dict)
    scts: SctsClock = field(default_factory=SctsClock)
    account_buckets: dict[str, tuple[float, TokenBucket]] = field(default_factory=dict)

    def bind_bucket(self, account: SmppAccount) -> TokenBucket:
        """A new bind's own rate: the account's ``submit_rate_per_s``, or the settings' default."""
        return _bucket(bind_rate_per_s(account, self.limits), self.clock())

    def account_bucket(self, account: SmppAccount, *, bound: bool = False) -> TokenBucket:
        """The rate of one account over all its binds in this process (``account_submit_rate_per_s``).

        ``bound``: ``account`` was just read for a bind; a rate changed since the bucket was made
        replaces it (at the new rate, full). Submits pass the account their bind read, which may be
        older, and never replace it: binds made before a change share the new bucket, and never
        swap the old rate back in (nor refill the bucket by doing so).
        """
        held = self.account_buckets.get(account.system_id)
        if held is None or (bound and held[0] != account_rate_per_s(account, self.limits)):
            rate = account_rate_per_s(account, self.limits)
            held = self.account_buckets[account.system_id] = (rate, _bucket(rate, self.clock()))
        return held[1]

    def wake_outbox(self, system_id: str) -> None:
        for waker in self.outbox_wakers.get(system_id, ()):
            waker.set()


def bind_rate_per_s(account: SmppAccount, limits: SmppLimits) -> float:
    return limits.submit_rate_per_s if account.submit_rate_per_s is None else account.submit_rate_per_s


def account_rate_per_s(account: SmppAccount, limits: SmppLimits) -> float:
    stored = account.account_submit_rate_per_s
    return limits.account_submit_rate_per_s if stored is None else stored


def _bucket(rate_per_s: float, now: float) -> TokenBucket:
    return TokenBucket(rate_per_s, max(1.0, rate_per_s), now)  # burst: one second's worth


# ---------------------------------------------------------------------- SMPP
class SmppAdapter(SessionDriver[Action]):
    """SMPP 3.4 (and 5.0 binds, answered as 3.4): bind_*, submit_sm / data_sm, deliver_sm."""

    name = "smpp"

    session: SmppSession

    def __init__(self, ctx: ServerContext, now: float) -> None:
        self.session = SmppSession(Role.SMSC, now, ctx.limits)

    def _actions(self, events: list[Event]) -> list[Action]:
        actions: list[Action] = []
        for event in events:
            if isinstance(event, SendData):
                actions.append(Write(event.data))
            elif isinstance(event, BindRequested):
                actions.append(LoginAttempt(event.pdu.system_id, event.pdu.password))
            elif isinstance(event, RequestReceived):
                actions.append(self._request(event.pdu))
            elif isinstance(event, ResponseReceived):
                ok = event.response.command_status == c.ESME_ROK
                actions.append(Delivered(event.context, ok=ok, answered=True))
            elif isinstance(event, RequestTimedOut | RequestFailed):
                actions.append(Delivered(event.context, ok=False, answered=False))
            elif isinstance(event, SessionClosed):
                actions.append(Closed(event.reason))
        return actions

    def _request(self, pdu: Pdu) -> Action:
        if isinstance(pdu, SubmitSm | DataSm):
            payload = (
                (pdu.short_message if isinstance(pdu, SubmitSm) else b"")
                or MESSAGE_PAYLOAD.get(pdu.tlvs)
                or b""
            )
            return Submission(
                token=pdu, source=pdu.source_addr, source_ton=pdu.source_addr_ton,
                source_npi=pdu.source_addr_npi, destination=pdu.destination_addr, esm_class=pdu.esm_class,
                data_coding=pdu.data_coding, registered_delivery=pdu.registered_delivery, payload=payload,
            )  # fmt: skip
        refused = _REFUSED_RESPONSES.get(pdu.command_id)
        if refused is not None:
            response_type, status = refused
            response = response_type(sequence_number=pdu.sequence_number, command_status=status)
        else:  # deliver_sm, alert_notification from a binding SMSC: not expected on this side
            response_class = PDU_CLASSES.get(pdu.command_id | c.RESPONSE_BIT)
            if response_class is None:
                return Dropped(f"no response to command {pdu.command_id:#x}")
            response = response_class(sequence_number=pdu.sequence_number, command_status=c.ESME_RINVCMDID)
        try:
            return Write(self._respond(response))
        except AdapterError as error:
            return Dropped(str(error))

    def _respond(self, pdu: Pdu) -> bytes:
        try:
            return self.session.send_response(pdu)
        except SmppError as error:  # the session no longer awaits it (closed meanwhile)
            raise AdapterError(str(error)) from None

    def accept_login(self) -> bytes:
        # The bridge speaks 3.4 whatever the peer offers, and says so in sc_interface_version.
        return self.session.accept_bind(system_id="smsbilling", interface_version=c.INTERFACE_VERSION_34)

    def reject_login(self) -> bytes:
        return self.session.reject_bind(c.ESME_RBINDFAIL)

    @property
    def logged_in(self) -> bool:
        return self.session.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)

    @property
    def receives(self) -> bool:
        return self.session.state in (State.BOUND_RX, State.BOUND_TRX)

    @property
    def window_available(self) -> int:
        return self.session.window_available

    def send_item(self, item: OutboxItem, now: float) -> bytes:
        try:
            return self.session.send_request(deliver_sm_for(item, now=datetime.now(UTC)), now, context=item)
        except SmppError as error:
            raise AdapterError(str(error)) from None

    @staticmethod
    def _response_type(submission: Submission) -> type[SubmitSmResp] | type[DataSmResp]:
        return SubmitSmResp if isinstance(submission.token, SubmitSm) else DataSmResp

    def accept_submit(self, submission: Submission, message_id: str) -> bytes:
        pdu = submission.token
        assert isinstance(pdu, SubmitSm | DataSm)
        return self._respond(
            self._response_type(submission)(sequence_number=pdu.sequence_number, message_id=message_id)
        )

    def refuse_submit(self, submission: Submission, refusal: SubmitRefusal) -> bytes:
        pdu = submission.token
        assert isinstance(pdu, SubmitSm | DataSm)
        status = {
            SubmitRefusal.NOT_ALLOWED: c.ESME_RINVBNDSTS,
            SubmitRefusal.THROTTLED: c.ESME_RTHROTTLED,
            SubmitRefusal.QUEUE_FULL: c.ESME_RMSGQFUL,
            SubmitRefusal.BAD_DESTINATION: c.ESME_RINVDSTADR,
        }[refusal]
        return self._respond(
            self._response_type(submission)(sequence_number=pdu.sequence_number, command_status=status)
        )

    def goodbye(self, now: float) -> bytes | None:
        if not self.logged_in:
            return None
        try:
            return self.session.send_request(Unbind(), now)
        except SmppError:
            return None


# ---------------------------------------------------------------------- the connection
class Connection:
    def __init__(
        self,
        ctx: ServerContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        adapter: AdapterFactory = SmppAdapter,
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer_ip: str = peer[0] if peer else ""
        self.adapter: ServerAdapter = adapter(ctx, ctx.clock())
        self.account: SmppAccount | None = None
        self.bucket: TokenBucket | None = None  # the bind's rate, from its account (set at the bind)
        self.in_flight: set[asyncio.Task[None]] = set()
        self._timer_wakeup = asyncio.Event()
        self._closed = False
        self._outbox_wakeup = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ pumping
    async def run(self) -> None:
        timer = asyncio.create_task(self._timer_loop())
        try:
            while not self._closed:
                data = await self.reader.read(65536)
                if not data:
                    await self._handle(self.adapter.close("connection lost"))
                    break
                await self._handle(self.adapter.receive(data, self.ctx.clock()))
                self._timer_wakeup.set()
        except ConnectionError:
            await self._handle(self.adapter.close("connection reset"))
        finally:
            timer.cancel()
            await self._finish()

    async def _timer_loop(self) -> None:
        while not self._closed:
            deadline = self.adapter.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - self.ctx.clock())
            self._timer_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_wakeup.wait(), delay)
                continue
            await self._handle(self.adapter.timer(self.ctx.clock()))

    async def _handle(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Write):
                self._write(action.data)
            elif isinstance(action, LoginAttempt):
                await self._on_login(action)
            elif isinstance(action, Submission):
                self._on_submit(action)
            elif isinstance(action, Delivered):
                self._on_outcome(action)
            elif isinstance(action, Dropped):
                self.ctx.stats.protocol_errors += 1
                logger.info("frame dropped", extra={"peer": self.peer_ip, "reason": action.reason})
            elif isinstance(action, Closed):
                logger.info("session closed", extra={"peer": self.peer_ip, "reason": action.reason})
                self._closed = True
                self.writer.close()

    def _write(self, data: bytes) -> None:
        if data and not self.writer.is_closing():
            self.writer.write(data)

    # ------------------------------------------------------------------ logins
    async def _on_login(self, login: LoginAttempt) -> None:
        try:
            account = await self.ctx.authenticator.authenticate(
                login.system_id, login.password, self.peer_ip, self.ctx.clock()
            )
        except BindRefused as refused:
            self.ctx.stats.binds_refused += 1
            logger.warning(
                "bind refused",
                extra={
                    "peer": self.peer_ip,
                    "protocol": self.adapter.name,
                    "system_id": login.system_id,
                    "reason": refused.reason.value,
                },
            )
            self._write(self.adapter.reject_login())
            return
        self.account = account
        self.bucket = self.ctx.bind_bucket(account)
        self.ctx.account_bucket(account, bound=True)  # takes up a rate the admin changed
        self.ctx.stats.binds_accepted += 1
        extra = {
            "peer": self.peer_ip,
            "protocol": self.adapter.name,
            "system_id": account.system_id,
            "submit_rate_per_s": bind_rate_per_s(account, self.ctx.limits),
            "account_submit_rate_per_s": account_rate_per_s(account, self.ctx.limits),
        }
        logger.info("bound", extra=extra)
        self._write(self.adapter.accept_login())
        if account.owner_kind == "partner" and self.adapter.receives:
            self.ctx.outbox_wakers.setdefault(account.system_id, set()).add(self._outbox_wakeup)
            self._pump = asyncio.create_task(self._pump_outbox(account.system_id))

    # ------------------------------------------------------------------ outbox (MOs, receipts)
    async def _pump_outbox(self, system_id: str) -> None:
        bridge = self.ctx.bridge
        lease_ms = int(bridge.outbox_lease_s * 1000)
        while not self._closed:
            self._outbox_wakeup.clear()
            room = self.adapter.window_available
            if room > 0:
                now_ms = time.time_ns() // 1_000_000
                items = await asyncio.to_thread(
                    self.ctx.outbox.lease, system_id, room, now_ms=now_ms, lease_ms=lease_ms
                )
                for item in items:
                    self._send_item(item)
                if items:
                    continue  # there may be more, as soon as the window has room
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox_wakeup.wait(), bridge.outbox_poll_interval_s)

    def _send_item(self, item: OutboxItem) -> None:
        try:
            self._write(self.adapter.send_item(item, self.ctx.clock()))
        except AdapterError:  # the session closed or the item cannot be encoded: let it wait
            self._in_background(self.ctx.outbox.release, item)

    def _on_outcome(self, outcome: Delivered) -> None:
        item = outcome.item
        if not isinstance(item, OutboxItem):
            return
        if outcome.ok:
            self.ctx.stats.outbox_delivered += 1
            self._in_background(self.ctx.outbox.ack, item)
        else:
            if outcome.answered:
                self.ctx.stats.outbox_refused += 1  # e.g. ESME_RX_T_APPN: the partner asks us to retry
            else:
                self.ctx.stats.outbox_possible_duplicates += 1
            self._in_background(self.ctx.outbox.release, item)
        self._outbox_wakeup.set()

    def _in_background(self, call: Callable[[OutboxItem], None], item: OutboxItem) -> None:
        task = asyncio.create_task(asyncio.to_thread(call, item))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ submits
    def _on_submit(self, submission: Submission) -> None:
        if self.account is None or self.bucket is None or self.account.owner_kind != "partner":
            self._respond(self.adapter.refuse_submit, submission, SubmitRefusal.NOT_ALLOWED)
            return
        # The window first (a full one spends no token), then the bind's rate, then the account's.
        now = self.ctx.clock()
        if (
            len(self.in_flight) >= self.ctx.limits.window_outstanding_max
            or not self.bucket.take(now)
            or not self.ctx.account_bucket(self.account).take(now)
        ):
            self.ctx.stats.submits_throttled += 1
            self._respond(self.adapter.refuse_submit, submission, SubmitRefusal.THROTTLED)
            return
        if not submission.destination:
            self._respond(self.adapter.refuse_submit, submission, SubmitRefusal.BAD_DESTINATION)
            return
        command = self._command(submission, self.account)
        task = asyncio.create_task(self._store_and_answer(submission, command))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    def _command(self, submission: Submission, account: SmppAccount) -> SendMt:
        now = datetime.now(UTC)
        message_id = (
            uuid.uuid4().hex
            if self.adapter.name == SmppAdapter.name
            else stamped_message_id(self.ctx.scts.stamp(submission.destination, now))
        )
        return SendMt(
            message_id=message_id,
            tenant=account.owner_id,
            channel=f"{CHANNEL_PREFIX}{account.system_id}",
            source=submission.source,
            source_ton=submission.source_ton,
            source_npi=submission.source_npi,
            destination=submission.destination,
            esm_class=submission.esm_class,
            data_coding=submission.data_coding,
            registered_delivery=submission.registered_delivery,
            short_message_hex=submission.payload.hex(),
            received_at=now,
        )

    async def _store_and_answer(self, submission: Submission, command: SendMt) -> None:
        try:
            await self.ctx.sink.send_mt(command)
        except SinkUnavailable as error:
            self.ctx.stats.submits_failed += 1
            logger.error("submit not stored", extra={"peer": self.peer_ip, "error": str(error)})
            self._respond(self.adapter.refuse_submit, submission, SubmitRefusal.QUEUE_FULL)
            return
        self.ctx.stats.submits_accepted += 1
        self._respond(self.adapter.accept_submit, submission, command.message_id)

    def _respond[T](self, answer: Callable[[Submission, T], bytes], submission: Submission, arg: T) -> None:
        try:
            self._write(answer(submission, arg))
        except AdapterError as error:  # the session no longer awaits it (closed meanwhile): log only
            self.ctx.stats.protocol_errors += 1
            logger.warning("response not sent", extra={"peer": self.peer_ip, "error": str(error)})

    # ------------------------------------------------------------------ shutdown
    async def drain(self, timeout_s: float) -> None:
        """Finish the window (answer what was accepted), log out, and wait for the peer to close."""
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=timeout_s)
        goodbye = self.adapter.goodbye(self.ctx.clock())
        if goodbye is not None:
            self._write(goodbye)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_closed(), timeout_s)
        self.writer.close()

    async def _wait_closed(self) -> None:
        while not self._closed:
            await asyncio.sleep(0.05)

    async def _finish(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        if self.in_flight:  # answers for stored submits still go out if the socket lives
            await asyncio.gather(*self.in_flight, return_exceptions=True)
        if self._background:  # outbox acks and releases must land before we forget them
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.account is not None:
            self.ctx.outbox_wakers.get(self.account.system_id, set()).discard(self._outbox_wakeup)
            self.ctx.authenticator.release(self.account.system_id)
            self.account = None
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def serve_connection(
    ctx: ServerContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    adapter: AdapterFactory = SmppAdapter,
) -> None:
    connection = Connection(ctx, reader, writer, adapter)
    ctx.connections.add(connection)
    ctx.stats.connections += 1
    try:
        await connection.run()
    finally:
        ctx.connections.discard(connection)
