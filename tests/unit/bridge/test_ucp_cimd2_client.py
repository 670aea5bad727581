"""The bridge's client role over UCP/EMI and CIMD2, against the operator simulator on loopback.

The operator side runs as in production (link registry from the entities table, outbound
consumer, delivery handler) with the in-memory queue and store fakes: an MT command goes out as
an OT 51 / op 03, its SubmitResult carries the operator id the SMSC's answer gave (recipient +
service-centre time stamp), the OT 53 / op 23 comes back as a DlrReceived with that id, an MO is
stored and queued before the SMSC gets its positive answer, and the link logs in again after
the SMSC drops it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from smpp_bridge.client import BindMode, LinkConfig
from smpp_bridge.links import link_config
from smpp_bridge.operator_side import OperatorSide
from smpp_bridge.simulator import SimulatorConfig
from smpp_bridge.simulator_ucp_cimd2 import LinkSimulator, SimProtocol
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.adapters.sqs_queue import MemoryQueue
from smsbilling.contracts import DlrReceived, SubmitResult
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import Protocol
from smsbilling.domain.inbound import StoredMo
from tests.unit.bridge.operator_harness import (
    LINK_ID,
    PASSWORD,
    SYSTEM_ID,
    command,
    operator,
    settings,
    smpp_link,
)

PROTOCOLS = [Protocol.UCP, Protocol.CIMD2]


class FlakyStore(MemoryInboundStore):
    """Refuses the first ``failures`` MOs (a DynamoDB outage): they must not be acknowledged."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        return super().put_if_absent(mo)


@dataclass
class Rig:
    sim: LinkSimulator
    side: OperatorSide
    outbound: MemoryQueue
    dlr: MemoryQueue
    store: MemoryInboundStore
    mo_events: MemoryEventPublisher

    def events(self) -> list[SubmitResult | DlrReceived]:
        out: list[SubmitResult | DlrReceived] = []
        for body in self.dlr.bodies():
            data = json.loads(body)
            out.append(SubmitResult(**data) if data["kind"] == "mt.submit_result" else DlrReceived(**data))
        return out

    def results(self) -> list[SubmitResult]:
        return [e for e in self.events() if isinstance(e, SubmitResult)]

    def receipts(self) -> list[DlrReceived]:
        return [e for e in self.events() if isinstance(e, DlrReceived)]


