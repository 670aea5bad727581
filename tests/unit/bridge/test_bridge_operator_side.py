"""The bridge process with its operator side: started with the listeners, in /metrics, drained on SIGTERM."""

from __future__ import annotations

import asyncio
import json

from smpp_bridge.app import Bridge
from smpp_bridge.operator_side import OperatorSide
from smpp_bridge.simulator import OperatorSimulator, SimulatorConfig
from smpp_bridge.sinks import MemorySink
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.adapters.sqs_queue import MemoryQueue
from tests.unit.bridge.operator_harness import PASSWORD, SYSTEM_ID, command, operator, settings, smpp_link


async def http_get(port: int, path: str) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return dict(json.loads(data.split(b"\r\n\r\n", 1)[1]))


def test_the_bridge_binds_out_reports_its_links_and_unbinds_on_drain() -> None:
    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}))
        entities = MemoryEntityStore()
        entities.put(operator())
        entities.put(smpp_link(await sim.start()))
        outbound, dlr = MemoryQueue(), MemoryQueue()
        s = settings()
        side = OperatorSide(
            s,
            links=entities,
            outbound=outbound,
            mt_events=dlr,
            inbound_store=MemoryInboundStore(),
            mo_events=MemoryEventPublisher(),
        )
        bridge = Bridge(s, accounts=entities, sink=MemorySink(), outbox=MemoryOutboxStore(), operators=side)
        ports = await bridge.start()
        async with asyncio.timeout(10):
            while sim.bound_count() != 1:
                await asyncio.sleep(0.01)
        outbound.send(command(1).model_dump_json())
        async with asyncio.timeout(10):
            while len(outbound):
                await asyncio.sleep(0.01)
        metrics = await http_get(ports["health"], "/metrics")
        operators = metrics["operators"]
        assert isinstance(operators, dict)
        assert operators["links"]["op-smpp"]["bound"] == 1
        assert operators["outbound"]["accepted"] == 1
        assert PASSWORD not in json.dumps(metrics)
        await bridge.drain()
        assert sim.bound_count() == 0
        assert [b for b in dlr.bodies() if "mt.submit_result" in b] != []
        await sim.stop()

    asyncio.run(main())
