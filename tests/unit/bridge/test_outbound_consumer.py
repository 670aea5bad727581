"""OutboundSubmit -> submit_sm -> SubmitResult -> delete, against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from smpp_bridge.outbound import submit_pdu, validity_period
from smpp_bridge.simulator import SimulatorConfig
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD
from smsbilling.adapters.sqs_queue import MemoryQueue, ReceivedMessage
from smsbilling.domain.dlr import DlrStatus
from tests.unit.bridge.operator_harness import PASSWORD, SYSTEM_ID, command, operator_rig


def sim(**fields: Any) -> SimulatorConfig:
    return SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, **fields)


def test_each_submit_gets_one_accepted_result_then_its_message_is_deleted() -> None:
    n = 60

    async def main() -> None:
        async with operator_rig(sim(dlr_delay_s=0.05)) as rig:
            await rig.bound()
            rig.send(*(command(i) for i in range(n)))
            await rig.until(lambda: len(rig.results()) == n and len(rig.receipts()) == n)
            await rig.until(lambda: len(rig.outbound) == 0)
            results = rig.results()
            assert sorted(r.message_id for r in results) == sorted(f"mt-{i}" for i in range(n))
            assert all(r.accepted and r.link_id == "op-smpp" and not r.error for r in results)
            operator_ids = {r.operator_message_id for r in results}
            assert len(operator_ids) == n and rig.sim.stats.submits_accepted == n
            # The simulator's receipts come back as DlrReceived naming the same operator ids.
            receipts = rig.receipts()
            assert {r.operator_message_id for r in receipts} == operator_ids
            assert {r.status for r in receipts} == {DlrStatus.DELIVERED}
            assert len({r.receipt_id for r in receipts}) == n
            stats = rig.side.consumer.stats
            assert (stats.accepted, stats.possible_duplicates, stats.not_sent) == (n, 0, 0)

    asyncio.run(main())


def test_a_refused_submit_gives_a_permanent_result_with_the_status() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            rig.sim.submit_status = c.ESME_RINVDSTADR
            rig.send(command(1))
            await rig.until(lambda: len(rig.results()) == 1)
            [result] = rig.results()
            assert (result.accepted, result.error, result.permanent) == (False, "smpp:0x0b", True)
            assert result.operator_message_id is None
            await rig.until(lambda: len(rig.outbound) == 0)

    asyncio.run(main())


def test_throttled_submits_are_kept_and_all_get_through_once() -> None:
    n, tps = 60, 30

    async def main() -> None:
        async with operator_rig(sim(throttle_tps=tps), submit_wait_s_max=2.0, outbound_visibility_s=6) as rig:
            await rig.bound()
            rig.send(*(command(i) for i in range(n)))
            await rig.until(lambda: len(rig.results()) == n, timeout_s=30)
            await rig.until(lambda: len(rig.outbound) == 0)
            assert Counter(r.message_id for r in rig.results() if r.accepted) == {
                f"mt-{i}": 1 for i in range(n)
            }
            assert rig.sim.stats.submits_throttled > 0 and rig.sim.stats.submits_accepted == n
            print(f"{n} submits at {tps} TPS: {rig.sim.stats.submits_throttled} throttled, all accepted once")

    asyncio.run(main())


def test_a_submit_for_an_unknown_link_is_never_deleted_and_ends_in_the_dlq() -> None:
    async def main() -> None:
        outbound = MemoryQueue(visibility_s=3, max_receive_count=3)
        async with operator_rig(sim(), outbound=outbound) as rig:
            await rig.bound()
            rig.send(command(1, link_id="no-such-link"), command(2))
            await rig.until(lambda: len(outbound.dead_letters) == 1, timeout_s=15)
            assert "no-such-link" in outbound.dead_letters[0]
            assert [r.message_id for r in rig.results()] == ["mt-2"]
            # tried on every receive, never sent, never deleted
            assert rig.side.consumer.stats.link_unavailable == 3

    asyncio.run(main())


class GiveBackRace(MemoryQueue):
    """Returns from a give-back only once the message it made visible was received again: the
    redelivery is handled while the handler that gave it back is still finishing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._received_again = threading.Event()

    def receive(
        self, max_messages: int, wait_s: int, visibility_s: int | None = None
    ) -> list[ReceivedMessage]:
        taken = super().receive(max_messages, wait_s, visibility_s)
        if any(m.receive_count > 1 for m in taken):
            self._received_again.set()
        return taken

    def change_visibility_batch(self, entries: Sequence[tuple[str, int]]) -> list[int]:
        failed = super().change_visibility_batch(entries)
        self._received_again.wait(timeout=2)
        self._received_again.clear()
        return failed


def test_a_given_back_submit_is_tried_again_on_its_next_receive_not_taken_for_a_duplicate() -> None:
    async def main() -> None:
        outbound = GiveBackRace(visibility_s=3, max_receive_count=3)
        async with operator_rig(sim(), outbound=outbound) as rig:
            await rig.bound()
            rig.send(command(1, link_id="no-such-link"))
            await rig.until(lambda: len(outbound.dead_letters) == 1, timeout_s=15)
            assert rig.side.consumer.stats.link_unavailable == 3

    asyncio.run(main())


def test_while_no_link_is_bound_nothing_is_received() -> None:
    async def main() -> None:
        async with operator_rig(sim(), link={"smpp_password": "wrong"}) as rig:
            rig.send(command(1))
            await asyncio.sleep(1.5)
            assert rig.side.consumer.stats.received == 0  # no receive count burnt during the outage
            rig.sim.config.accounts[SYSTEM_ID] = "wrong"  # type: ignore[index]
            await rig.until(lambda: len(rig.results()) == 1)

    asyncio.run(main())


def test_submit_pdu_carries_the_command_and_long_payloads_go_in_message_payload() -> None:
    pdu = submit_pdu(command(7, esm_class=0x40, data_coding=8), validity_period(24 * 3600))
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("4444", 3, 0)
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == ("447700900007", 1, 1)
    assert (pdu.esm_class, pdu.data_coding, pdu.registered_delivery) == (0x40, 8, 1)
    assert pdu.short_message == b"message 7" and pdu.validity_period == "000001000000000R"
    long = submit_pdu(command(8, short_message_hex="ab" * 255))
    assert long.short_message == b"" and MESSAGE_PAYLOAD.get(long.tlvs) == b"\xab" * 255
    assert validity_period(90061) == "000001010101000R"


def test_an_address_smpp_cannot_carry_gives_a_permanent_result() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            rig.send(command(1, source="A" * 21))
            await rig.until(lambda: len(rig.results()) == 1)
            [result] = rig.results()
            assert not result.accepted and result.permanent and result.error.startswith("bridge:source")
            assert rig.sim.stats.submits_received == 0

    asyncio.run(main())
