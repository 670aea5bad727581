"""The operator SMSC simulator for UCP/EMI and CIMD2 (SMSC role): the far end of those links.

The same behaviour as :class:`~smpp_bridge.simulator.OperatorSimulator` (SMPP), on the UCP and
CIMD2 sans-I/O cores: logins checked against ``SimulatorConfig.accounts`` (UCP OT 60 OAdC/PWD,
CIMD2 011/012); each submit (UCP OT 51, CIMD2 op 03) answered with a service-centre time stamp
unique in the simulator (UCP ``SM = AdC:SCTS``, CIMD2 021 + 060), which is the operator message
id both protocols correlate receipts by; receipts (UCP OT 53 ``Dst`` 0/2, CIMD2 op 23 061 4/3)
after ``dlr_delay_s``, delivered with probability ``delivery_ratio`` (seeded), when the submit
asked for one (UCP NRq 1, CIMD2 056 non-zero). MOs are injected with :meth:`inject_mo` (UCP OT 52,
CIMD2 op 20). Receipts and MOs wait in a per-account outbox and go back to it when the bridge
refuses one (UCP Nack, CIMD2 error response), it times out or the connection drops:
at-least-once, like a real SMSC. Faults: :meth:`throttle` (UCP Nack EC 04, CIMD2 code 10 above a
TPS), ``silent`` (hold submits) and :meth:`drop_connections`. The time stamps are built here, not
with the platform's correlation code, so tests do not check that code against itself.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from smpp_bridge import cimd2, ucp
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.pacing import BatchedWriter, SlidingWindowPacer
from smpp_bridge.simulator import SimulatorConfig, SimulatorStats
from smpp_bridge.smpp.rules import Role
from smpp_bridge.ucp import constants as uc
from smsbilling.domain.text import gsm7_encode, is_gsm7

logger = logging.getLogger("smpp_bridge.simulator_ucp_cimd2")

READ_CHUNK_BYTES = 65536
UCP_SCTS_FORMAT = "%d%m%y%H%M%S"
CIMD2_SCTS_FORMAT = "%y%m%d%H%M%S"


class SimProtocol(StrEnum):
    UCP = "ucp"
    CIMD2 = "cimd2"


@dataclass(frozen=True, slots=True)
class ReceivedSubmit:
    """What the simulator took from a submit, for tests: recipient, originator, the raw message."""

    destination: str
    source: str
    message: bytes | str
    operator_id_stamp: str


Session = ucp.UcpSession | cimd2.Cimd2Session
Delivery = (
    ucp.DeliverShortMessage | ucp.DeliveryNotification | cimd2.DeliverMessage | cimd2.DeliverStatusReport
)


class _Conn:
    __slots__ = ("account", "out", "session", "timer")

    def __init__(self, session: Session, writer: asyncio.StreamWriter) -> None:
        self.session = session
        self.out = BatchedWriter(writer)
        self.account = ""
        self.timer: asyncio.TimerHandle | None = None


class LinkSimulator:
    """A fake UCP or CIMD2 SMSC on a TCP listener."""

    def __init__(
        self,
        protocol: SimProtocol,
        config: SimulatorConfig | None = None,
        *,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.protocol = SimProtocol(protocol)
        self.config = config or SimulatorConfig()
        self.stats = SimulatorStats()
        self.silent = False
        self.submits: list[ReceivedSubmit] = []
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(self.config.seed)
        self._stamp_base = self._wall_clock().replace(microsecond=0)
        self._stamps = 0
        self._throttle_tps = self.config.throttle_tps
        self._limiters: dict[str, SlidingWindowPacer] = {}
        self._outboxes: dict[str, deque[Delivery]] = {}
        self._conns: set[_Conn] = set()
        self._later: set[asyncio.TimerHandle] = set()
        self._server: asyncio.Server | None = None

    # ------------------------------------------------------------------ control
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self.serve, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        logger.info("simulator listening", extra={"protocol": self.protocol.value, "port": bound})
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
        self._throttle_tps = tps
        self._limiters.clear()

    def drop_connections(self) -> None:
        for conn in list(self._conns):
            conn.out.abort()

    def bound_count(self, system_id: str | None = None) -> int:
        active = (ucp.State.ACTIVE, cimd2.State.ACTIVE)
        return sum(
            1
            for conn in self._conns
            if conn.account
            and (system_id is None or conn.account == system_id)
            and conn.session.state in active
        )

    def pending_deliveries(self, system_id: str) -> int:
        return len(self._outbox(system_id))

    def _account(self, system_id: str | None) -> str:
        if system_id is not None:
            return system_id
        if len(self.config.accounts) != 1:
            raise ValueError("several accounts: say which one receives the MO")
        return next(iter(self.config.accounts))

    async def inject_mo(
        self, source: str, destination: str, text: str, *, system_id: str | None = None
    ) -> None:
        """Queue an MO (UCP OT 52 with AMsg or UCS-2 TMsg; CIMD2 op 20 with 033 or UCS-2 034)."""
        account = self._account(system_id)
        now = self._wall_clock()
        delivery: Delivery
        if self.protocol is SimProtocol.UCP:
            oadc, otoa = ucp.text.originator_fields(source)
            if is_gsm7(text):
                xser: tuple[ucp.XSer, ...] = ()
                mt, nb, msg = uc.MT_ALPHANUMERIC, None, gsm7_encode(text)
            else:
                msg = text.encode("utf-16-be")
                mt, nb, xser = uc.MT_TRANSPARENT, 8 * len(msg), (ucp.XSer(uc.XSER_GSM_DCS, b"\x08"),)
            delivery = ucp.DeliverShortMessage(
                adc=destination, oadc=oadc, otoa=otoa, scts=now.strftime(UCP_SCTS_FORMAT),
                mt=mt, nb=nb, msg=msg, xser=xser,
            )  # fmt: skip
        else:
            numeric = source.isdigit()
            user_data = cimd2.encode_user_data(text) if is_gsm7(text) else None
            delivery = cimd2.DeliverMessage(
                destination_address=destination,
                originating_address=source if numeric else None,
                alphanumeric_originating_address=None if numeric else source,
                user_data=user_data,
                user_data_binary=None if user_data is not None else text.encode("utf-16-be"),
                data_coding_scheme=None if user_data is not None else 0x08,
                mc_timestamp=now.strftime(CIMD2_SCTS_FORMAT),
            )
        self.stats.mos_queued += 1
        self._queue(account, delivery)

    # ------------------------------------------------------------------ connections
    def _new_session(self, now: float) -> Session:
        limits_ucp = ucp.SessionConfig(
            window_outstanding_max=min(self.config.window_outstanding_max, 100),
            response_timeout_s=self.config.session.response_timeout_s,
            inactivity_timeout_s=self.config.session.inactivity_timeout_s,
        )
        if self.protocol is SimProtocol.UCP:
            return ucp.UcpSession(Role.SMSC, now, limits_ucp, login_required=True)
        limits = cimd2.SessionConfig(
            window_outstanding_max=min(self.config.window_outstanding_max, 127),
            response_timeout_s=self.config.session.response_timeout_s,
            inactivity_timeout_s=self.config.session.inactivity_timeout_s,
        )
        return cimd2.Cimd2Session(Role.SMSC, now, limits)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        conn = _Conn(self._new_session(loop.time()), writer)
        self._conns.add(conn)
        self.stats.connections += 1
        self._arm_timer(conn)
        try:
            while conn.session.state not in (ucp.State.CLOSED, cimd2.State.CLOSED):
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
            if conn.session.state not in (ucp.State.CLOSED, cimd2.State.CLOSED):
                self._handle(conn, conn.session.close("simulator stopped"))
            self._conns.discard(conn)
            conn.out.close()

    def _arm_timer(self, conn: _Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        deadline = conn.session.next_deadline()
        if deadline is not None:
            conn.timer = asyncio.get_running_loop().call_at(deadline, self._on_timer, conn)

    def _on_timer(self, conn: _Conn) -> None:
        conn.timer = None
        self._handle(conn, conn.session.handle_timer(asyncio.get_running_loop().time()))
        self._arm_timer(conn)

    def _handle(self, conn: _Conn, events: Sequence[object]) -> None:
        for event in events:
            if isinstance(event, ucp.SendData | cimd2.SendData):
                conn.out.write(event.data)
            elif isinstance(event, ucp.LoginRequested):
                self._login(conn, event.operation.oadc, event.operation.pwd)
            elif isinstance(event, cimd2.LoginRequested):
                self._login(conn, event.packet.user_identity or "", event.packet.password or "")
            elif isinstance(event, ucp.RequestReceived):
                self._ucp_request(conn, event.operation)
            elif isinstance(event, cimd2.RequestReceived):
                self._cimd2_request(conn, event.packet)
            elif isinstance(event, ucp.ResultReceived):
                self._delivered(conn, event.context, ok=event.ok)
            elif isinstance(event, cimd2.ResponseReceived):
                self._delivered(conn, event.context, ok=event.response.ok)
            elif isinstance(
                event, ucp.RequestTimedOut | ucp.RequestFailed | cimd2.RequestTimedOut | cimd2.RequestFailed
            ):
                self._delivered(conn, event.context, ok=False)
            elif isinstance(event, ucp.SessionClosed | cimd2.SessionClosed):
                if conn.timer is not None:
                    conn.timer.cancel()
                    conn.timer = None
                conn.out.close()

    def _login(self, conn: _Conn, system_id: str, password: str) -> None:
        expected = self.config.accounts.get(system_id)
        session = conn.session
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            self.stats.bind_refusals += 1
            conn.out.write(session.reject_login())
            return
        conn.account = system_id
        conn.out.write(session.accept_login())
        self.stats.binds += 1
        self._flush(conn)

    # ------------------------------------------------------------------ submits
    def _admit(self, account: str, now: float) -> bool:
        tps = self._throttle_tps
        if tps is None:
            return True
        limiter = self._limiters.get(account)
        if limiter is None:
            limiter = self._limiters[account] = SlidingWindowPacer(tps)
        return limiter.try_take(now)

    def _next_stamp(self) -> datetime:
        """A time stamp no earlier submit got: the operator message id must be unique."""
        now = self._wall_clock().replace(microsecond=0)
        self._stamps += 1
        return max(now, self._stamp_base + timedelta(seconds=self._stamps))

    def _take_submit(self) -> bool | None:
        """None: hold it (silent); False: throttle it; True: accept it."""
        stats = self.stats
        now = asyncio.get_running_loop().time()
        stats.submits_received += 1
        if stats.first_submit_at is None:
            stats.first_submit_at = now
        stats.last_submit_at = now
        if self.silent:
            stats.submits_held += 1
            return None
        return True

    def _ucp_request(self, conn: _Conn, op: ucp.Operation) -> None:
        session = conn.session
        assert isinstance(session, ucp.UcpSession)
        if not isinstance(op, ucp.SubmitShortMessage):
            conn.out.write(session.send_result(ucp.Nack(op.ot, op.trn, int(uc.Ec.OPERATION_NOT_SUPPORTED))))
            return
        if self._take_submit() is None:
            return
        if not self._admit(conn.account, asyncio.get_running_loop().time()):
            self.stats.submits_throttled += 1
            conn.out.write(session.send_result(ucp.Nack(op.ot, op.trn, int(uc.Ec.OPERATION_NOT_ALLOWED))))
            return
        stamp = self._next_stamp()
        scts = stamp.strftime(UCP_SCTS_FORMAT)
        conn.out.write(session.send_result(ucp.Ack(op.ot, op.trn, sm=f"{op.adc}:{scts}")))
        self.stats.submits_accepted += 1
        self.submits.append(ReceivedSubmit(op.adc, ucp.originator_text(op), op.msg, scts))
        if op.nrq == "1":
            self._plan_receipt(conn.account, lambda delivered: ucp.DeliveryNotification(
                adc=op.oadc if op.otoa != uc.OTOA_ALPHANUMERIC else "", oadc=op.adc, scts=scts,
                dst="0" if delivered else "2", rsn="000" if delivered else "001",
                dscts=self._wall_clock().strftime(UCP_SCTS_FORMAT), mt=uc.MT_ALPHANUMERIC,
                msg=b"Message delivered" if delivered else b"Message undelivered",
            ))  # fmt: skip

    def _cimd2_request(self, conn: _Conn, packet: cimd2.Packet) -> None:
        session = conn.session
        assert isinstance(session, cimd2.Cimd2Session)
        response_opcode = packet.opcode + cc.RESPONSE_OFFSET
        if not isinstance(packet, cimd2.SubmitMessage):
            code = int(cc.Code.UNEXPECTED_OPERATION)
            conn.out.write(
                session.send_response(cimd2.Response(response_opcode, packet.number, error_code=code))
            )
            return
        if self._take_submit() is None:
            return
        if not self._admit(conn.account, asyncio.get_running_loop().time()):
            self.stats.submits_throttled += 1
            code = int(cc.Code.TEMPORARY_CONGESTION)
            conn.out.write(
                session.send_response(cimd2.Response(response_opcode, packet.number, error_code=code))
            )
            return
        stamp = self._next_stamp().strftime(CIMD2_SCTS_FORMAT)
        destination = packet.destination_address or ""
        response = cimd2.Response(
            response_opcode, packet.number, destination_address=destination, mc_timestamp=stamp
        )
        conn.out.write(session.send_response(response))
        self.stats.submits_accepted += 1
        message: bytes | str = (
            packet.user_data if packet.user_data is not None else (packet.user_data_binary or b"")
        )
        source = packet.originating_address or packet.alphanumeric_originating_address or ""
        self.submits.append(ReceivedSubmit(destination, source, message, stamp))
        if packet.status_report_request:
            self._plan_receipt(conn.account, lambda delivered: cimd2.DeliverStatusReport(
                destination_address=destination, originating_address=packet.originating_address,
                mc_timestamp=stamp, status_code=4 if delivered else 3,
                status_error_code=None if delivered else 1,
                discharge_time=self._wall_clock().strftime(CIMD2_SCTS_FORMAT),
            ))  # fmt: skip

    def _plan_receipt(self, account: str, build: Callable[[bool], Delivery]) -> None:
        delivered = self._rng.random() < self.config.delivery_ratio
        self.stats.receipts_queued += 1
        delay = self.config.dlr_delay_s
        if delay <= 0:
            self._queue(account, build(delivered))
        else:
            self._call_later(delay, lambda: self._queue(account, build(delivered)))

    # ------------------------------------------------------------------ deliveries
    def _outbox(self, account: str) -> deque[Delivery]:
        return self._outboxes.setdefault(account, deque())

    def _queue(self, account: str, delivery: Delivery) -> None:
        self._outbox(account).append(delivery)
        for conn in list(self._conns):
            if conn.account == account:
                self._flush(conn)
                return

    def _flush(self, conn: _Conn) -> None:
        """Send the account's outbox on ``conn`` while its session has window."""
        outbox = self._outbox(conn.account)
        session = conn.session
        loop = asyncio.get_running_loop()
        while (
            outbox
            and session.state in (ucp.State.ACTIVE, cimd2.State.ACTIVE)
            and session.window_available > 0
        ):
            delivery = outbox.popleft()
            try:
                if isinstance(session, ucp.UcpSession):
                    assert isinstance(delivery, ucp.DeliverShortMessage | ucp.DeliveryNotification)
                    data = session.send_request(delivery, loop.time(), delivery)
                else:
                    assert isinstance(delivery, cimd2.DeliverMessage | cimd2.DeliverStatusReport)
                    data = session.send_request(delivery, loop.time(), delivery)
            except (ucp.UcpError, cimd2.Cimd2Error) as error:
                outbox.appendleft(delivery)
                logger.warning("delivery not sent", extra={"error": str(error)})
                return
            conn.out.write(data)
            self.stats.delivers_sent += 1
        self._arm_timer(conn)

    def _delivered(self, conn: _Conn, context: object, *, ok: bool) -> None:
        if not isinstance(
            context,
            ucp.DeliverShortMessage
            | ucp.DeliveryNotification
            | cimd2.DeliverMessage
            | cimd2.DeliverStatusReport,
        ):
            return
        if ok:
            self.stats.delivers_acked += 1
            self._flush(conn)
            return
        self.stats.delivers_refused += 1
        self.stats.redeliveries += 1
        account = conn.account
        self._call_later(self.config.redelivery_delay_s, lambda: self._queue(account, context))

    def _call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        def fire() -> None:
            self._later.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self._later.add(handle)
