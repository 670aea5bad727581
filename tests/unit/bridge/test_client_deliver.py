"""MOs and receipts from the SMSC: deliver_sm_resp only after on_deliver returns; redelivery on failure."""

from __future__ import annotations

import asyncio
import random

from smpp_bridge.client import LinkConfig, Outcome, SmscLink
from smpp_bridge.simulator import OperatorSimulator, SimulatorConfig
from smpp_bridge.smpp import DataSm, DeliverSm, SubmitSm
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from smsbilling.settings import SmppLimits
from tests.unit.bridge.client_harness import Network, run_virtual, until

LIMITS = SmppLimits(reconnect_backoff_base_s=0.5)
CONFIG = LinkConfig("op", "sim", 0, "bridge", "secret", granted_tps=None)


def test_deliver_sm_resp_goes_out_only_after_the_callback_returns() -> None:
    async def main() -> None:
        sim = OperatorSimulator()
        network = Network(sim)
        entered, release = asyncio.Event(), asyncio.Event()
        stored: list[DeliverSm | DataSm] = []

        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            entered.set()
            await release.wait()  # the durable queue is slow
            stored.append(pdu)

        link = SmscLink(CONFIG, LIMITS, on_deliver=on_deliver, connect=network.connect)
        link.start()
        await until(lambda: link.is_bound)
        await sim.inject_mo("447700900123", "12345", "STOP")
        await entered.wait()
        await asyncio.sleep(5)
        assert network.writes("client", c.DELIVER_SM_RESP) == []
        release.set()
        await until(lambda: bool(network.writes("client", c.DELIVER_SM_RESP)))
        [resp] = network.writes("client", c.DELIVER_SM_RESP)
        assert resp.command_status == c.ESME_ROK and sim.stats.delivers_acked == 1
        [mo] = stored
        assert isinstance(mo, DeliverSm) and not mo.is_receipt
        assert (mo.source_addr, mo.destination_addr, mo.short_message) == ("447700900123", "12345", b"STOP")
        await link.close()

    run_virtual(main)


def test_a_failing_callback_answers_rx_t_appn_and_the_smsc_redelivers() -> None:
    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(redelivery_delay_s=2.0))
        network = Network(sim)
        calls: list[bytes] = []

        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            calls.append(pdu.short_message if isinstance(pdu, DeliverSm) else b"")
            if len(calls) == 1:
                raise ConnectionError("queue unavailable")

        link = SmscLink(CONFIG, LIMITS, on_deliver=on_deliver, connect=network.connect)
        link.start()
        await until(lambda: link.is_bound)
        await sim.inject_mo("447700900123", "12345", "HELP")
        await until(lambda: sim.stats.delivers_acked == 1)
        statuses = [w.command_status for w in network.writes("client", c.DELIVER_SM_RESP)]
        assert statuses == [c.ESME_RX_T_APPN, c.ESME_ROK]
        assert calls == [b"HELP", b"HELP"] and link.stats.delivers_refused == 1
        assert sim.stats.redeliveries == 1
        await link.close()

    run_virtual(main)


def test_receipts_carry_the_operator_id_of_the_submit() -> None:
    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(dlr_delay_s=3.0, delivery_ratio=0.5, seed=9))
        receipts: list[DeliverSm | DataSm] = []

        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            receipts.append(pdu)

        link = SmscLink(CONFIG, LIMITS, on_deliver=on_deliver, connect=Network(sim).connect)
        link.start()
        await until(lambda: link.is_bound)
        pdu = SubmitSm(source_addr="BILLING", destination_addr="447700900123", registered_delivery=1)
        outcomes = await asyncio.gather(*(link.submit(pdu) for _ in range(40)))
        assert {o.kind for o in outcomes} == {Outcome.ACCEPTED}
        await until(lambda: len(receipts) == 40)
        ids = {RECEIPTED_MESSAGE_ID.get(r.tlvs) for r in receipts}
        assert ids == {o.message_id for o in outcomes}
        states = [MESSAGE_STATE.get(r.tlvs) for r in receipts]
        assert set(states) == {2, 5}  # delivered and undeliverable, by the seeded ratio
        assert all(isinstance(r, DeliverSm) and r.esm_class & c.ESM_TYPE_MASK == 0x04 for r in receipts)
        await link.close()

    run_virtual(main)


def test_a_drop_while_the_callback_runs_means_a_redelivery_not_a_loss() -> None:
    """The MO was stored but its response could not go out: the SMSC sends it again (a counted duplicate)."""

    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(redelivery_delay_s=1.0))
        release = asyncio.Event()
        stored: list[bytes] = []

        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            if not stored:
                await release.wait()
            stored.append(pdu.short_message if isinstance(pdu, DeliverSm) else b"")

        link = SmscLink(
            CONFIG, LIMITS, on_deliver=on_deliver, connect=Network(sim).connect, rng=random.Random(1)
        )
        link.start()
        await until(lambda: link.is_bound)
        await sim.inject_mo("447700900123", "12345", "YES")
        await until(lambda: link.stats.delivers_received == 1)
        sim.drop_connections()
        await until(lambda: not link.is_bound)
        release.set()
        await until(lambda: sim.stats.delivers_acked == 1, timeout_s=30)
        assert stored == [b"YES", b"YES"] and link.stats.deliver_resps_lost == 1
        await link.close()

    run_virtual(main)


def test_without_a_callback_deliveries_are_refused_for_redelivery() -> None:
    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(redelivery_delay_s=100.0))
        network = Network(sim)
        link = SmscLink(CONFIG, LIMITS, connect=network.connect)
        link.start()
        await until(lambda: link.is_bound)
        await sim.inject_mo("447700900123", "12345", "X")
        await until(lambda: sim.stats.delivers_refused == 1)
        assert [w.command_status for w in network.writes("client", c.DELIVER_SM_RESP)] == [c.ESME_RX_T_APPN]
        await link.close()

    run_virtual(main)


def test_a_simulator_window_wider_than_the_session_default_delivers_everything() -> None:
    """Regression: the pump's window (50) once exceeded the session's default (10) and the pump died."""

    async def main() -> int:
        sim = OperatorSimulator(SimulatorConfig(window_outstanding_max=50))
        received: list[DeliverSm | DataSm] = []

        async def on_deliver(pdu: DeliverSm | DataSm) -> None:
            await asyncio.sleep(0.01)
            received.append(pdu)

        config = LinkConfig("op", "sim", 0, "bridge", "secret", granted_tps=None, window_outstanding_max=100)
        link = SmscLink(config, LIMITS, on_deliver=on_deliver, connect=Network(sim).connect)
        link.start()
        await until(lambda: link.is_bound)
        for i in range(200):
            await sim.inject_mo("447700900123", "12345", f"MO {i}")
        await until(lambda: len(received) == 200)
        await link.close()
        return sim.stats.delivers_acked

    assert run_virtual(main) == 200
