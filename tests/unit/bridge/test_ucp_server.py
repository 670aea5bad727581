"""UCP/EMI partners on the bridge's server core, over real sockets: login through the SMPP
accounts (allow-list first, one answer for every refusal), OT 51 acknowledged only once queued as
the same SendMt an SMPP submit gives, throttling and queue outages as EC 04, and the outbox
delivered as OT 52 (MO) and OT 53 (receipt, with the SCTS of the OT 51 result)."""

from __future__ import annotations

import asyncio
from typing import Any

from smpp_bridge import ucp
from smpp_bridge.sinks import MemorySink
from smsbilling.contracts import SendMt
from smsbilling.domain.dlr import DlrStatus, scts_operator_id
from smsbilling.domain.text import gsm7_encode
from tests.unit.bridge.ucp_cimd2_peer import PASSWORD, account, bridge, ucp_peer

LOGIN = ucp.SessionManagement(oadc="partner1", oton="6", onpi="5", pwd=PASSWORD)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class GatedSink(MemorySink):
    """Holds every submit until ``gate`` is set: nothing may be answered before it is stored."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()

    async def send_mt(self, command: SendMt) -> None:
        self.arrived.set()
        await self.gate.wait()
        await super().send_mt(command)


def test_login_refusals_look_alike_and_the_allow_list_comes_before_the_password() -> None:
    async def main() -> None:
        accounts = [account(), account("faraway", allowed_cidrs=("10.0.0.0/8",))]
        async with bridge(accounts) as (running, ports):
            answers = []
            for login in (
                ucp.SessionManagement(oadc="partner1", pwd="wrong"),
                ucp.SessionManagement(oadc="nobody", pwd=PASSWORD),
                ucp.SessionManagement(oadc="faraway", pwd=PASSWORD),  # right password, wrong address
            ):
                peer = await ucp_peer(ports["ucp"])
                answers.append((await peer.request(login)).result)
                await peer.close()
            assert {type(a) for a in answers} == {ucp.Nack}
            assert {a.ec for a in answers} == {int(ucp.Ec.AUTHENTICATION_FAILURE)}
            assert running.ctx.stats.binds_refused == 3
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            assert running.ctx.authenticator.binds() == 1
            await peer.close()

    run(main())


def test_a_submit_is_acknowledged_only_after_it_is_queued_as_the_smpp_sendmt() -> None:
    async def main() -> None:
        sink = GatedSink()
        async with bridge([account()], sink=sink) as (_, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            submit = ucp.submit_for_text("447700900123", "ACME", "Hello @ €5")
            pending = peer.send_request_nowait(submit)
            await asyncio.wait_for(sink.arrived.wait(), 5)
            await asyncio.sleep(0.2)
            assert not pending.done()  # not stored yet: no answer
            sink.gate.set()
            result = (await asyncio.wait_for(pending, 5)).result
            assert isinstance(result, ucp.Ack)
            [command] = sink.sent
            adc, scts = result.sm.split(":")
            assert adc == "447700900123" and len(scts) == 12
            assert command.channel == "smpp:partner1" and command.tenant == "owner-of-partner1"
            assert (command.source, command.source_ton) == ("ACME", 5)
            assert command.destination == "447700900123"
            assert command.data_coding == 0
            assert bytes.fromhex(command.short_message_hex) == gsm7_encode("Hello @ €5")
            assert command.registered_delivery == 1  # NRq 1, NT 3
            await peer.close()

    run(main())


def test_two_submits_to_one_recipient_in_one_second_get_distinct_sms_ids() -> None:
    async def main() -> None:
        async with bridge([account()]) as (_, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            submit = ucp.submit_for_text("447700900123", "12345", "one")
            first, second = await asyncio.gather(peer.request(submit), peer.request(submit))
            assert first.result.sm != second.result.sm
            await peer.close()

    run(main())


def test_over_the_rate_is_ec_04_and_a_queue_outage_is_ec_04_with_nothing_stored() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with bridge([account()], sink=sink, submit_rate_per_s=1) as (running, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            submit = ucp.submit_for_text("447700900123", "12345", "hi")
            assert (await peer.request(submit)).ok
            throttled = (await peer.request(submit)).result
            assert isinstance(throttled, ucp.Nack) and throttled.ec == int(ucp.Ec.OPERATION_NOT_ALLOWED)
            assert running.ctx.stats.submits_throttled == 1
            await asyncio.sleep(1.1)
            sink.fail = True
            failed = (await peer.request(submit)).result
            assert isinstance(failed, ucp.Nack) and failed.ec == int(ucp.Ec.OPERATION_NOT_ALLOWED)
            assert len(sink.sent) == 1 and running.ctx.stats.submits_failed == 1
            assert not peer.closed.is_set()  # refused, never disconnected
            await peer.close()

    run(main())


def test_an_operator_account_may_not_submit() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with bridge([account("op1", owner_kind="operator")], sink=sink) as (_, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(ucp.SessionManagement(oadc="op1", pwd=PASSWORD))).ok
            result = (await peer.request(ucp.submit_for_text("447700900123", "1", "x"))).result
            assert isinstance(result, ucp.Nack) and not sink.sent
            await peer.close()

    run(main())


def test_mos_and_receipts_reach_the_partner_as_ot_52_and_ot_53_and_leave_the_outbox() -> None:
    async def main() -> None:
        sink = MemorySink()
        async with bridge([account()], sink=sink) as (running, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            ack = (await peer.request(ucp.submit_for_text("447700900123", "12345", "hi"))).result
            [command] = sink.sent
            await running.outbox.put_mo("partner1", "447700900999", "12345", gsm7_encode("JOIN now"))
            await running.outbox.put_receipt(
                "partner1",
                command.message_id,
                DlrStatus.DELIVERED,
                source="12345",
                destination="447700900123",
            )
            seen: dict[int, Any] = {}
            for _ in range(2):
                event = await peer.next_request()
                op = event.operation
                seen[op.ot] = op
                peer.writer.write(peer.session.send_result(ucp.Ack(op.ot, op.trn)))
            mo, dlr = seen[52], seen[53]
            assert (mo.adc, ucp.originator_text(mo), ucp.message_text(mo)) == (
                "12345",
                "447700900999",
                "JOIN now",
            )
            report = ucp.notification_report(dlr)
            assert report.status is DlrStatus.DELIVERED
            assert report.operator_id == scts_operator_id(*ack.sm.split(":"))  # the OT 51 result's id
            async with asyncio.timeout(5):
                while running.outbox.store.pending("partner1"):  # type: ignore[attr-defined]
                    await asyncio.sleep(0.02)
            assert running.ctx.stats.outbox_delivered == 2
            await peer.close()

    run(main())


def test_a_refused_delivery_stays_in_the_outbox_for_the_next_try() -> None:
    async def main() -> None:
        async with bridge([account()]) as (running, ports):
            peer = await ucp_peer(ports["ucp"])
            assert (await peer.request(LOGIN)).ok
            await running.outbox.put_mo("partner1", "447700900999", "12345", b"hi")
            op = (await peer.next_request()).operation
            peer.writer.write(peer.session.send_result(ucp.Nack(op.ot, op.trn, int(ucp.Ec.SYNTAX_ERROR))))
            again = (await peer.next_request(timeout_s=10)).operation  # released, leased again
            assert again.msg == op.msg
            assert running.ctx.stats.outbox_refused >= 1
            await peer.close()

    run(main())
