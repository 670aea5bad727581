"""Test peers for the UCP and CIMD2 servers: a sans-I/O SMT/SME session of our cores over a real
socket, plus a bridge with UCP and CIMD2 listeners on loopback (for tests/unit/bridge)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from smpp_bridge import cimd2, ucp
from smpp_bridge.app import Bridge
from smpp_bridge.sinks import MemorySink
from smpp_bridge.smpp.rules import Role
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.domain.entities import SmppAccount
from smsbilling.domain.secrets import hash_password
from smsbilling.settings import BridgeSettings, Settings, SmppLimits

PASSWORD = "secret12"
LIMITS = ucp.SessionConfig(response_timeout_s=5, inactivity_timeout_s=60, keepalive_interval_s=60)


def account(system_id: str = "partner1", **overrides: Any) -> SmppAccount:
    fields: dict[str, Any] = {
        "system_id": system_id,
        "password_hash": hash_password(PASSWORD),
        "owner_kind": "partner",
        "owner_id": f"owner-of-{system_id}",
        "allowed_cidrs": ("127.0.0.0/8",),
    }
    fields.update(overrides)
    return SmppAccount(**fields)


@asynccontextmanager
async def bridge(
    accounts: list[SmppAccount], sink: Any = None, **smpp_limits: Any
) -> AsyncIterator[tuple[Bridge, dict[str, int]]]:
    store = MemoryEntityStore()
    for item in accounts:
        store.put(item)
    settings = Settings(
        smpp=SmppLimits(**smpp_limits),
        bridge=BridgeSettings(drain_timeout_s=2, outbox_poll_interval_s=0.1, outbox_lease_s=5),
    )
    running = Bridge(settings, accounts=store, sink=sink or MemorySink(), outbox=MemoryOutboxStore())
    ports = await running.start()
    try:
        yield running, ports
    finally:
        await running.drain()


class Peer:
    """One client connection: requests resolve futures (their context), peer requests queue up."""

    def __init__(self, session: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.session = session
        self.reader = reader
        self.writer = writer
        self.requests: asyncio.Queue[Any] = asyncio.Queue()  # RequestReceived from the bridge
        self.closed = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed.is_set():
            data = await self.reader.read(65536)
            if not data:
                self._handle(self.session.close("eof"))
                break
            self._handle(self.session.receive_data(data, loop.time()))
        self.closed.set()

    def _handle(self, events: list[Any]) -> None:
        for event in events:
            name = type(event).__name__
            if name == "SendData":
                self.writer.write(event.data)
            elif name in ("ResultReceived", "ResponseReceived", "RequestTimedOut", "RequestFailed"):
                future = event.context
                if isinstance(future, asyncio.Future) and not future.done():
                    future.set_result(event)
            elif name == "RequestReceived":
                self.requests.put_nowait(event)
            elif name == "SessionClosed":
                self.closed.set()

    async def request(self, op: Any, timeout_s: float = 5) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.writer.write(self.session.send_request(op, asyncio.get_running_loop().time(), future))
        return await asyncio.wait_for(future, timeout_s)

    def send_request_nowait(self, op: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.writer.write(self.session.send_request(op, asyncio.get_running_loop().time(), future))
        return future

    async def next_request(self, timeout_s: float = 5) -> Any:
        return await asyncio.wait_for(self.requests.get(), timeout_s)

    async def close(self) -> None:
        self.closed.set()
        self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader_task
        self.writer.close()


async def ucp_peer(port: int) -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    session = ucp.UcpSession(Role.ESME, asyncio.get_running_loop().time(), LIMITS)
    return Peer(session, reader, writer)


async def cimd2_peer(port: int) -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    limits = cimd2.SessionConfig(response_timeout_s=5, inactivity_timeout_s=60, keepalive_interval_s=60)
    session = cimd2.Cimd2Session(Role.ESME, asyncio.get_running_loop().time(), limits)
    return Peer(session, reader, writer)
