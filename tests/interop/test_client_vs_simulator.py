"""The client role (SmscLink, LinkPool) against the operator simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from smpp_bridge.client import BindMode, LinkConfig, LinkPool, Outcome, SmscLink, SubmitOutcome
from smpp_bridge.simulator import IdFormat, OperatorSimulator, SimulatorConfig
from smpp_bridge.smpp import DataSm, DeliverSm, SubmitSm
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from smsbilling.settings import SmppLimits

pytestmark = pytest.mark.interop

LIMITS = SmppLimits(reconnect_backoff_base_s=0.05, reconnect_backoff_max_s=0.5, unbind_timeout_s=2)


def link_config(port: int, **overrides: object) -> LinkConfig:
    fields: dict[str, object] = {"granted_tps": None, "window_outstanding_max": 10}
    fields.update(overrides)
    return LinkConfig("op", "127.0.0.1", port, "bridge", "secret", **fields)  # type: ignore[arg-type]


def submit_pdu(i: int, registered_delivery: int = 1) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=5,
        source_addr="BILLING",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=f"4477009{i:05d}",
        short_message=f"message {i}".encode(),
        registered_delivery=registered_delivery,
    )


class Inbox:
    def __init__(self) -> None:
        self.items: list[DeliverSm | DataSm] = []
        self.changed = asyncio.Event()

    async def on_deliver(self, pdu: DeliverSm | DataSm) -> None:
        self.items.append(pdu)
        self.changed.set()

    async def wait_for(self, count: int, timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()


async def wait_bound(link: SmscLink | LinkPool, timeout_s: float = 5) -> None:
    async with asyncio.timeout(timeout_s):
        while not (link.is_bound if isinstance(link, SmscLink) else len(link.healthy()) == len(link.links)):
            await asyncio.sleep(0.01)


def test_submit_receive_receipts_and_an_mo() -> None:
    n = 200

    async def main() -> None:
        sim = OperatorSimulator(SimulatorConfig(id_format=IdFormat.HEX, dlr_delay_s=0.05))
        port = await sim.start()
        inbox = Inbox()
        link = SmscLink(link_config(port), LIMITS, on_deliver=inbox.on_deliver, rng=random.Random(1))
        link.start()
        await wait_bound(link)
        outcomes = await asyncio.gather(*(link.submit(submit_pdu(i)) for i in range(n)))
        assert [o.kind for o in outcomes] == [Outcome.ACCEPTED] * n
        ids = [o.message_id for o in outcomes]
        assert len(set(ids)) == n and all(int(i, 16) for i in ids)
        await inbox.wait_for(n)
        receipts = [p for p in inbox.items if isinstance(p, DeliverSm) and p.is_receipt]
        assert sorted(RECEIPTED_MESSAGE_ID.get(r.tlvs) or "" for r in receipts) == sorted(ids)
        assert {MESSAGE_STATE.get(r.tlvs) for r in receipts} == {2}
        await sim.inject_mo("447700900123", "12345", "STOP")
        await inbox.wait_for(n + 1)
        mo = inbox.items[-1]
        assert isinstance(mo, DeliverSm) and not mo.is_receipt and mo.short_message == b"STOP"
        await link.close()
        assert sim.stats.delivers_acked == n + 1 and sim.stats.redeliveries == 0
        await sim.stop()

    asyncio.run(main())


def test_throttling_simulator_client_backs_off_and_everything_gets_through() -> None:
    n, tps = 120, 40

    async def main() -> tuple[list[SubmitOutcome], OperatorSimulator, SmscLink, float]:
        sim = OperatorSimulator(SimulatorConfig(throttle_tps=tps))
        port = await sim.start()
        limits = SmppLimits(throttle_backoff_s=0.25, unbind_timeout_s=2)
        link = SmscLink(link_config(port), limits, rng=random.Random(2))
        link.start()
        await wait_bound(link)

        async def until_accepted(i: int) -> SubmitOutcome:
            while (outcome := await link.submit(submit_pdu(i, 0))).kind is Outcome.RETRY:
                assert outcome.command_status == c.ESME_RTHROTTLED
            return outcome

        started = time.monotonic()
        outcomes = await asyncio.gather(*(until_accepted(i) for i in range(n)))
        elapsed = time.monotonic() - started
        await link.close()
        await sim.stop()
        return outcomes, sim, link, elapsed

    outcomes, sim, link, elapsed = asyncio.run(main())
    assert all(o.kind is Outcome.ACCEPTED for o in outcomes) and sim.stats.submits_accepted == n
    assert sim.stats.submits_throttled > 0 and link.stats.throttle_pauses > 0
    assert elapsed >= (n / tps) - 1.5  # it could not have gone faster than the simulator allows
    print(f"{n} messages at {tps} TPS: {sim.stats.submits_throttled} throttled, {elapsed:.2f}s")


def test_pool_of_binds_survives_a_drop_with_one_outcome_per_submit() -> None:
    n = 300

    async def main() -> tuple[list[SubmitOutcome], OperatorSimulator, LinkPool]:
        sim = OperatorSimulator(SimulatorConfig(submit_response_delay_s=0.002))
        port = await sim.start()
        binds = (BindMode.TRANSMITTER, BindMode.TRANSMITTER, BindMode.RECEIVER)
        inbox = Inbox()
        pool = LinkPool(
            link_config(port, binds=binds), LIMITS, on_deliver=inbox.on_deliver, rng=random.Random(3)
        )
        pool.start()
        await wait_bound(pool)
        tasks = [asyncio.ensure_future(pool.submit(submit_pdu(i))) for i in range(n)]
        while sim.stats.submits_received < n // 3:
            await asyncio.sleep(0.001)
        sim.drop_connections()
        outcomes = list(await asyncio.gather(*tasks))
        await wait_bound(pool)
        accepted = sum(o.kind is Outcome.ACCEPTED for o in outcomes)
        await inbox.wait_for(accepted)  # every receipt arrives, on the receiver bind
        await pool.close()
        await sim.stop()
        return outcomes, sim, pool

    outcomes, sim, pool = asyncio.run(main())
    kinds = [o.kind for o in outcomes]
    assert len(outcomes) == n and set(kinds) <= {Outcome.ACCEPTED, Outcome.UNKNOWN, Outcome.RETRY}
    assert kinds.count(Outcome.UNKNOWN) <= 20  # at most the two windows in flight at the drop
    assert sum(s.binds for s in pool.stats().values()) >= 6
    print(
        {k.value: kinds.count(k) for k in Outcome}, "received by the simulator:", sim.stats.submits_received
    )
