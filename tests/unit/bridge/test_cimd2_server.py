"""CIMD2 partners on the bridge's server core, over real sockets: login (01) through the SMPP
accounts, submit (03) answered only once queued as the SMPP SendMt, throttling and outages as
code 10, the outbox as op 20 (MO) and op 23 (status report quoting the submit response's 021 +
060), and the connection closed on drain."""

from __future__ import annotations

import asyncio
from typing import Any

from smpp_bridge import cimd2
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.sinks import MemorySink
from smsbilling.domain.dlr import DlrStatus, scts_operator_id
from smsbilling.domain.text import gsm7_encode, ucs2_encode
from tests.unit.bridge.test_ucp_server import GatedSink
from tests.unit.bridge.ucp_cimd2_peer import PASSWORD, account, bridge, cimd2_peer

LOGIN = cimd2.Login(user_identity="partner1", password=PASSWORD)
CONGESTION = int(cc.Code.TEMPORARY_CONGESTION)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_login_refusals_look_alike_and_a_good_login_binds() -> None:
    async def main() -> None:
        accounts = [account(), account("faraway", allowed_cidrs=("10.0.0.0/8",))]
        async with bridge(accounts) as (running, ports):
            codes = set()
            for login in (
                cimd2.Login(user_identity="partner1", password="wrong"),
                cimd2.Login(user_identity="nobody", password=PASSWORD),
                cimd2.Login(user_identity="faraway", password=PASSWORD),
            ):
                peer = await cimd2_peer(ports["cimd2"])
                response = (await peer.request(login)).response
                codes.add((response.ok, response.error_code))
                await peer.close()
            assert codes == {(False, int(cc.Code.INVALID_LOGIN))}
            peer = await cimd2_peer(ports["cimd2"])
            assert (await peer.request(LOGIN)).response.ok
            assert running.ctx.authenticator.binds() == 1
            await peer.close()

    run(main())


def test_a_submit_is_answered_only_once_stored_with_021_and_a_unique_060() -> None:
    async def main() -> None:
        sink = GatedSink()
        async with bridge([account()], sink=sink) as (_, ports):
            peer = await cimd2_peer(ports["cimd2"])
            assert (await peer.request(LOGIN)).response.ok
            submit = cimd2.submit_for_text("447700900123", "ACME", "Hello @ €5")
            pending = peer.send_request_nowait(submit)
            await asyncio.wait_for(sink.arrived.wait(), 5)
            await asyncio.sleep(0.2)
            assert not pending.done()
            sink.gate.set()
            first = (await asyncio.wait_for(pending, 5)).response
            second = (await peer.request(submit)).response
            assert first.ok and first.destination_address == "447700900123"
            assert first.mc_timestamp != second.mc_timestamp  # the receipt key is unique per recipient
            command = sink.sent[0]
            assert command.channel == "smpp:partner1" and (command.source, command.source_ton) == ("ACME", 5)
            assert bytes.fromhex(command.short_message_hex) == gsm7_encode("Hello @ €5")
            assert (command.data_coding, command.registered_delivery) == (0, 1)  # 056 = 14
            unicode = cimd2.submit_for_text("447700900123", "12345", "Привет")
            assert (await peer.request(unicode)).response.ok
            assert sink.sent[2].data_coding == 8
            assert bytes.fromhex(sink.sent[2].short_message_hex) == ucs2_encode("Привет")
            await peer.close()

    run(main())


def test_over_the_rate_and_a_queue_outage_are_temporary_congestion() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with bridge([account()], sink=sink, submit_rate_per_s=1) as (running, ports):
            peer = await cimd2_peer(ports["cimd2"])
            assert (await peer.request(LOGIN)).response.ok
            submit = cimd2.submit_for_text("447700900123", "12345", "hi")
            assert (await peer.request(submit)).response.ok
            throttled = (await peer.request(submit)).response
            assert (throttled.ok, throttled.error_code) == (False, CONGESTION)
            await asyncio.sleep(1.1)
            sink.fail = True
            failed = (await peer.request(submit)).response
            assert (failed.ok, failed.error_code) == (False, CONGESTION)
            assert len(sink.sent) == 1 and running.ctx.stats.submits_throttled == 1
            await peer.close()

    run(main())


def test_mos_and_status_reports_reach_the_partner_and_drain_logs_it_out() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with bridge([account()], sink=sink) as (running, ports):
            peer = await cimd2_peer(ports["cimd2"])
            assert (await peer.request(LOGIN)).response.ok
            accepted = (await peer.request(cimd2.submit_for_text("447700900123", "12345", "hi"))).response
            [command] = sink.sent
            await running.outbox.put_mo("partner1", "447700900999", "12345", gsm7_encode("JOIN £5"))
            await running.outbox.put_receipt(
                "partner1",
                command.message_id,
                DlrStatus.UNDELIVERED,
                source="12345",
                destination="447700900123",
            )
            seen: dict[int, Any] = {}
            for _ in range(2):
                packet = (await peer.next_request()).packet
                seen[packet.opcode] = packet
                response = cimd2.Response(packet.opcode + cc.RESPONSE_OFFSET, packet.number)
                peer.writer.write(peer.session.send_response(response))
            mo, report = seen[cc.DELIVER_MESSAGE], seen[cc.DELIVER_STATUS_REPORT]
            assert (mo.destination_address, mo.originating_address) == ("12345", "447700900999")
            assert cimd2.message_text(mo) == "JOIN £5"
            status = cimd2.status_report(report)
            assert status.status is DlrStatus.UNDELIVERED
            assert status.operator_id == scts_operator_id("447700900123", accepted.mc_timestamp or "")
            async with asyncio.timeout(5):
                while running.outbox.store.pending("partner1"):  # type: ignore[attr-defined]
                    await asyncio.sleep(0.02)
            await running.drain()  # only an SME logs out in CIMD2: the bridge closes the connection
            await asyncio.wait_for(peer.closed.wait(), 5)
            await peer.close()

    run(main())
