"""Runs a real Bridge (asyncio, real sockets on loopback) in a background thread for blocking peers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smpp_bridge.app import Bridge
from smpp_bridge.sinks import MemorySink
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.domain.entities import SmppAccount
from smsbilling.domain.secrets import hash_password
from smsbilling.settings import BridgeSettings, Settings, SmppLimits

PASSWORD = "secret12"[:8]


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


class RunningBridge:
    def __init__(self, bridge: Bridge, loop: asyncio.AbstractEventLoop, sink: MemorySink) -> None:
        self.bridge = bridge
        self.loop = loop
        self.sink = sink

    @property
    def port(self) -> int:
        return self.bridge.ports["smpp"]

    @property
    def health_port(self) -> int:
        return self.bridge.ports["health"]

    def call(self, coro: Any, timeout_s: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)


@contextmanager
def running_bridge(
    accounts: list[SmppAccount], *, bridge_settings: dict[str, Any] | None = None, **smpp_limits: Any
) -> Iterator[RunningBridge]:
    store = MemoryEntityStore()
    for item in accounts:
        store.put(item)
    sink = MemorySink()
    settings = Settings(
        smpp=SmppLimits(**smpp_limits),
        bridge=BridgeSettings(
            host="127.0.0.1",
            drain_timeout_s=3,
            outbox_poll_interval_s=0.2,
            outbox_lease_s=5,
            **(bridge_settings or {}),
        ),
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bridge = Bridge(settings, accounts=store, sink=sink, outbox=MemoryOutboxStore())
    running = RunningBridge(bridge, loop, sink)
    running.call(bridge.start())
    try:
        yield running
    finally:
        running.call(bridge.drain())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
