"""Faults at every step of an outbound submit: nothing lost, nothing acknowledged before it is durable.

The steps of one OutboundSubmit are: received -> submit_sm written -> submit_sm_resp read ->
SubmitResult published -> SQS message deleted. Each test breaks the chain at one place (a dropped
connection with submits outstanding, a lost response after the SMSC took the submit, a result that
cannot be published, a process that dies with results unpublished, a delete that fails) and checks
the two promises: every command ends with exactly one accepted SubmitResult (or stays on the queue
to be retried), and the SQS message is never deleted before its result is on the DLR queue.
Resubmits that may reach the handset twice are counted, and the count is checked against what the
simulator really accepted twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from smpp_bridge.simulator import SimulatorConfig
from smsbilling.adapters.sqs_queue import MemoryQueue
from tests.unit.bridge.operator_harness import PASSWORD, SYSTEM_ID, Rig, command, operator_rig


def sim(**fields: Any) -> SimulatorConfig:
    return SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, **fields)


def accepted_once(rig: Rig, n: int) -> None:
    counts = Counter(r.message_id for r in rig.results() if r.accepted)
    assert counts == {f"mt-{i}": 1 for i in range(n)}, counts
    assert len(rig.results()) == n  # no refusal, no second result


class GatedQueue(MemoryQueue):
    """A DLR queue whose sends block until opened; ``crash`` makes the blocked sends fail."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.crash = False
        self.blocked = 0

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        self.blocked += len(bodies)
        self.open.wait(30)
        if self.crash:
            raise ConnectionError("the process died during the call")
        return super().send_batch(bodies)


def test_connection_dropped_with_the_window_full_of_unanswered_submits() -> None:
    """Position: submit_sm written, no response yet (the SMSC holds them), connection lost."""
    n = 10

    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            rig.sim.silent = True
            rig.send(*(command(i) for i in range(n)))
            await rig.until(lambda: rig.sim.stats.submits_held == n)
            assert rig.results() == [] and len(rig.outbound) == n  # nothing answered, nothing deleted
            rig.sim.silent = False
            rig.sim.drop_connections()
            await rig.until(lambda: len(rig.results()) == n and len(rig.outbound) == 0)
            accepted_once(rig, n)
            stats = rig.side.consumer.stats
            assert stats.possible_duplicates == n  # each was sent twice; the SMSC held the first
            assert rig.sim.stats.submits_received == 2 * n and rig.sim.stats.submits_accepted == n
            print(f"dropped with {n} outstanding: {n} resubmitted, {n} accepted once, 0 real duplicates")

    asyncio.run(main())


def test_connection_dropped_after_the_smsc_took_the_submit_but_before_its_response() -> None:
    """Position: the SMSC accepted (a handset will get it), its submit_sm_resp is lost."""
    n = 10

    async def main() -> None:
        async with operator_rig(sim(submit_response_delay_s=0.5)) as rig:
            await rig.bound()
            rig.send(*(command(i) for i in range(n)))
            await rig.until(lambda: rig.sim.stats.submits_accepted == n)
            rig.sim.drop_connections()  # the delayed responses die with the connection
            await rig.until(lambda: len(rig.results()) == n and len(rig.outbound) == 0)
            accepted_once(rig, n)
            real_duplicates = rig.sim.stats.submits_accepted - n
            assert real_duplicates == n
            assert rig.side.consumer.stats.possible_duplicates == real_duplicates
            print(f"lost submit_sm_resp x{n}: {real_duplicates} handset duplicates, all counted")

    asyncio.run(main())


def test_a_result_that_cannot_be_published_keeps_the_message_until_it_can() -> None:
    """Position: submit_sm_resp read, SubmitResult not durable (the DLR queue refuses)."""

    async def main() -> None:
        dlr = MemoryQueue()
        dlr.fail_sends = True
        async with operator_rig(sim(), dlr=dlr, result_publish_attempts_max=2) as rig:
            await rig.bound()
            rig.send(command(0))
            await rig.until(lambda: rig.side.consumer.stats.result_publish_failures >= 1)
            assert len(rig.outbound) == 1 and rig.results() == []  # not deleted: no ack before durability
            dlr.fail_sends = False
            await rig.until(lambda: len(rig.results()) == 1 and len(rig.outbound) == 0)
            accepted_once(rig, 1)
            assert rig.sim.stats.submits_accepted >= 2  # resubmitted: the first answer was not kept
            assert rig.side.consumer.stats.possible_duplicates == rig.sim.stats.submits_accepted - 1

    asyncio.run(main())


def test_a_process_that_dies_before_publishing_leaves_everything_to_be_resubmitted() -> None:
    """Position: responses read, results being published, the process dies: a new one takes over."""
    n = 10

    async def main() -> None:
        outbound = MemoryQueue(visibility_s=3)
        gated = GatedQueue()
        async with operator_rig(sim(), outbound=outbound, dlr=gated) as first:
            await first.bound()
            first.send(*(command(i, registered_delivery=0) for i in range(n)))
            await first.until(lambda: first.sim.stats.submits_accepted == n and gated.blocked == n)
            assert len(outbound) == n  # all accepted by the SMSC, none deleted: results not durable
            gated.crash = True
            gated.open.set()  # the blocked calls now fail, as if the process had died in them
            sim_stats = first.sim.stats
            await first.side.consumer.stop(0)
        assert gated.bodies() == [] and len(outbound) == n
        dlr = MemoryQueue()
        async with operator_rig(sim(), outbound=outbound, dlr=dlr) as second:
            await second.until(lambda: len(second.results()) == n and len(outbound) == 0)
            accepted_once(second, n)
            print(
                f"died with {n} results unpublished: {n} resubmitted by the next process "
                f"({sim_stats.submits_accepted} + {second.sim.stats.submits_accepted} accepted by the SMSCs)"
            )

    asyncio.run(main())


def test_a_failed_delete_does_not_resubmit_a_part_already_answered() -> None:
    """Position: result published, delete failed: the copy that comes back is only deleted."""
    n = 5

    async def main() -> None:
        outbound = MemoryQueue(visibility_s=1)
        outbound.fail_deletes = True
        async with operator_rig(sim(), outbound=outbound) as rig:
            await rig.bound()
            rig.send(*(command(i) for i in range(n)))
            # each part's delete is tried after its result is published: wait for the deletes
            await rig.until(lambda: rig.side.consumer.stats.delete_failures >= n)
            assert len(rig.results()) == n and len(outbound) == n
            outbound.fail_deletes = False
            await rig.until(lambda: len(outbound) == 0, timeout_s=10)
            accepted_once(rig, n)
            assert rig.sim.stats.submits_accepted == n  # no second submit
            assert rig.side.consumer.stats.duplicates_answered >= n

    asyncio.run(main())


def test_an_sqs_duplicate_of_a_part_is_submitted_once() -> None:
    async def main() -> None:
        async with operator_rig(sim(submit_response_delay_s=0.2)) as rig:
            await rig.bound()
            rig.send(command(0), command(0))  # standard queues may deliver a message twice
            await rig.until(lambda: len(rig.outbound) == 0)
            accepted_once(rig, 1)
            assert rig.sim.stats.submits_accepted == 1

    asyncio.run(main())
