"""Virtual time and an in-memory network for the client-role tests (no sockets, no sleeping).

:class:`VirtualTimeLoop` is an asyncio loop whose clock jumps to the next timer whenever nothing
is ready, so a test that waits 30 s of back-off or paces 1,000 submits at 20 TPS finishes in
milliseconds, deterministically. It only works with in-memory transports: :func:`pipe` makes a
connected pair of asyncio streams, and :class:`Network` connects an :class:`SmscLink` to an
:class:`OperatorSimulator` through such pairs, recording every write with its (virtual) time.
A loop with nothing ready and no timer is a deadlock and raises instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from smpp_bridge.simulator import OperatorSimulator
from smpp_bridge.smpp import Bind, Pdu, decode_pdu, encode_pdu
from smpp_bridge.smpp.rules import BIND_RESPONSE

_HEADER = struct.Struct(">IIII")


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            raise RuntimeError("deadlock: nothing is ready and no timer is armed")
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_virtual[T](main: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        leftovers = asyncio.all_tasks(loop)  # e.g. after a failed assertion: cancel, don't leak
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@dataclass(frozen=True)
class Write:
    at: float
    side: str  # "client" or "server"
    command_id: int
    command_status: int
    sequence_number: int


class _PipeTransport(asyncio.Transport):
    def __init__(
        self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol, side: str, log: list[Write]
    ):
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._side = side
        self._log = log
        self._closing = False
        self.peer: _PipeTransport | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self.peer is None:
            return
        data = bytes(data)
        pos = 0
        while pos + 16 <= len(data):
            length, command_id, status, seq = _HEADER.unpack_from(data, pos)
            self._log.append(Write(self._loop.time(), self._side, command_id, status, seq))
            pos += max(length, 16)
        self._loop.call_soon(self.peer._receive, data)

    def _receive(self, data: bytes) -> None:
        if not self._closing:
            self._protocol.data_received(data)

    def _peer_closed(self) -> None:
        if not self._closing:
            self._protocol.eof_received()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.call_soon(self._protocol.connection_lost, None)
        if self.peer is not None:
            self._loop.call_soon(self.peer._peer_closed)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 2775)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def pipe(log: list[Write]) -> tuple[Streams, Streams]:
    """Two connected stream ends (client, server); every PDU written is appended to ``log``."""
    loop = asyncio.get_running_loop()
    ends = []
    for side in ("client", "server"):
        reader = asyncio.StreamReader(loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport = _PipeTransport(loop, protocol, side, log)
        protocol.connection_made(transport)
        ends.append((transport, reader, asyncio.StreamWriter(transport, protocol, reader, loop)))
    ends[0][0].peer, ends[1][0].peer = ends[1][0], ends[0][0]
    return (ends[0][1], ends[0][2]), (ends[1][1], ends[1][2])


@dataclass
class Network:
    """Connects clients to ``simulator`` (or to ``server``, a custom peer) through pipes."""

    simulator: OperatorSimulator | None = None
    server: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]] | None = None
    refuse_next: int = 0  # refuse this many connection attempts first
    log: list[Write] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def connect(self) -> Streams:
        loop = asyncio.get_running_loop()
        self.attempts.append(loop.time())
        if self.refuse_next > 0:
            self.refuse_next -= 1
            raise ConnectionRefusedError("refused by the test network")
        client, server = pipe(self.log)
        serve = self.server or (self.simulator.serve if self.simulator else None)
        assert serve is not None
        task = loop.create_task(serve(*server))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return client

    def writes(self, side: str, command_id: int) -> list[Write]:
        return [w for w in self.log if w.side == side and w.command_id == command_id]


async def until(predicate: Callable[[], bool], timeout_s: float = 60.0, step_s: float = 0.001) -> None:
    """Wait (in loop time) until ``predicate()`` holds; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(step_s)


def scripted_smsc(
    reply: Callable[[Pdu], Pdu | None],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A raw SMSC for behaviour the simulator (built on the core) cannot show: it accepts any
    bind, then answers each PDU with ``reply(pdu)`` (None: ignore it, even enquire_link/unbind)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                header = await reader.readexactly(16)
                pdu = decode_pdu(header + await reader.readexactly(int.from_bytes(header[:4]) - 16))
                if isinstance(pdu, Bind):
                    response: Pdu | None = BIND_RESPONSE[pdu.command_id](
                        pdu.sequence_number, system_id="script"
                    )
                else:
                    response = reply(pdu)
                if response is not None:
                    writer.write(encode_pdu(response))

    return serve
