"""The bridge's operator side against the operator simulator over real loopback sockets.

Queues and stores are the in-memory fakes (``MemoryQueue`` for the outbound and DLR queues,
``MemoryInboundStore`` + ``MemoryEventPublisher`` for MO intake), so a test can look at exactly
what was queued, deleted and stored, and inject faults between the steps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from smpp_bridge.operator_side import OperatorSide
from smpp_bridge.simulator import OperatorSimulator, SimulatorConfig
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.adapters.sqs_queue import MemoryQueue
from smsbilling.contracts import DlrReceived, OutboundSubmit, SubmitResult
from smsbilling.domain.entities import Operator, OperatorLink, Protocol
from smsbilling.settings import BridgeSettings, Settings, SmppLimits

LINK_ID = "op-smpp"
SYSTEM_ID = "bridge"
PASSWORD = "s3cret!"


def operator() -> Operator:
    return Operator(operator_id="op", name="Test Mobile", country_code="44", currency="GBP")


def smpp_link(port: int, **overrides: Any) -> OperatorLink:
    fields: dict[str, Any] = {
        "link_id": LINK_ID,
        "operator_id": "op",
        "protocol": Protocol.SMPP,
        "smpp_host": "127.0.0.1",
        "smpp_port": port,
        "smpp_system_id": SYSTEM_ID,
        "smpp_password": PASSWORD,
        "granted_tps": 10_000,
        "window_outstanding_max": 10,
    }
    fields.update(overrides)
    return OperatorLink(**fields)


def command(i: int, link_id: str = LINK_ID, **overrides: Any) -> OutboundSubmit:
    fields: dict[str, Any] = {
        "message_id": f"mt-{i}",
        "part_index": 0,
        "link_id": link_id,
        "source": "4444",
        "source_ton": 3,
        "source_npi": 0,
        "destination": f"4477009{i:05d}",
        "esm_class": 0,
        "data_coding": 0,
        "registered_delivery": 1,
        "short_message_hex": f"message {i}".encode().hex(),
    }
    fields.update(overrides)
    return OutboundSubmit(**fields)


FAST_SMPP = {
    "reconnect_backoff_base_s": 0.05,
    "reconnect_backoff_max_s": 0.2,
    "unbind_timeout_s": 1.0,
    "response_timeout_s": 1.0,
    "submit_wait_s_max": 1.0,
    "throttle_backoff_s": 0.1,
}
FAST_BRIDGE = {
    "outbound_receive_wait_s": 1,
    "outbound_visibility_s": 3,
    "outbound_retry_backoff_base_s": 0,
    "outbound_retry_backoff_max_s": 1,
    "links_refresh_interval_s": 0.2,
    "drain_timeout_s": 3.0,
}


@dataclass
class Rig:
    sim: OperatorSimulator
    side: OperatorSide
    entities: MemoryEntityStore
    outbound: MemoryQueue
    dlr: MemoryQueue
    store: MemoryInboundStore
    mo_events: MemoryEventPublisher
    seen: list[str] = field(default_factory=list)  # DLR-queue bodies already read

    def send(self, *commands: OutboundSubmit) -> None:
        for cmd in commands:
            self.outbound.send(cmd.model_dump_json())

    def mt_events(self) -> list[SubmitResult | DlrReceived]:
        out: list[SubmitResult | DlrReceived] = []
        for body in self.dlr.bodies():
            data = json.loads(body)
            out.append(SubmitResult(**data) if data["kind"] == "mt.submit_result" else DlrReceived(**data))
        return out

    def results(self) -> list[SubmitResult]:
        return [e for e in self.mt_events() if isinstance(e, SubmitResult)]

    def receipts(self) -> list[DlrReceived]:
        return [e for e in self.mt_events() if isinstance(e, DlrReceived)]

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 20.0, what: str = "") -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await asyncio.sleep(0.01)

    async def bound(self) -> None:
        await self.until(self.side.registry.any_bound, what="bound")


def settings(**bridge: Any) -> Settings:
    smpp = {k: bridge.pop(k) for k in list(bridge) if k in SmppLimits.model_fields}
    return Settings(
        smpp=SmppLimits(**{**FAST_SMPP, **smpp}),
        bridge=BridgeSettings(**{**FAST_BRIDGE, **bridge}),
    )


@asynccontextmanager
async def operator_rig(
    sim_config: SimulatorConfig | None = None,
    *,
    link: dict[str, Any] | None = None,
    outbound: MemoryQueue | None = None,
    dlr: MemoryQueue | None = None,
    store: MemoryInboundStore | None = None,
    **bridge: Any,
) -> AsyncIterator[Rig]:
    sim = OperatorSimulator(sim_config or SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}))
    port = await sim.start()
    entities = MemoryEntityStore()
    entities.put(operator())
    entities.put(smpp_link(port, **(link or {})))
    s = settings(**bridge)
    if outbound is None:  # (an empty MemoryQueue is falsy: it has a length)
        outbound = MemoryQueue(visibility_s=s.bridge.outbound_visibility_s)
    dlr = MemoryQueue() if dlr is None else dlr
    store = MemoryInboundStore() if store is None else store
    mo_events = MemoryEventPublisher()
    side = OperatorSide(
        s, links=entities, outbound=outbound, mt_events=dlr, inbound_store=store, mo_events=mo_events
    )
    rig = Rig(sim, side, entities, outbound, dlr, store, mo_events)
    await side.start()
    try:
        yield rig
    finally:
        await side.drain(s.bridge.drain_timeout_s)
        await sim.stop()
