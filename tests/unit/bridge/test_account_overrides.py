"""An account's stored rates are read at each bind (real sockets, UCP and CIMD2 logins).

The bridge re-reads the SmppAccount at every login. A rate the admin changed replaces the
account's shared bucket at the next bind, and the binds already up share the new one (a submit
never replaces it); a bind of an unchanged account leaves the bucket as it is, so logging in again
never refills it. The bridge's clock is held still here, so no token comes back during the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from smpp_bridge import cimd2, ucp
from smpp_bridge.app import Bridge
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.sinks import MemorySink
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.settings import BridgeSettings, Settings, SmppLimits
from tests.unit.bridge.ucp_cimd2_peer import PASSWORD, Peer, account, cimd2_peer, ucp_peer

THROTTLED_EC = int(ucp.Ec.OPERATION_NOT_ALLOWED)  # UCP's answer over the rate
THROTTLED_CODE = int(cc.Code.TEMPORARY_CONGESTION)  # CIMD2's


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class StillClock:
    """The bridge's monotonic clock, held at one instant (buckets refill only with time)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def bridge_over(
    store: MemoryEntityStore, sink: MemorySink
) -> AsyncIterator[tuple[Bridge, dict[str, int]]]:
    settings = Settings(
        smpp=SmppLimits(submit_rate_per_s=50, account_submit_rate_per_s=200),
        bridge=BridgeSettings(drain_timeout_s=2, outbox_poll_interval_s=0.1, outbox_lease_s=5),
    )
    running = Bridge(settings, accounts=store, sink=sink, outbox=MemoryOutboxStore())
    running.ctx.clock = StillClock()
    ports = await running.start()
    try:
        yield running, ports
    finally:
        await running.drain()


async def ucp_login(port: int, system_id: str = "partner1") -> Peer:
    peer = await ucp_peer(port)
    login = ucp.SessionManagement(oadc=system_id, oton="6", onpi="5", pwd=PASSWORD)
    assert (await peer.request(login)).ok
    return peer


async def cimd2_login(port: int, system_id: str = "partner1") -> Peer:
    peer = await cimd2_peer(port)
    assert (await peer.request(cimd2.Login(user_identity=system_id, password=PASSWORD))).response.ok
    return peer


async def ucp_submit(peer: Peer, text: str) -> bool:
    """True when accepted; a refusal must be the throttling one."""
    result = (await peer.request(ucp.submit_for_text("447700900123", "12345", text))).result
    if isinstance(result, ucp.Nack):
        assert result.ec == THROTTLED_EC, result
        return False
    return True


async def cimd2_submit(peer: Peer, text: str) -> bool:
    response = (await peer.request(cimd2.submit_for_text("447700900123", "12345", text))).response
    if not response.ok:
        assert response.error_code == THROTTLED_CODE, response
        return False
    return True


def test_a_changed_account_rate_is_taken_up_at_the_next_bind_and_shared_by_the_binds_up() -> None:
    async def main() -> None:
        store, sink = MemoryEntityStore(), MemorySink()
        store.put(account(account_submit_rate_per_s=1))
        store.put(account("partner2"))
        async with bridge_over(store, sink) as (running, ports):
            u = await ucp_login(ports["ucp"])
            assert [await ucp_submit(u, "u1"), await ucp_submit(u, "u2")] == [True, False]  # 1 a second
            m = await cimd2_login(ports["cimd2"])  # same stored rate: the bucket stays (no refill)
            assert await cimd2_submit(m, "m1") is False

            store.put(account(account_submit_rate_per_s=3))  # the admin raises it
            assert await ucp_submit(u, "u3") is False  # no bind since: nothing changes yet
            u2 = await ucp_login(ports["ucp"])  # the next bind reads 3 a second
            accepted = [
                await ucp_submit(u, "u4"),  # a bind made before the change shares the new bucket
                await cimd2_submit(m, "m2"),
                await ucp_submit(u2, "v1"),
                await cimd2_submit(m, "m3"),
            ]
            assert accepted == [True, True, True, False]

            store.put(account())  # back to the default (200 a second): again from the next bind
            assert await ucp_submit(u2, "v2") is False
            m2 = await cimd2_login(ports["cimd2"])
            assert [await cimd2_submit(m2, f"n{n}") for n in range(3)] == [True] * 3

            other = await cimd2_login(ports["cimd2"], "partner2")  # never concerned
            assert await cimd2_submit(other, "x") is True

            texts = [bytes.fromhex(c.short_message_hex) for c in sink.sent]
            assert len(texts) == 1 + 3 + 3 + 1  # acknowledged is exactly what was queued
            assert running.ctx.stats.submits_accepted == len(sink.sent)
            assert running.ctx.stats.submits_throttled == 5
            for peer in (u, m, u2, m2, other):
                await peer.close()

    run(main())


def test_a_changed_bind_rate_applies_to_new_binds_only() -> None:
    async def main() -> None:
        store, sink = MemoryEntityStore(), MemorySink()
        store.put(account(submit_rate_per_s=2))
        async with bridge_over(store, sink) as (_running, ports):
            old = await ucp_login(ports["ucp"])
            store.put(account(submit_rate_per_s=4))
            new = await cimd2_login(ports["cimd2"])
            assert [await ucp_submit(old, f"o{n}") for n in range(3)] == [True, True, False]
            assert [await cimd2_submit(new, f"n{n}") for n in range(5)] == [True] * 4 + [False]
            assert len(sink.sent) == 6
            for peer in (old, new):
                await peer.close()

    run(main())