async def until(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def rig(
    protocol: Protocol, sim_config: SimulatorConfig | None = None, store: MemoryInboundStore | None = None
) -> AsyncIterator[Rig]:
    sim = LinkSimulator(
        SimProtocol(protocol.value), sim_config or SimulatorConfig(accounts={SYSTEM_ID: PASSWORD})
    )
    port = await sim.start()
    entities = MemoryEntityStore()
    entities.put(operator())
    entities.put(smpp_link(port, protocol=protocol))
    s = settings()
    outbound, dlr = MemoryQueue(visibility_s=s.bridge.outbound_visibility_s), MemoryQueue()
    store = MemoryInboundStore() if store is None else store
    mo_events = MemoryEventPublisher()
    side = OperatorSide(
        s, links=entities, outbound=outbound, mt_events=dlr, inbound_store=store, mo_events=mo_events
    )
    await side.start()
    try:
        yield Rig(sim, side, outbound, dlr, store, mo_events)
    finally:
        await side.drain(s.bridge.drain_timeout_s)
        await sim.stop()


def run(main: Callable[[], Any]) -> None:
    asyncio.run(main())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_mt_goes_out_and_its_receipt_comes_back_correlated(protocol: Protocol) -> None:
    async def main() -> None:
        async with rig(protocol) as r:
            await until(lambda: r.sim.bound_count(SYSTEM_ID) == 1)
            r.outbound.send(command(1).model_dump_json())
            await until(lambda: len(r.receipts()) == 1 and len(r.outbound) == 0)
            [submit] = r.sim.submits
            assert submit.destination == "447700900001"
            assert submit.message in (b"message 1", "message 1")  # UCP AMsg octets, CIMD2 033
            [result] = r.results()
            assert result.accepted and result.message_id == "mt-1" and result.link_id == LINK_ID
            assert result.operator_message_id == f"447700900001:{submit.operator_id_stamp}"
            [receipt] = r.receipts()
            assert receipt.operator_message_id == result.operator_message_id
            assert receipt.status is DlrStatus.DELIVERED
            assert r.sim.stats.delivers_acked == 1

    run(main)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_failure_receipt_maps_to_undelivered_with_its_error(protocol: Protocol) -> None:
    async def main() -> None:
        config = SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, delivery_ratio=0.0)
        async with rig(protocol, config) as r:
            await until(lambda: r.sim.bound_count() == 1)
            r.outbound.send(command(2).model_dump_json())
            await until(lambda: len(r.receipts()) == 1)
            [receipt] = r.receipts()
            assert receipt.status is DlrStatus.UNDELIVERED
            assert receipt.error_code in ("001", "1")  # UCP Rsn, CIMD2 062

    run(main)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_mo_is_stored_and_queued_before_the_smsc_gets_its_answer(protocol: Protocol) -> None:
    async def main() -> None:
        config = SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, redelivery_delay_s=0.1)
        async with rig(protocol, config, store=FlakyStore(failures=1)) as r:
            await until(lambda: r.sim.bound_count() == 1)
            await r.sim.inject_mo("447700900123", "4444", "STOP £5")
            await until(lambda: r.sim.stats.delivers_acked == 1)
            # the first attempt was not stored: refused (so the SMSC redelivered), never acknowledged
            assert r.sim.stats.delivers_refused == 1 and r.sim.stats.redeliveries == 1
            [event] = r.mo_events.published
            stored = r.store.get(event.message_id)
            assert stored is not None and stored.link_id == LINK_ID
            assert (stored.source, stored.destination) == ("447700900123", "4444")
            # GSM text as SMPP's default alphabet, one septet per octet ("£" is 0x01)
            assert stored.data_coding == 0 and bytes.fromhex(stored.payload_hex or "") == b"STOP \x015"

    run(main)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_link_logs_in_again_after_the_smsc_drops_it(protocol: Protocol) -> None:
    async def main() -> None:
        async with rig(protocol) as r:
            await until(lambda: r.sim.bound_count() == 1)
            r.outbound.send(command(1).model_dump_json())
            await until(lambda: len(r.results()) == 1)
            r.sim.drop_connections()
            await until(lambda: r.sim.stats.binds == 2 and r.sim.bound_count() == 1)
            r.outbound.send(command(2).model_dump_json())
            await until(lambda: len(r.results()) == 2 and len(r.outbound) == 0)
            assert all(result.accepted for result in r.results())
            assert {s.destination for s in r.sim.submits} == {"447700900001", "447700900002"}

    run(main)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_throttling_smsc_pauses_the_link_and_every_mt_is_still_accepted(protocol: Protocol) -> None:
    async def main() -> None:
        config = SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, throttle_tps=2)
        async with rig(protocol, config) as r:
            await until(lambda: r.sim.bound_count() == 1)
            for i in range(1, 7):
                r.outbound.send(command(i).model_dump_json())
            await until(lambda: len(r.results()) == 6, timeout_s=30)
            assert all(result.accepted for result in r.results())
            assert r.sim.stats.submits_throttled >= 1
            stats = r.side.registry.metrics()[LINK_ID]["stats"]
            assert sum(s["throttle_pauses"] for s in stats.values()) >= 1

    run(main)


def test_a_wrong_password_is_refused_and_retried_with_back_off() -> None:
    async def main() -> None:
        config = SimulatorConfig(accounts={SYSTEM_ID: "other"})
        async with rig(Protocol.CIMD2, config) as r:
            await until(lambda: r.sim.stats.bind_refusals >= 2)
            assert r.sim.bound_count() == 0 and not r.side.registry.any_bound()

    run(main)


def test_link_config_takes_the_protocol_and_checks_it() -> None:
    for protocol in (Protocol.SMPP, Protocol.UCP, Protocol.CIMD2):
        config = link_config(smpp_link(2775, protocol=protocol))
        assert config is not None and config.protocol is protocol
    assert link_config(smpp_link(2775, protocol=Protocol.HTTP)) is None
    with pytest.raises(ValueError, match="transceivers"):
        LinkConfig("l", "h", 1, "id", protocol=Protocol.UCP, binds=(BindMode.TRANSMITTER,))
    with pytest.raises(ValueError, match="at most 100"):
        LinkConfig("l", "h", 1, "id", protocol=Protocol.UCP, window_outstanding_max=101)
    LinkConfig("l", "h", 1, "a" * 32, password="p" * 32, protocol=Protocol.CIMD2)  # over SMPP's sizes
