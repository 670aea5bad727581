"""The client keeps its bind: jittered exponential back-off, rebinding after drops, graceful close."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random

import pytest

from smpp_bridge.client import BindMode, LinkConfig, LinkPool, Outcome, SmscLink, SubmitOutcome
from smpp_bridge.pacing import backoff_delay
from smpp_bridge.simulator import OperatorSimulator, SimulatorConfig
from smpp_bridge.smpp import GenericNack, Pdu, SubmitSm
from smpp_bridge.smpp import constants as c
from smsbilling.settings import SmppLimits
from tests.unit.bridge.client_harness import Network, run_virtual, scripted_smsc, until

LIMITS = SmppLimits(reconnect_backoff_base_s=0.5, reconnect_backoff_max_s=8.0)


def config(**overrides: object) -> LinkConfig:
    fields: dict[str, object] = {"granted_tps": None, "password": "secret", "system_id": "bridge"}
    fields.update(overrides)
    return LinkConfig("op", "sim", 0, **fields)  # type: ignore[arg-type]


def submit_pdu() -> SubmitSm:
    return SubmitSm(source_addr="BILLING", destination_addr="447700900123", short_message=b"hi")


def test_reconnect_delays_follow_full_jitter_exponential_backoff() -> None:
    """Refused 7 times: attempt n waits exactly backoff_delay(n) drawn from the injected source."""
    seed = 11

    async def main() -> list[float]:
        network = Network(OperatorSimulator(), refuse_next=7)
        link = SmscLink(config(), LIMITS, connect=network.connect, rng=random.Random(seed))
        link.start()
        await until(lambda: link.is_bound, timeout_s=300)
        await link.close()
        return network.attempts

    attempts = run_virtual(main)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    rng = random.Random(seed)
    expected = [backoff_delay(n, 0.5, 8.0, rng) for n in range(1, 8)]
    assert gaps == pytest.approx(expected)
    for n, gap in enumerate(gaps, start=1):
        assert 0.0 <= gap <= min(8.0, 0.5 * 2**n)
    print("gaps", [round(g, 3) for g in gaps])


def test_rebinds_after_the_smsc_drops_the_connection_and_submits_resume() -> None:
    async def main() -> tuple[SmscLink, list[Outcome], Network]:
        sim = OperatorSimulator()
        network = Network(sim)
        link = SmscLink(config(), LIMITS, connect=network.connect, rng=random.Random(1))
        link.start()
        kinds = []
        for _ in range(3):
            await until(lambda: link.is_bound)
            kinds.append((await link.submit(submit_pdu())).kind)
            sim.drop_connections()
            await until(lambda: not link.is_bound)
        await until(lambda: link.is_bound)
        kinds.append((await link.submit(submit_pdu())).kind)
        await link.close()
        return link, kinds, network

    link, kinds, network = run_virtual(main)
    assert kinds == [Outcome.ACCEPTED] * 4
    assert link.stats.binds == 4 and link.stats.connects == 4
    gaps = [b - a for a, b in itertools.pairwise(network.attempts)]
    assert all(0.0 <= g <= 0.5 for g in gaps)  # after a bound session: attempt 0, U(0, base)


def test_refused_bind_backs_off_and_never_logs_the_password(caplog: pytest.LogCaptureFixture) -> None:
    password = "hunter2x"

    async def main() -> SmscLink:
        sim = OperatorSimulator(SimulatorConfig(accounts={"bridge": "other"}))
        link = SmscLink(config(password=password), LIMITS, connect=Network(sim).connect, rng=random.Random(2))
        link.start()
        await until(lambda: link.stats.bind_refusals >= 4, timeout_s=120)
        outcome = await link.submit(submit_pdu())
        assert outcome.kind is Outcome.RETRY and "within submit_wait_s_max" in outcome.reason
        await link.close()
        return link

    with caplog.at_level(logging.DEBUG, logger="smpp_bridge"):
        link = run_virtual(main)
    assert link.stats.binds == 0
    assert any(r.getMessage() == "bind refused" for r in caplog.records)
    for record in caplog.records:
        assert password not in repr(record.__dict__)
    assert password not in repr(config(password=password))


def test_close_unbinds_and_waits_for_unbind_resp() -> None:
    async def main() -> tuple[Network, OperatorSimulator, SmscLink]:
        sim = OperatorSimulator()
        network = Network(sim)
        link = SmscLink(config(), LIMITS, connect=network.connect)
        link.start()
        await until(lambda: link.is_bound)
        await link.close()
        return network, sim, link

    network, sim, link = run_virtual(main)
    assert [w.command_id for w in network.log[-2:]] == [c.UNBIND, c.UNBIND_RESP]
    assert not link.is_bound and sim.bound_count() == 0


def test_close_is_bounded_when_the_smsc_never_answers_unbind() -> None:
    async def main() -> float:
        network = Network(server=scripted_smsc(lambda pdu: None))
        link = SmscLink(
            config(), SmppLimits(unbind_timeout_s=2.0, response_timeout_s=30), connect=network.connect
        )
        link.start()
        await until(lambda: link.is_bound)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await link.close()
        return loop.time() - started

    assert run_virtual(main) <= 2 * 2.0 + 0.1


def test_an_idle_bind_is_kept_alive_with_enquire_link() -> None:
    async def main() -> tuple[Network, SmscLink]:
        network = Network(OperatorSimulator())
        limits = SmppLimits(enquire_link_interval_s=30, inactivity_timeout_s=120)
        link = SmscLink(config(), limits, connect=network.connect)
        link.start()
        await until(lambda: link.is_bound)
        await asyncio.sleep(600)
        await link.close()
        return network, link

    network, link = run_virtual(main)
    probes = network.writes("client", c.ENQUIRE_LINK)
    assert len(probes) >= 19 and len(network.writes("server", c.ENQUIRE_LINK_RESP)) == len(probes)
    assert link.stats.connects == 1


def test_a_peer_that_stops_answering_is_detected_and_replaced() -> None:
    """No enquire_link_resp within response_timeout_s: the session closes and the link reconnects."""

    async def main() -> tuple[SmscLink, list[float]]:
        network = Network(server=scripted_smsc(lambda pdu: None))
        limits = SmppLimits(enquire_link_interval_s=30, response_timeout_s=10, reconnect_backoff_base_s=1)
        link = SmscLink(config(), limits, connect=network.connect, rng=random.Random(6))
        link.start()
        await until(lambda: link.stats.connects == 3, timeout_s=200)
        await link.close()
        return link, network.attempts

    link, attempts = run_virtual(main)
    assert link.stats.binds == 3
    assert all(40 <= b - a <= 41 for a, b in itertools.pairwise(attempts))  # 30 s idle + 10 s + jitter


def test_generic_nack_to_a_submit_is_permanent() -> None:
    async def main() -> SubmitOutcome:
        def nack(pdu: Pdu) -> Pdu | None:
            return GenericNack(pdu.sequence_number, c.ESME_RINVCMDID) if isinstance(pdu, SubmitSm) else None

        link = SmscLink(config(), LIMITS, connect=Network(server=scripted_smsc(nack)).connect)
        link.start()
        await until(lambda: link.is_bound)
        outcome = await link.submit(submit_pdu())
        await link.close()
        return outcome

    outcome = run_virtual(main)
    assert outcome.kind is Outcome.PERMANENT and outcome.command_status == c.ESME_RINVCMDID
    assert outcome.reason.startswith("generic_nack")


def test_submits_waiting_at_close_are_told_not_sent() -> None:
    async def main() -> list[Outcome]:
        network = Network(OperatorSimulator(), refuse_next=1000)
        link = SmscLink(config(), LIMITS, connect=network.connect, rng=random.Random(4))
        link.start()
        waiting = [asyncio.ensure_future(link.submit(submit_pdu())) for _ in range(3)]
        await asyncio.sleep(1.0)
        await link.close()
        return [o.kind for o in await asyncio.gather(*waiting)]

    assert run_virtual(main) == [Outcome.RETRY] * 3


def test_pool_waits_for_its_first_bind_and_skips_receivers() -> None:
    async def main() -> tuple[set[str], LinkPool]:
        network = Network(OperatorSimulator(), refuse_next=3)
        binds = (BindMode.RECEIVER, BindMode.TRANSMITTER, BindMode.TRANSMITTER)
        pool = LinkPool(config(binds=binds), LIMITS, connect=network.connect, rng=random.Random(5))
        pool.start()
        outcomes = await asyncio.gather(*(pool.submit(submit_pdu()) for _ in range(50)))
        assert all(o.kind is Outcome.ACCEPTED for o in outcomes)
        await until(lambda: len(pool.healthy()) == 3)
        more = await asyncio.gather(*(pool.submit(submit_pdu()) for _ in range(50)))
        await pool.close()
        return {o.bind for o in more}, pool

    used, pool = run_virtual(main)
    assert used == {"op#1:transmitter", "op#2:transmitter"}
    assert pool.stats()["op#0:receiver"].submits_sent == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"password": "123456789"},
        {"system_id": "x" * 16},
        {"binds": ()},
        {"granted_tps": 0},
        {"window_outstanding_max": 0},
    ],
)
def test_link_config_refuses_what_no_bind_could_carry(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        config(**overrides)
