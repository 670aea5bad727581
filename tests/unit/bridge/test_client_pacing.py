"""R4 pacing: never more than the granted TPS in any one-second interval, and back-off bounds."""

from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.client import BindMode, LinkConfig, LinkPool, Outcome, SmscLink
from smpp_bridge.pacing import AsyncPacer, SlidingWindowPacer, backoff_delay
from smpp_bridge.ratelimit import TokenBucket
from smpp_bridge.simulator import OperatorSimulator
from smpp_bridge.smpp import SubmitSm
from smpp_bridge.smpp import constants as c
from smsbilling.settings import SmppLimits
from tests.unit.bridge.client_harness import Network, run_virtual, until

LIMITS = SmppLimits(submit_wait_s_max=120)  # 1,000 submits at 20 TPS queue for 50 s


def max_in_any_second(times: list[float]) -> int:
    """The most events in any half-open interval [t, t + 1): slide t over every event time."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def submit_pdu(i: int = 0) -> SubmitSm:
    return SubmitSm(source_addr="BILLING", destination_addr=f"4477009{i:05d}", short_message=b"hi")


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.2, allow_nan=False), min_size=1, max_size=400),
)
def test_sliding_window_pacer_never_exceeds_rate_in_any_second(rate: int, gaps: list[float]) -> None:
    """A greedy sender asks at arbitrary times and sends whenever the pacer lets it."""
    pacer = SlidingWindowPacer(rate)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        if pacer.delay(now) == 0.0:
            pacer.record(now)
            sent.append(now)
        else:
            assert not pacer.try_take(now)
    assert max_in_any_second(sent) <= rate
    print(f"rate={rate} asks={len(gaps)} sent={len(sent)} max/s={max_in_any_second(sent)}")


def test_a_token_bucket_would_let_nearly_twice_the_rate_through() -> None:
    """Why the client does not pace with TokenBucket: a full bucket plus a second of refill."""
    bucket, sent, now = TokenBucket(10, 10, 0.0), [], 0.0
    while now < 1.0:
        if bucket.take(now):
            sent.append(now)
        now += 0.001
    assert max_in_any_second(sent) > 10


def test_async_pacer_shared_by_concurrent_senders_holds_the_cap() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        pacer, sent = AsyncPacer(25), []

        async def sender(n: int) -> None:
            for _ in range(n):
                await pacer.turn()
                sent.append(loop.time())
                await asyncio.sleep(random.Random(len(sent)).uniform(0, 0.03))

        await asyncio.gather(*(sender(100) for _ in range(5)))
        return sent

    sent = run_virtual(main)
    assert len(sent) == 500 and max_in_any_second(sent) <= 25
    assert 500 / 25 - 1 <= max(sent) - min(sent) <= 500 / 25 + 1  # and it does not go much slower


def test_backoff_delay_stays_within_full_jitter_bounds() -> None:
    rng = random.Random(7)
    for attempt in range(40):
        ceiling = min(60.0, 0.5 * 2**attempt)
        samples = [backoff_delay(attempt, 0.5, 60.0, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples), attempt
        assert max(samples) > ceiling * 0.8  # the whole range is used (full jitter)
    assert backoff_delay(3, 1.0, 60.0, random.Random(1)) == backoff_delay(3, 1.0, 60.0, random.Random(1))


def test_link_paces_submits_at_the_granted_tps() -> None:
    """1,000 concurrent submits at 20 TPS: the simulator sees at most 20 in any second."""

    async def main() -> tuple[list[float], list[Outcome]]:
        network = Network(OperatorSimulator())
        config = LinkConfig("op", "sim", 0, "bridge", "secret", granted_tps=20, window_outstanding_max=50)
        link = SmscLink(config, LIMITS, connect=network.connect, rng=random.Random(1))
        link.start()
        await until(lambda: link.is_bound)
        outcomes = await asyncio.gather(*(link.submit(submit_pdu(i)) for i in range(1000)))
        await link.close()
        return [w.at for w in network.writes("client", c.SUBMIT_SM)], [o.kind for o in outcomes]

    times, kinds = run_virtual(main)
    assert kinds == [Outcome.ACCEPTED] * 1000
    assert len(times) == 1000 and max_in_any_second(times) == 20
    assert max(times) - min(times) >= 1000 / 20 - 1
    print(f"1000 submits over {max(times) - min(times):.2f}s virtual, max {max_in_any_second(times)}/s")


def test_binds_of_a_pool_share_the_granted_tps() -> None:
    async def main() -> list[float]:
        network = Network(OperatorSimulator())
        config = LinkConfig(
            "op", "sim", 0, "bridge", "secret", granted_tps=30, binds=(BindMode.TRANSMITTER,) * 3
        )
        pool = LinkPool(config, LIMITS, connect=network.connect, rng=random.Random(2))
        pool.start()
        await until(lambda: len(pool.healthy()) == 3)
        outcomes = await asyncio.gather(*(pool.submit(submit_pdu(i)) for i in range(300)))
        assert all(o.kind is Outcome.ACCEPTED for o in outcomes)
        assert len({o.bind for o in outcomes}) == 3  # spread over every bind
        await pool.close()
        return [w.at for w in network.writes("client", c.SUBMIT_SM)]

    times = run_virtual(main)
    assert len(times) == 300 and max_in_any_second(times) <= 30
