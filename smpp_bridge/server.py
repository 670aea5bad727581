"""The SMPP server role: partners (and operators) bind to the bridge.

A thin asyncio layer around the sans-I/O :class:`SmppSession`: it pumps bytes, arms the one timer
the session asks for, authenticates binds, and turns accepted ``submit_sm`` into ``SendMt``
commands. A submit is answered only after the sink has stored it durably; a partner over its rate
gets ``ESME_RTHROTTLED`` (never a disconnect); a queue outage gets ``ESME_RMSGQFUL`` so the client
retries. Answers may go out of order, as SMPP allows: correlation is by sequence number.
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

from smpp_bridge.auth import Authenticator, BindRefused
from smpp_bridge.outbox import deliver_sm_for
from smpp_bridge.ratelimit import TokenBucket
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

# Requests we do not serve yet, answered with the status the spec defines for their failure.
_REFUSED_RESPONSES: dict[int, tuple[type[Pdu], int]] = {
    c.QUERY_SM: (QuerySmResp, c.ESME_RQUERYFAIL),
    c.CANCEL_SM: (CancelSmResp, c.ESME_RCANCELFAIL),
    c.REPLACE_SM: (ReplaceSmResp, c.ESME_RREPLACEFAIL),
    c.SUBMIT_MULTI: (SubmitMultiResp, c.ESME_RINVCMDID),
}


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

    def wake_outbox(self, system_id: str) -> None:
        for waker in self.outbox_wakers.get(system_id, ()):
            waker.set()


class Connection:
    def __init__(
        self, ctx: ServerContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer_ip: str = peer[0] if peer else ""
        self.session = SmppSession(Role.SMSC, ctx.clock(), ctx.limits)
        self.account: SmppAccount | None = None
        self.bucket = TokenBucket(
            ctx.limits.submit_rate_per_s, max(1.0, ctx.limits.submit_rate_per_s), ctx.clock()
        )
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
                    await self._handle(self.session.close("connection lost"))
                    break
                await self._handle(self.session.receive_data(data, self.ctx.clock()))
                self._timer_wakeup.set()
        except ConnectionError:
            await self._handle(self.session.close("connection reset"))
        finally:
            timer.cancel()
            await self._finish()

    async def _timer_loop(self) -> None:
        while not self._closed:
            deadline = self.session.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - self.ctx.clock())
            self._timer_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_wakeup.wait(), delay)
                continue
            await self._handle(self.session.handle_timer(self.ctx.clock()))

    async def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SendData):
                self._write(event.data)
            elif isinstance(event, BindRequested):
                await self._on_bind(event)
            elif isinstance(event, RequestReceived):
                self._on_request(event.pdu)
            elif isinstance(event, ResponseReceived | RequestTimedOut | RequestFailed):
                self._on_outcome(event)
            elif isinstance(event, SessionClosed):
                logger.info("session closed", extra={"peer": self.peer_ip, "reason": event.reason})
                self._closed = True
                self.writer.close()

    def _write(self, data: bytes) -> None:
        if data and not self.writer.is_closing():
            self.writer.write(data)

    # ------------------------------------------------------------------ binds
    async def _on_bind(self, event: BindRequested) -> None:
        bind = event.pdu
        try:
            account = await self.ctx.authenticator.authenticate(
                bind.system_id, bind.password, self.peer_ip, self.ctx.clock()
            )
        except BindRefused as refused:
            self.ctx.stats.binds_refused += 1
            logger.warning(
                "bind refused",
                extra={"peer": self.peer_ip, "system_id": bind.system_id, "reason": refused.reason.value},
            )
            self._write(self.session.reject_bind(c.ESME_RBINDFAIL))
            return
        self.account = account
        self.ctx.stats.binds_accepted += 1
        logger.info("bound", extra={"peer": self.peer_ip, "system_id": account.system_id})
        # The bridge speaks 3.4 whatever the peer offers, and says so in sc_interface_version.
        self._write(
            self.session.accept_bind(system_id="smsbilling", interface_version=c.INTERFACE_VERSION_34)
        )
        if account.owner_kind == "partner" and self.session.state in (State.BOUND_RX, State.BOUND_TRX):
            self.ctx.outbox_wakers.setdefault(account.system_id, set()).add(self._outbox_wakeup)
            self._pump = asyncio.create_task(self._pump_outbox(account.system_id))

    # ------------------------------------------------------------------ outbox (MOs, receipts)
    async def _pump_outbox(self, system_id: str) -> None:
        bridge = self.ctx.bridge
        lease_ms = int(bridge.outbox_lease_s * 1000)
        while not self._closed:
            self._outbox_wakeup.clear()
            room = self.session.window_available
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
            pdu = deliver_sm_for(item, now=datetime.now(UTC))
            self._write(self.session.send_request(pdu, self.ctx.clock(), context=item))
        except SmppError:  # the session closed or the item cannot be encoded: let it wait
            self._in_background(self.ctx.outbox.release, item)

    def _on_outcome(self, event: ResponseReceived | RequestTimedOut | RequestFailed) -> None:
        item = event.context
        if not isinstance(item, OutboxItem):
            return
        if isinstance(event, ResponseReceived) and event.response.command_status == c.ESME_ROK:
            self.ctx.stats.outbox_delivered += 1
            self._in_background(self.ctx.outbox.ack, item)
        else:
            if isinstance(event, ResponseReceived):
                self.ctx.stats.outbox_refused += 1  # e.g. ESME_RX_T_APPN: the partner asks us to retry
            else:
                self.ctx.stats.outbox_possible_duplicates += 1
            self._in_background(self.ctx.outbox.release, item)
        self._outbox_wakeup.set()

    def _in_background(self, call: Callable[[OutboxItem], None], item: OutboxItem) -> None:
        task = asyncio.create_task(asyncio.to_thread(call, item))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ requests
    def _on_request(self, pdu: Pdu) -> None:
        if isinstance(pdu, SubmitSm | DataSm):
            self._on_submit(pdu)
            return
        refused = _REFUSED_RESPONSES.get(pdu.command_id)
        if refused is not None:
            response_type, status = refused
            self._respond(response_type(sequence_number=pdu.sequence_number, command_status=status))
        else:  # deliver_sm, alert_notification from a binding SMSC: not expected on this side
            self._respond_error(pdu, c.ESME_RINVCMDID)

    def _on_submit(self, pdu: SubmitSm | DataSm) -> None:
        response_type = SubmitSmResp if isinstance(pdu, SubmitSm) else DataSmResp
        if self.account is None or self.account.owner_kind != "partner":
            self._respond(
                response_type(sequence_number=pdu.sequence_number, command_status=c.ESME_RINVBNDSTS)
            )
            return
        window_max = self.ctx.limits.window_outstanding_max
        if not self.bucket.take(self.ctx.clock()) or len(self.in_flight) >= window_max:
            self.ctx.stats.submits_throttled += 1
            self._respond(
                response_type(sequence_number=pdu.sequence_number, command_status=c.ESME_RTHROTTLED)
            )
            return
        if not pdu.destination_addr:
            self._respond(
                response_type(sequence_number=pdu.sequence_number, command_status=c.ESME_RINVDSTADR)
            )
            return
        command = self._command(pdu, self.account)
        task = asyncio.create_task(self._store_and_answer(pdu, command, response_type))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    def _command(self, pdu: SubmitSm | DataSm, account: SmppAccount) -> SendMt:
        payload = (
            (pdu.short_message if isinstance(pdu, SubmitSm) else b"") or MESSAGE_PAYLOAD.get(pdu.tlvs) or b""
        )
        return SendMt(
            message_id=uuid.uuid4().hex,
            tenant=account.owner_id,
            channel=f"smpp:{account.system_id}",
            source=pdu.source_addr,
            source_ton=pdu.source_addr_ton,
            source_npi=pdu.source_addr_npi,
            destination=pdu.destination_addr,
            esm_class=pdu.esm_class,
            data_coding=pdu.data_coding,
            registered_delivery=pdu.registered_delivery,
            short_message_hex=payload.hex(),
            received_at=datetime.now(UTC),
        )

    async def _store_and_answer(
        self, pdu: SubmitSm | DataSm, command: SendMt, response_type: type[SubmitSmResp] | type[DataSmResp]
    ) -> None:
        try:
            await self.ctx.sink.send_mt(command)
        except SinkUnavailable as error:
            self.ctx.stats.submits_failed += 1
            logger.error("submit not stored", extra={"peer": self.peer_ip, "error": str(error)})
            self._respond(response_type(sequence_number=pdu.sequence_number, command_status=c.ESME_RMSGQFUL))
            return
        self.ctx.stats.submits_accepted += 1
        self._respond(response_type(sequence_number=pdu.sequence_number, message_id=command.message_id))

    def _respond(self, pdu: Pdu) -> None:
        try:
            self._write(self.session.send_response(pdu))
        except SmppError as error:  # the session no longer awaits it (closed meanwhile): log only
            self.ctx.stats.protocol_errors += 1
            logger.warning("response not sent", extra={"peer": self.peer_ip, "error": str(error)})

    def _respond_error(self, pdu: Pdu, status: int) -> None:
        response_type = PDU_CLASSES.get(pdu.command_id | c.RESPONSE_BIT)
        if response_type is not None:
            self._respond(response_type(sequence_number=pdu.sequence_number, command_status=status))

    # ------------------------------------------------------------------ shutdown
    async def drain(self, timeout_s: float) -> None:
        """Finish the window (answer what was accepted), unbind, and wait for the peer to close."""
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=timeout_s)
        if self.session.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX):
            with contextlib.suppress(SmppError):
                self._write(self.session.send_request(Unbind(), self.ctx.clock()))
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
    ctx: ServerContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    connection = Connection(ctx, reader, writer)
    ctx.connections.add(connection)
    ctx.stats.connections += 1
    try:
        await connection.run()
    finally:
        ctx.connections.discard(connection)
