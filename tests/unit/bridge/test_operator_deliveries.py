"""deliver_sm from an operator SMSC: MOs to intake, receipts to the DLR queue, response only after."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from smpp_bridge.deliveries import DeliverHandler, mo_digest
from smpp_bridge.simulator import SimulatorConfig
from smpp_bridge.smpp import DeliverSm
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import (
    MESSAGE_STATE,
    RECEIPTED_MESSAGE_ID,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
    USER_MESSAGE_REFERENCE,
)
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.inbound import MoState, StoredMo
from tests.unit.bridge.operator_harness import PASSWORD, SYSTEM_ID, operator_rig


def sim(**fields: Any) -> SimulatorConfig:
    return SimulatorConfig(accounts={SYSTEM_ID: PASSWORD}, redelivery_delay_s=0.2, **fields)


class FlakyStore(MemoryInboundStore):
    """Refuses the first ``failures`` writes (a DynamoDB outage)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("table unavailable")
        return super().put_if_absent(mo)


def part(ref: int, total: int, seq: int, text: bytes, **fields: Any) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="447700900123",
        destination_addr="4444",
        short_message=text,
        **fields,
    )


def test_an_mo_is_stored_and_queued_before_deliver_sm_resp() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            await rig.sim.inject_mo("447700900123", "4444", "ABC 123")
            await rig.until(lambda: rig.sim.stats.delivers_acked == 1)
            [stored] = rig.store.messages.values()
            assert (stored.link_id, stored.operator_id, stored.state) == ("op-smpp", "op", MoState.RECEIVED)
            assert (stored.source, stored.destination) == ("447700900123", "4444")
            assert (stored.payload_hex, stored.data_coding, stored.udh_hex) == (b"ABC 123".hex(), 0, None)
            [event] = rig.mo_events.published
            assert event.message_id == stored.message_id and event.link_id == "op-smpp"

    asyncio.run(main())


def test_a_store_failure_answers_rx_t_appn_and_the_redelivery_is_stored_once() -> None:
    async def main() -> None:
        async with operator_rig(sim(), store=FlakyStore(failures=2)) as rig:
            await rig.bound()
            await rig.sim.inject_mo("447700900123", "4444", "ABC 9")
            await rig.until(lambda: rig.sim.stats.delivers_acked == 1)
            assert rig.sim.stats.delivers_refused == 2 and rig.sim.stats.redeliveries == 2
            assert len(rig.store.messages) == 1 and len(rig.mo_events.published) == 1

    asyncio.run(main())


def test_a_redelivered_mo_after_a_lost_response_is_one_message() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            pdu = part(0, 0, 0, b"VOTE A")
            rig.sim.inject(pdu)
            await rig.until(lambda: rig.sim.stats.delivers_acked == 1)
            rig.sim.inject(pdu)  # the SMSC did not see our response and sends it again
            await rig.until(lambda: rig.sim.stats.delivers_acked == 2)
            assert len(rig.store.messages) == 1
            # A new message from the handset carries a new message reference: a second MO.
            rig.sim.inject(part(0, 0, 0, b"VOTE A", tlvs=(USER_MESSAGE_REFERENCE(7),)))
            await rig.until(lambda: rig.sim.stats.delivers_acked == 3)
            assert len(rig.store.messages) == 2

    asyncio.run(main())


def test_long_mo_parts_keep_their_udh_or_sar_for_reassembly() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            udh = bytes([5, 0, 3, 0x2A, 2, 1])
            rig.sim.inject(part(0, 0, 0, udh + b"first half ", esm_class=c.ESM_UDHI))
            sar = (SAR_MSG_REF_NUM(0x1234), SAR_TOTAL_SEGMENTS(2), SAR_SEGMENT_SEQNUM(2))
            rig.sim.inject(part(0, 0, 0, b"second half", tlvs=sar))
            await rig.until(lambda: rig.sim.stats.delivers_acked == 2)
            by_payload = {m.payload_hex: m for m in rig.store.messages.values()}
            first = by_payload[b"first half ".hex()]
            assert first.udh_hex == udh.hex() and first.sar_ref is None
            second = by_payload[b"second half".hex()]
            assert (second.udh_hex, second.sar_ref, second.sar_total, second.sar_seq) == (None, 0x1234, 2, 2)

    asyncio.run(main())


def test_a_malformed_udh_is_refused_for_good_and_nothing_is_stored() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            rig.sim.inject(part(0, 0, 0, bytes([9, 0, 3]), esm_class=c.ESM_UDHI))
            await rig.until(lambda: rig.side.deliveries.stats.mos_refused >= 1)
            assert rig.store.messages == {} and rig.mo_events.published == []

    asyncio.run(main())


def test_receipts_become_dlr_received_and_unreadable_ones_are_acknowledged() -> None:
    async def main() -> None:
        async with operator_rig(sim()) as rig:
            await rig.bound()
            text = b"id:77 sub:001 dlvrd:000 submit date:2611221200 done date:2611221201 stat:UNDELIV err:034"
            rig.sim.inject(part(0, 0, 0, text, esm_class=c.ESM_TYPE_DELIVERY_RECEIPT))
            tlv_only = (RECEIPTED_MESSAGE_ID("78"), MESSAGE_STATE(2))
            rig.sim.inject(part(0, 0, 0, b"", esm_class=c.ESM_TYPE_DELIVERY_RECEIPT, tlvs=tlv_only))
            rig.sim.inject(part(0, 0, 0, b"garbage", esm_class=c.ESM_TYPE_DELIVERY_RECEIPT))
            await rig.until(lambda: rig.sim.stats.delivers_acked == 3)
            got = {r.operator_message_id: r for r in rig.receipts()}
            assert (got["77"].status, got["77"].error_code) == (DlrStatus.UNDELIVERED, "034")
            assert got["78"].status is DlrStatus.DELIVERED and set(got) == {"77", "78"}
            assert rig.side.deliveries.stats.receipts_unreadable == 1
            assert rig.store.messages == {}

    asyncio.run(main())


def test_the_mo_id_uses_the_previous_window_when_that_mo_is_stored() -> None:
    store = MemoryInboundStore()
    times = iter([datetime(2026, 1, 1, 12, 9, 59, tzinfo=UTC), datetime(2026, 1, 1, 12, 10, 1, tzinfo=UTC)])
    handler = DeliverHandler(
        store=store,
        events=type("E", (), {"publish_mo_received": lambda self, e: None})(),
        mt_events=None,  # type: ignore[arg-type]
        executor=None,  # type: ignore[arg-type]
        redelivery_window_s=600,
        wall_clock=lambda: next(times),
    )
    from tests.unit.bridge.operator_harness import smpp_link

    link = smpp_link(2775)
    pdu = part(0, 0, 0, b"HELP")

    async def main() -> None:
        await handler.handle(link, pdu)  # 12:09:59, window 12:00-12:10
        await handler.handle(link, pdu)  # 12:10:01, the next window: same MO

    asyncio.run(main())
    assert len(store.messages) == 1 and handler.stats.mos_redelivered == 1
    assert mo_digest(pdu) != mo_digest(part(0, 0, 0, b"HELP", dest_addr_ton=3))
