"""The account's submit rate over all its binds, whatever protocol each bind speaks (real sockets).

A UCP login and a CIMD2 login of one account share ``account_submit_rate_per_s``: over it, UCP
gets Nack EC 04 and CIMD2 code 10 (temporary congestion), nothing refused is queued, and neither
session is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from smpp_bridge import cimd2, ucp
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.sinks import MemorySink
from tests.unit.bridge.ucp_cimd2_peer import PASSWORD, account, bridge, cimd2_peer, ucp_peer


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_ucp_and_cimd2_binds_of_one_account_share_its_rate() -> None:
    async def main() -> None:
        sink = MemorySink()
        accounts = [account(), account("partner2")]
        async with bridge(accounts, sink=sink, submit_rate_per_s=50, account_submit_rate_per_s=2) as (
            running,
            ports,
        ):
            u = await ucp_peer(ports["ucp"])
            assert (
                await u.request(ucp.SessionManagement(oadc="partner1", oton="6", onpi="5", pwd=PASSWORD))
            ).ok
            m = await cimd2_peer(ports["cimd2"])
            assert (await m.request(cimd2.Login(user_identity="partner1", password=PASSWORD))).response.ok
            other = await cimd2_peer(ports["cimd2"])
            assert (await other.request(cimd2.Login(user_identity="partner2", password=PASSWORD))).response.ok

            assert (await u.request(ucp.submit_for_text("447700900123", "12345", "u1"))).ok
            assert (await m.request(cimd2.submit_for_text("447700900123", "12345", "c1"))).response.ok
            over_ucp = (await u.request(ucp.submit_for_text("447700900123", "12345", "u2"))).result
            over_cimd2 = (await m.request(cimd2.submit_for_text("447700900123", "12345", "c2"))).response
            assert isinstance(over_ucp, ucp.Nack) and over_ucp.ec == int(ucp.Ec.OPERATION_NOT_ALLOWED)
            assert (over_cimd2.ok, over_cimd2.error_code) == (False, int(cc.Code.TEMPORARY_CONGESTION))
            assert [c.destination for c in sink.sent] == ["447700900123"] * 2
            assert {c.tenant for c in sink.sent} == {"owner-of-partner1"}
            assert running.ctx.stats.submits_throttled == 2

            theirs = (await other.request(cimd2.submit_for_text("447700900124", "12345", "x"))).response
            assert theirs.ok and sink.sent[-1].tenant == "owner-of-partner2"  # its own rate
            assert not u.closed.is_set() and not m.closed.is_set()  # refused, never disconnected
            await asyncio.sleep(0.6)
            assert (await m.request(cimd2.submit_for_text("447700900123", "12345", "c3"))).response.ok
            assert len(sink.sent) == 4
            for peer in (u, m, other):
                await peer.close()

    run(main())
