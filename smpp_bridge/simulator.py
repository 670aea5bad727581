"""An operator SMSC simulator on the sans-I/O core (SMSC role): the far end of the client role.

It accepts binds from configured accounts, answers ``submit_sm`` with an operator message id
(decimal or hex; receipts may use the other form, as some SMSCs do), and returns delivery
receipts as ``deliver_sm`` (``esm_class`` 0x04, the standard text form plus the TLVs
``receipted_message_id`` and ``message_state``) after ``dlr_delay_s``, delivered with probability
``delivery_ratio`` from a seeded random source. MOs are injected with :meth:`inject_mo`. Receipts
and MOs wait in a per-account outbox until a receiver or transceiver bind takes them, and go back
to the outbox when the ESME answers anything but ``ESME_ROK`` (``ESME_RX_T_APPN`` asks for exactly
that), times out or disconnects: at-least-once, like a real SMSC. For fault tests it can throttle
(``ESME_RTHROTTLED`` above a TPS), go silent (hold submits unanswered) and drop every connection.
``stats`` counts what it received, for tests and benchmarks. Independent on purpose of the
platform's receipt code (``smsbilling.domain.dlr``), so tests do not check that code against
itself. ``simulator_main.py`` runs it standalone with a loopback HTTP control endpoint.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from smpp_bridge.pacing import BatchedWriter, SlidingWindowPacer, WindowSlots
from smpp_bridge.smpp import (
    BindRequested,
    DataSm,
    DataSmResp,
    DeliverSm,
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
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.pdus import PDU_CLASSES
from smpp_bridge.smpp.rules import Role
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD, MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from smsbilling.domain.text import decode_payload, encode_payload, is_gsm7

logger = logging.getLogger("smpp_bridge.simulator")

READ_CHUNK_BYTES = 65536
FIRST_MESSAGE_ID = 1_000_000_000
RECEIPT_TEXT_CHARS_MAX = 20
_DELIVERING = frozenset({State.BOUND_RX, State.BOUND_TRX})
_STATE_DELIVERED, _STATE_UNDELIVERABLE = 2, 5


class IdFormat(StrEnum):
    DECIMAL = "decimal"
    HEX = "hex"


@dataclass(frozen=True)
class SimulatorConfig:
    accounts: Mapping[str, str] = field(default_factory=lambda: {"bridge": "secret"}, repr=False)
    system_id: str = "opsim"  # the SMSC's own id, in bind responses
    id_format: IdFormat = IdFormat.DECIMAL
    receipt_id_format: IdFormat | None = None  # None: as in submit_sm_resp
    delivery_ratio: float = 1.0
    dlr_delay_s: float = 0.0
    seed: int = 0
    throttle_tps: int | None = None
    submit_response_delay_s: float = 0.0  # emulates the SMSC's latency (0: answer at once)
    window_outstanding_max: int = 10  # deliver_sm outstanding per bind
    redelivery_delay_s: float = 1.0
    session: SessionConfig = field(default_factory=SessionConfig)


@dataclass
class SimulatorStats:
    connections: int = 0
    binds: int = 0
    bind_refusals: int = 0
    submits_received: int = 0
    submits_accepted: int = 0
    submits_throttled: int = 0
    submits_refused: int = 0  # answered with the forced submit_status
    submits_held: int = 0
    receipts_queued: int = 0
    mos_queued: int = 0
    delivers_sent: int = 0
    delivers_acked: int = 0
    delivers_refused: int = 0
    redeliveries: int = 0
    first_submit_at: float | None = None
    last_submit_at: float | None = None


class _Conn:
    __slots__ = ("out", "pump", "session", "system_id", "timer", "window")

    def __init__(self, session: SmppSession, writer: asyncio.StreamWriter, window_max: int) -> None:
        self.session = session
        self.out = BatchedWriter(writer)
        self.system_id = ""
        self.timer: asyncio.TimerHandle | None = None
        self.pump: asyncio.Task[None] | None = None
        self.window = WindowSlots(window_max)

    def write(self, data: bytes) -> None:
        self.out.write(data)


def format_id(number: int, fmt: IdFormat) -> str:
    return f"{number:x}" if fmt is IdFormat.HEX else str(number)


def receipt_text(
    message_id: str, submit: SubmitSm, delivered: bool, submitted: datetime, done: datetime
) -> str:
    """The de-facto standard receipt text (SMPP 3.4 Appendix B, as most SMSCs write it)."""
    payload = submit.short_message or MESSAGE_PAYLOAD.get(submit.tlvs) or b""
    if submit.esm_class & c.ESM_UDHI and payload:
        payload = payload[1 + payload[0] :]  # quote the text, not the concatenation header
    try:
        quoted = decode_payload(payload, submit.data_coding, errors="replace")[:RECEIPT_TEXT_CHARS_MAX]
    except ValueError:  # binary or an unsupported coding: quote nothing
        quoted = ""
    stat, err, dlvrd = ("DELIVRD", "000", "001") if delivered else ("UNDELIV", "001", "000")
    return (
        f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{submitted:%y%m%d%H%M} "
        f"done date:{done:%y%m%d%H%M} stat:{stat} err:{err} Text:{quoted}"
    )


def wants_receipt(registered_delivery: int, delivered: bool) -> bool:
    """SMPP 3.4 §5.2.17 bits 1-0: 1 final, 2 failure only; 5.0 adds 3, success only."""
    wanted = registered_delivery & 0x03
    return wanted == 1 or (wanted == 2 and not delivered) or (wanted == 3 and delivered)


class OperatorSimulator:
    def __init__(
        self, config: SimulatorConfig | None = None, *, wall_clock: Callable[[], datetime] | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self.stats = SimulatorStats()
        self.silent = False  # hold submits unanswered (a stuck SMSC)
        self.submit_status: int | None = None  # answer every submit with this status (fault tests)
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(self.config.seed)
        self._next_id = FIRST_MESSAGE_ID
        self._throttle_tps = self.config.throttle_tps
        self._limiters: dict[str, SlidingWindowPacer] = {}
        self._outboxes: dict[str, asyncio.Queue[DeliverSm]] = {}
        self._conns: set[_Conn] = set()
        self._later: set[asyncio.TimerHandle] = set()
        self._server: asyncio.Server | None = None
        # The session's window must be the pump's: a smaller one would refuse the pump's sends.
        self._session_limits = replace(
            self.config.session, window_outstanding_max=self.config.window_outstanding_max
        )

    # ------------------------------------------------------------------ control
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self.serve, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        logger.info("simulator listening", extra={"host": host, "port": bound})
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        self.drop_connections()
        if self._server is not None:
            await self._server.wait_closed()

    def throttle(self, tps: int | None) -> None:
        """Answer ESME_RTHROTTLED above ``tps`` submits per second per account (None: never)."""
        self._throttle_tps = tps
        self._limiters.clear()

    def drop_connections(self) -> None:
        """Abort every connection at once, without unbind (a network failure or a crash)."""
        for conn in list(self._conns):
            conn.out.abort()

    def bound_count(self, system_id: str | None = None) -> int:
        return sum(
            1
            for conn in self._conns
            if conn.system_id
            and (system_id is None or conn.system_id == system_id)
            and conn.session.state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
        )

    def pending_deliveries(self, system_id: str) -> int:
        return self._outbox(system_id).qsize()

    async def inject_mo(
        self, source: str, destination: str, text: str, *, system_id: str | None = None
    ) -> None:
        """Queue an MO for ``system_id`` (the only account when there is one)."""
        if system_id is None:
            if len(self.config.accounts) != 1:
                raise ValueError("several accounts: say which one receives the MO")
            system_id = next(iter(self.config.accounts))
        data_coding = 0x00 if is_gsm7(text) else 0x08
        payload = encode_payload(text, data_coding)
        tlvs = (MESSAGE_PAYLOAD(payload),) if len(payload) > c.SHORT_MESSAGE_SIZE_MAX else ()
        pdu = DeliverSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=source,
            destination_addr=destination,
            data_coding=data_coding,
            short_message=b"" if tlvs else payload,
            tlvs=tlvs,
        )
        self.inject(pdu, system_id=system_id)

    def inject(self, pdu: DeliverSm, *, system_id: str | None = None) -> None:
        """Queue any ``deliver_sm`` as it is (a UDH part, SAR TLVs, a malformed one) for an account."""
        if system_id is None:
            if len(self.config.accounts) != 1:
                raise ValueError("several accounts: say which one receives the MO")
            system_id = next(iter(self.config.accounts))
        self.stats.mos_queued += 1
        self._outbox(system_id).put_nowait(pdu)

    # ------------------------------------------------------------------ connections
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        conn = _Conn(
            SmppSession(Role.SMSC, loop.time(), self._session_limits), writer, config.window_outstanding_max
        )
        self._conns.add(conn)
        self.stats.connections += 1
        self._arm_timer(conn)
        try:
            while conn.session.state is not State.CLOSED:
                try:
                    data = await reader.read(READ_CHUNK_BYTES)
                except ConnectionError:
                    data = b""
                if not data:
                    self._handle(conn, conn.session.close("connection lost"))
                    break
                self._handle(conn, conn.session.receive_data(data, loop.time()))
                self._arm_timer(conn)
        finally:
            if conn.session.state is not State.CLOSED:
                self._handle(conn, conn.session.close("simulator stopped"))
            self._conns.discard(conn)
            conn.out.close()

    def _arm_timer(self, conn: _Conn) -> None:
        deadline = conn.session.next_deadline()
        if conn.timer is not None:
            if deadline is not None and conn.timer.when() <= deadline:
                return
            conn.timer.cancel()
            conn.timer = None
        if deadline is not None:
            conn.timer = asyncio.get_running_loop().call_at(deadline, self._on_timer, conn)

    def _on_timer(self, conn: _Conn) -> None:
        conn.timer = None
        self._handle(conn, conn.session.handle_timer(asyncio.get_running_loop().time()))
        self._arm_timer(conn)

    def _handle(self, conn: _Conn, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SendData):
                conn.write(event.data)
            elif isinstance(event, BindRequested):
                self._on_bind(conn, event)
            elif isinstance(event, RequestReceived):
                self._on_request(conn, event.pdu)
            elif isinstance(event, ResponseReceived):
                self._on_delivered(conn, event)
            elif isinstance(event, RequestTimedOut | RequestFailed):
                self._redeliver(conn, event.context)
            elif isinstance(event, SessionClosed):
                self._on_closed(conn, event.reason)

    def _on_bind(self, conn: _Conn, event: BindRequested) -> None:
        bind = event.pdu
        expected = self.config.accounts.get(bind.system_id)
        if expected is None or not hmac.compare_digest(expected.encode(), bind.password.encode()):
            self.stats.bind_refusals += 1
            status = c.ESME_RINVSYSID if expected is None else c.ESME_RINVPASWD
            logger.info("bind refused", extra={"system_id": bind.system_id, "status": c.status_name(status)})
            conn.write(conn.session.reject_bind(status))
            return
        conn.system_id = bind.system_id
        conn.write(conn.session.accept_bind(self.config.system_id, bind.interface_version))
        self.stats.binds += 1
        if conn.session.state in _DELIVERING:
            conn.pump = asyncio.get_running_loop().create_task(self._pump(conn))

    def _on_closed(self, conn: _Conn, reason: str) -> None:
        logger.info("session closed", extra={"system_id": conn.system_id, "reason": reason})
        if conn.pump is not None:
            conn.pump.cancel()
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        conn.out.close()

    # ------------------------------------------------------------------ submits
    def _on_request(self, conn: _Conn, pdu: Pdu) -> None:
        if isinstance(pdu, SubmitSm | DataSm):
            self._on_submit(conn, pdu)
            return
        response_type = PDU_CLASSES.get(pdu.command_id | c.RESPONSE_BIT)
        if response_type is not None:  # query/cancel/replace/submit_multi: not simulated
            conn.write(conn.session.send_response(response_type(pdu.sequence_number, c.ESME_RINVCMDID)))

    def _on_submit(self, conn: _Conn, pdu: SubmitSm | DataSm) -> None:
        stats = self.stats
        now = asyncio.get_running_loop().time()
        stats.submits_received += 1
        if stats.first_submit_at is None:
            stats.first_submit_at = now
        stats.last_submit_at = now
        if self.silent:
            stats.submits_held += 1
            return
        response_type = SubmitSmResp if isinstance(pdu, SubmitSm) else DataSmResp
        if self.submit_status is not None or not self._admit(conn.system_id, now):
            status = c.ESME_RTHROTTLED if self.submit_status is None else self.submit_status
            if status == c.ESME_RTHROTTLED:
                stats.submits_throttled += 1
            else:
                stats.submits_refused += 1
            self._answer(conn, response_type(pdu.sequence_number, status))
            return
        number, self._next_id = self._next_id, self._next_id + 1
        message_id = format_id(number, self.config.id_format)
        self._answer(conn, response_type(pdu.sequence_number, message_id=message_id))
        stats.submits_accepted += 1
        if isinstance(pdu, SubmitSm):
            self._plan_receipt(conn.system_id, pdu, number)

    def _answer(self, conn: _Conn, response: Pdu) -> None:
        delay_s = self.config.submit_response_delay_s
        if delay_s <= 0:
            conn.write(conn.session.send_response(response))
        else:  # b"" once the session has closed meanwhile
            self._call_later(delay_s, lambda: conn.write(conn.session.send_response(response)))

    def _admit(self, system_id: str, now: float) -> bool:
        tps = self._throttle_tps
        if tps is None:
            return True
        limiter = self._limiters.get(system_id)
        if limiter is None:
            limiter = self._limiters[system_id] = SlidingWindowPacer(tps)
        return limiter.try_take(now)

    def _plan_receipt(self, system_id: str, submit: SubmitSm, number: int) -> None:
        delivered = self._rng.random() < self.config.delivery_ratio
        if not wants_receipt(submit.registered_delivery, delivered):
            return
        receipt_id = format_id(number, self.config.receipt_id_format or self.config.id_format)
        submitted = self._wall_clock()
        self.stats.receipts_queued += 1
        if self.config.dlr_delay_s <= 0:
            self._queue_receipt(system_id, receipt_id, submit, delivered, submitted)
            return
        self._call_later(
            self.config.dlr_delay_s, self._queue_receipt, system_id, receipt_id, submit, delivered, submitted
        )

    def _queue_receipt(
        self, system_id: str, receipt_id: str, submit: SubmitSm, delivered: bool, submitted: datetime
    ) -> None:
        text = receipt_text(receipt_id, submit, delivered, submitted, self._wall_clock())
        state = _STATE_DELIVERED if delivered else _STATE_UNDELIVERABLE
        receipt = DeliverSm(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=c.ESM_TYPE_DELIVERY_RECEIPT,
            short_message=text.encode("latin-1", "replace"),
            tlvs=(RECEIPTED_MESSAGE_ID(receipt_id), MESSAGE_STATE(state)),
        )
        self._outbox(system_id).put_nowait(receipt)

    # ------------------------------------------------------------------ deliveries
    def _outbox(self, system_id: str) -> asyncio.Queue[DeliverSm]:
        queue = self._outboxes.get(system_id)
        if queue is None:
            queue = self._outboxes[system_id] = asyncio.Queue()
        return queue

    async def _pump(self, conn: _Conn) -> None:
        """Feed the account's outbox to this bind, keeping at most a window outstanding."""
        outbox = self._outbox(conn.system_id)
        loop = asyncio.get_running_loop()
        while conn.session.state in _DELIVERING:
            await conn.window.take()
            pdu = await outbox.get()
            if conn.session.state not in _DELIVERING:
                outbox.put_nowait(pdu)
                return
            try:
                conn.write(conn.session.send_request(pdu, loop.time(), pdu))
            except SmppError as error:  # the state changed under us (unbind received): keep the PDU
                outbox.put_nowait(pdu)
                logger.warning(
                    "deliver_sm not sent", extra={"system_id": conn.system_id, "error": str(error)}
                )
                return
            self.stats.delivers_sent += 1
            self._arm_timer(conn)

    def _on_delivered(self, conn: _Conn, event: ResponseReceived) -> None:
        if not isinstance(event.context, DeliverSm):
            return
        if event.response.command_status == c.ESME_ROK and event.response.command_id != c.GENERIC_NACK:
            conn.window.release()
            self.stats.delivers_acked += 1
            return
        self.stats.delivers_refused += 1
        self._redeliver(conn, event.context)

    def _redeliver(self, conn: _Conn, context: object) -> None:
        """Back to the outbox after ``redelivery_delay_s`` (refused, timed out, or connection lost)."""
        if not isinstance(context, DeliverSm):
            return
        conn.window.release()
        self.stats.redeliveries += 1
        self._call_later(self.config.redelivery_delay_s, self._outbox(conn.system_id).put_nowait, context)

    def _call_later(self, delay_s: float, callback: Callable[..., None], *args: object) -> None:
        """``loop.call_later`` whose handle :meth:`stop` can cancel, forgotten once it fired."""

        def fire() -> None:
            self._later.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self._later.add(handle)
