"""logic/mt_events.py: submit results and receipts onto the MT, correlation, billing, the partner."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from smsbilling.contracts import DlrReceived, NotifyMtStatus, SubmitResult
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import HandlerKind
from smsbilling.domain.handler_protocol import Reason, TransportError
from smsbilling.domain.mt import MtState
from smsbilling.domain.outbox import OutboxKind
from smsbilling.domain.signing import SIGNATURE_HEADER, verify
from smsbilling.domain.text import gsm7_encode
from smsbilling.logic.mt_events import ReceiptNotLinked
from smsbilling.logic.mt_sending import MtNotFound, OperatorUnavailable, update_record
from smsbilling.ports import MtRecord, NotifyOutcome, OperatorAnswer
from smsbilling.settings import MessageLimits, PartnerDeliveryLimits
from tests.unit.mt.world import (
    HTTP_LINK,
    MSISDN,
    PARTNER,
    SECRET,
    SERVICE,
    T0,
    World,
    accepted,
    hex_link,
    requested,
    send_mt,
)

LATER = T0 + timedelta(seconds=5)


def stored(world: World, message_id: str = "mt1") -> MtRecord:
    record = world.store.get(message_id)
    assert record is not None
    return record


def test_the_whole_loop_delivered_posts_the_charge_and_calls_back_signed() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)
    assert world.drain_dlr() == ["applied"]
    assert stored(world).mt.state is MtState.ACCEPTED
    correlation = world.store.correlation(HTTP_LINK.link_id, "op1")
    assert correlation is not None and (correlation.message_id, correlation.part_index) == ("mt1", 0)
    assert world.pending_charge_state("mt1") == "pending" and world.partner.received == []

    assert world.receipt("op1", DlrStatus.DELIVERED) == ("applied",)
    record = stored(world)
    assert record.mt.state is MtState.DELIVERED and record.billing_done
    assert world.pending_charge_state("mt1") == "posted"
    assert (record.notified, record.notify_attempts) == (NotifyOutcome.SENT, 1)

    [(method, url, headers, body)] = world.partner.received
    assert (method, url) == ("POST", SERVICE.status_url)
    verify(body, headers[SIGNATURE_HEADER], [SECRET], now=int(LATER.timestamp()))  # raises if not signed
    assert headers["X-Smsbilling-Message-Id"] == "mt1" and headers["X-Smsbilling-Delivery-Attempt"] == "1"
    assert json.loads(body) == {
        "schema_version": 1,
        "message_id": "mt1",
        "status": "delivered",
        "reason": "delivered",
        "in_reply_to": "mo1",
        "service_id": SERVICE.service_id,
        "purpose": "reply",
        "source": "5555",
        "destination": MSISDN,
        "parts": 1,
        "billed": True,
        "final_at": "2026-11-22T12:00:05.000Z",
    }


def test_repeats_change_nothing_and_move_no_money_twice() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)
    result = world.events.dlr[0]
    world.drain_dlr()
    world.receipt("op1", DlrStatus.DELIVERED)
    journal = [(t.transfer.id, t.state) for t in world.ledger.journal()]

    assert world.receipt("op1", DlrStatus.DELIVERED) == ("duplicate",)
    assert world.receipt("op1", DlrStatus.UNDELIVERED) == ("conflict",)  # the SMSC contradicts itself
    assert world.processor().handle(result, now=LATER).outcomes == ("duplicate",)
    assert stored(world).mt.state is MtState.DELIVERED
    assert [(t.transfer.id, t.state) for t in world.ledger.journal()] == journal
    assert len(world.partner.received) == 1


def test_undelivered_voids_the_charge_and_says_so() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)
    world.drain_dlr()
    world.receipt("op1", DlrStatus.UNDELIVERED)
    assert stored(world).mt.state is MtState.UNDELIVERED
    assert world.pending_charge_state("mt1") == "voided"
    assert json.loads(world.partner.received[0][3])["status"] == "undelivered"


def test_a_receipt_before_its_submit_result_waits_on_the_correlation_item() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)  # SubmitResult queued, not handled yet

    assert world.receipt("op1", DlrStatus.ENROUTE) == ("unlinked_intermediate_dropped",)
    assert world.receipt("op1", DlrStatus.DELIVERED) == ("waiting_for_submit_result",)
    assert world.receipt("op1", DlrStatus.DELIVERED) == ("waiting_for_submit_result",)  # kept once
    waiting = world.store.correlation(HTTP_LINK.link_id, "op1")
    assert waiting is not None and waiting.message_id is None and len(waiting.receipts) == 1
    assert stored(world).mt.state is MtState.SENT

    assert world.drain_dlr() == ["applied", "applied"]  # the submit result, then the waiting receipt
    assert stored(world).mt.state is MtState.DELIVERED
    assert world.pending_charge_state("mt1") == "posted"


def test_a_receipt_after_the_link_but_before_the_mt_saw_it_is_parked_by_the_lifecycle() -> None:
    """The correlation item is linked, the MT record not yet: the domain parks the receipt."""
    world = World()
    world.sender().process(requested(), now=T0)
    world.store.link(HTTP_LINK.link_id, "op1", "mt1", 0, expires_at_s=0)
    assert world.receipt("op1", DlrStatus.DELIVERED) == ("parked",)
    assert world.drain_dlr() == ["applied"]
    assert stored(world).mt.state is MtState.DELIVERED


def test_receipts_that_never_meet_a_submit_result_are_bounded() -> None:
    world = World(limits=MessageLimits(mt_receipts_parked_max=1))
    assert world.receipt("stranger", DlrStatus.DELIVERED) == ("waiting_for_submit_result",)
    with pytest.raises(ReceiptNotLinked):
        world.receipt("stranger", DlrStatus.UNDELIVERED)


def test_ids_meet_across_formats_as_the_link_says() -> None:
    link = hex_link()
    world = World(links=(link,))
    world.sender().process(requested(link_id=link.link_id), now=T0)
    assert world.events.outbound[0].link_id == link.link_id
    world.processor().handle(accepted("mt1", 0, "0x1A".removeprefix("0x"), link.link_id), now=T0)
    assert world.receipt("0026", DlrStatus.DELIVERED, link_id=link.link_id) == ("applied",)
    assert stored(world).mt.state is MtState.DELIVERED


def test_a_long_mt_is_final_when_every_part_has_reported() -> None:
    world = World()
    world.sender().process(requested("m" * 200), now=T0)
    world.drain_dlr()
    world.receipt("op1", DlrStatus.DELIVERED)
    assert stored(world).mt.state is MtState.ACCEPTED and world.partner.received == []
    world.receipt("op2", DlrStatus.DELIVERED)
    assert stored(world).mt.state is MtState.DELIVERED and len(world.partner.received) == 1


def test_refusals_for_now_change_nothing_and_unknown_mts_fail_the_record() -> None:
    world = World()
    world.sender().process(requested(), now=T0)
    transient = SubmitResult(
        message_id="mt1",
        part_index=0,
        link_id="l-smpp",
        accepted=False,
        error="smpp:0x58",
        permanent=False,
        at=T0,
    )
    assert world.processor().handle(transient, now=T0).outcomes == ("transient_refusal",)
    assert stored(world).mt.state is MtState.SENT
    with pytest.raises(MtNotFound):
        world.processor().handle(accepted("nope", 0, "x"), now=T0)


# --- the status callback -----------------------------------------------------------------------------


def delivered_mt(world: World) -> None:
    world.sender().process(requested(), now=T0)
    world.drain_dlr()
    world.receipt("op1", DlrStatus.DELIVERED)


def test_a_failing_callback_does_not_hold_the_mt_and_is_retried_with_a_delay() -> None:
    world = World()
    world.partner.script = [503]
    delivered_mt(world)
    record = stored(world)
    assert record.mt.state is MtState.DELIVERED
    assert (record.notified, record.notify_attempts) == (None, 1)
    assert "server error" in record.notify_error
    [(command, delay_s)] = world.events.notify
    assert command == NotifyMtStatus(message_id="mt1", attempt=2) and 0 < delay_s <= 900

    assert world.processor().handle(command, now=LATER).outcomes == ("notify_sent",)
    assert world.processor().handle(command, now=LATER).outcomes == ("notify_sent",)  # a repeat: no call
    assert len(world.partner.received) == 2
    assert world.partner.received[1][2]["X-Smsbilling-Delivery-Attempt"] == "2"
    assert (stored(world).notified, stored(world).notify_attempts) == (NotifyOutcome.SENT, 2)


def test_callbacks_give_up_after_the_attempts_or_at_a_permanent_refusal() -> None:
    world = World(delivery=PartnerDeliveryLimits(attempts_max=2))
    world.partner.script = [TransportError(Reason.TIMEOUT, "slow"), 500]
    delivered_mt(world)
    [(command, _)] = world.events.notify
    world.processor().handle(command, now=LATER)
    assert stored(world).notified is NotifyOutcome.FAILED and len(world.events.notify) == 1

    world = World()
    world.partner.script = [404]
    delivered_mt(world)
    assert stored(world).notified is NotifyOutcome.FAILED and world.events.notify == []
    assert "http 404" in stored(world).notify_error


def test_no_secret_no_url_or_the_platforms_own_mt_is_not_called() -> None:
    world = World()
    world.entities.put(PARTNER.model_copy(update={"callback_secrets": ()}))
    delivered_mt(world)
    assert stored(world).notified is NotifyOutcome.FAILED and world.partner.received == []
    assert "no signing secret" in stored(world).notify_error

    world = World()
    world.entities.put(SERVICE.model_copy(update={"status_url": None}))
    delivered_mt(world)
    assert stored(world).notified is NotifyOutcome.SKIPPED

    world = World()
    world.sender().process(requested(partner=False), now=T0)
    world.drain_dlr()
    world.receipt("op1", DlrStatus.DELIVERED)
    assert stored(world).notified is NotifyOutcome.SKIPPED and world.partner.received == []


@pytest.mark.parametrize(
    ("registered_delivery", "status", "expected"),
    [
        (1, DlrStatus.DELIVERED, True),
        (0, DlrStatus.DELIVERED, False),
        (2, DlrStatus.DELIVERED, False),
        (2, DlrStatus.UNDELIVERED, True),
    ],
)
def test_smpp_partners_get_a_receipt_in_their_outbox_when_they_asked(
    registered_delivery: int, status: DlrStatus, expected: bool
) -> None:
    world = World()
    world.sender().process(send_mt(gsm7_encode("hi"), registered_delivery=registered_delivery), now=T0)
    world.drain_dlr()
    world.receipt("op1", status)
    items = world.outbox.lease("p1bind", 10, now_ms=0, lease_ms=1)
    assert bool(items) is expected and world.partner.received == []
    if expected:
        [item] = items
        assert (item.kind, item.message_id, item.receipt_status) == (OutboxKind.RECEIPT, "smpp1", status)
        assert (item.source, item.destination) == (MSISDN, "INFO")
        world.processor().handle(NotifyMtStatus(message_id="smpp1", attempt=1), now=LATER)
        again = world.outbox.lease("p1bind", 10, now_ms=10, lease_ms=1)
        assert [i.item_id for i in again] == [item.item_id]  # the same item, once


def test_a_service_with_an_smpp_handler_gets_its_receipts_in_the_outbox() -> None:
    world = World()
    world.entities.put(
        SERVICE.model_copy(update={"handler_kind": HandlerKind.SMPP, "smpp_system_id": "svcbind"})
    )
    delivered_mt(world)
    [item] = world.outbox.lease("svcbind", 10, now_ms=0, lease_ms=1)
    assert item.receipt_status is DlrStatus.DELIVERED and stored(world).notified is NotifyOutcome.SENT


# --- optimistic writes ---------------------------------------------------------------------------------


def test_a_conflicting_write_is_re_read_and_re_applied() -> None:
    world = World()
    world.sender().process(requested(), now=T0)
    real_replace = world.store.replace
    interfered: list[bool] = []

    def replace_after_someone_else(record: MtRecord) -> bool:
        if not interfered:  # another consumer writes first: our version is stale
            interfered.append(True)
            current = world.store.get(record.message_id)
            assert current is not None
            real_replace(current.model_copy(update={"version": current.version + 1, "notify_error": "other"}))
        return real_replace(record)

    world.store.replace = replace_after_someone_else  # type: ignore[method-assign]
    record = update_record(
        world.store, "mt1", lambda r: r.model_copy(update={"billing_done": True}), retries_max=2
    )
    assert record.billing_done and record.notify_error == "other" and record.version == 3


def test_a_callback_without_the_time_to_finish_is_deferred_not_tried() -> None:
    world = World()
    world.sender().process(requested(), now=T0)
    world.drain_dlr()
    receipt = DlrReceived(
        receipt_id="r1",
        link_id=HTTP_LINK.link_id,
        operator_message_id="op1",
        status=DlrStatus.DELIVERED,
        received_at=LATER,
    )
    world.processor().handle(receipt, now=LATER, time_left_s=lambda: 5.0)  # the call needs 10 s + 2 s

    assert stored(world).mt.state is MtState.DELIVERED and world.partner.received == []
    assert (stored(world).notified, stored(world).notify_attempts) == (None, 0)
    assert world.events.notify == [(NotifyMtStatus(message_id="mt1", attempt=1), 0)]
    world.processor().handle(world.events.notify[0][0], now=LATER)
    assert len(world.partner.received) == 1 and stored(world).notified is NotifyOutcome.SENT


# --- the expiry sweep ---------------------------------------------------------------------------------


def test_the_sweep_expires_what_is_due_voids_its_charge_and_queues_the_callback() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)  # sent, accepted, never a final receipt
    world.drain_dlr()
    world.operator.script = [OperatorAnswer(accepted=False, error="http:503", permanent=False)]
    with pytest.raises(OperatorUnavailable):  # never sent at all: its command went to the DLQ
        world.sender().process(requested(message_id="mt2"), now=T0)
    deadline = T0 + timedelta(seconds=world.limits.mt_final_wait_s)

    early = world.processor().expire_due(now=deadline - timedelta(milliseconds=1), limit=10)
    assert (early.expired, early.failed) == (0, 0)
    sweep = world.processor().expire_due(now=deadline, limit=10)
    assert (sweep.expired, sweep.failed) == (2, 0)

    first, second = stored(world, "mt1"), stored(world, "mt2")
    assert first.mt.state is second.mt.state is MtState.EXPIRED
    assert first.mt.reason == "no final receipt before the deadline"
    assert second.mt.reason == "no submit response before the deadline"
    assert world.pending_charge_state("mt1") == "voided"
    assert world.partner.received == []  # queued, not called: a slow partner never stalls the sweep
    assert sorted(c.message_id for c, _ in world.events.notify) == ["mt1", "mt2"]
    assert world.processor().expire_due(now=deadline, limit=10).expired == 0  # nothing due twice
    for command, _ in world.events.notify:
        world.processor().handle(command, now=deadline)
    assert [json.loads(body)["status"] for *_, body in world.partner.received] == ["expired", "expired"]


def test_a_receipt_after_the_expiry_is_late_and_moves_no_money() -> None:
    world = World()
    world.sender().process(requested(billed=True), now=T0)
    world.drain_dlr()
    world.processor().expire_due(now=T0 + timedelta(days=3), limit=10)
    assert world.receipt("op1", DlrStatus.DELIVERED) == ("late",)
    assert stored(world).mt.state is MtState.EXPIRED and world.pending_charge_state("mt1") == "voided"
