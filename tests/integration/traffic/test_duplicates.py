"""Duplicates on the deployed stack (docs/traffic/duplicates.md), with an operator and a partner outside it.

Partner API sends: the same SMS twice within the window is accepted twice (202) but the second
ends ``rejected`` with a ``duplicate: ...`` reason, never reaches the operator, and its reserved
credit is refunded; with ``allow_repeat`` both go out. MOs: the same MO (source, number, text)
under two operator ids is routed and charged once, the second rejected; the same operator id
again is the same message. Nothing in between is stubbed: the deployed MO and MT processors run
the deployed guard over the counters table.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from smsbilling.domain.inbound import MoState
from smsbilling.domain.ledger import TransferState
from smsbilling.domain.mt import MtState
from tests.conftest import Stack
from tests.integration.billing_world import TIMEOUT_S, PartnerWorld, partner_world

pytestmark = pytest.mark.localcloud

CREDITS = 10
NUMBER = "7072"
PRICE = 150


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[PartnerWorld]:
    with partner_world(
        stack,
        tag="dup",
        numbers=[NUMBER],
        price=PRICE,
        credits=CREDITS,
        range_head="4478",
        demo_partner=True,
        default_reply="Unknown keyword.",
    ) as world:
        world.add_service()
        yield world


def test_the_same_sms_twice_in_the_window_is_sent_once_and_the_repeat_refunded(world: PartnerWorld) -> None:
    before = world.spendable()
    destination = world.subscriber(1)
    first = world.send_sms(destination, "Your parcel 4711 is on its way")
    original = world.final_mt(first)
    assert original.mt.state is MtState.DELIVERED, original

    second = world.send_sms(destination, "your parcel 4711  is on its way")  # the same, lightly varied
    duplicate = world.final_mt(second)
    assert duplicate.mt.state is MtState.REJECTED, duplicate
    assert f"duplicate: repeats MT {first}" in duplicate.mt.reason
    assert "duplicate:same_content:reject" in duplicate.controls
    assert world.settled(first).state is TransferState.POSTED
    assert world.settled(second).state is TransferState.VOIDED  # its credit is back
    assert first in world.operator_got() and second not in world.operator_got()
    assert world.spendable() == before - 1

    callback = world.partner.wait_for(
        lambda r: r.path == "/status" and r.json()["message_id"] == second, timeout_s=TIMEOUT_S
    )
    assert callback.signature_ok and callback.json()["status"] == "rejected"


def test_two_identical_sms_at_once_exactly_one_goes_out(world: PartnerWorld) -> None:
    """Sent back to back, the MT processor may take them in either order: one wins, never both."""
    before = world.spendable()
    destination = world.subscriber(3)
    ids = [world.send_sms(destination, "Flash sale: 20% off today") for _ in range(2)]

    records = {message_id: world.final_mt(message_id) for message_id in ids}
    states = sorted(r.mt.state.value for r in records.values())
    assert states == ["delivered", "rejected"], records
    [sent] = [m for m, r in records.items() if r.mt.state is MtState.DELIVERED]
    [refused] = [m for m, r in records.items() if r.mt.state is MtState.REJECTED]
    assert f"duplicate: repeats MT {sent}" in records[refused].mt.reason
    assert world.settled(refused).state is TransferState.VOIDED
    assert sent in world.operator_got() and refused not in world.operator_got()
    assert world.spendable() == before - 1


def test_allow_repeat_sends_both(world: PartnerWorld) -> None:
    before = world.spendable()
    destination = world.subscriber(2)
    first = world.send_sms(destination, "Reminder: your appointment is at 10:00")
    second = world.send_sms(destination, "Reminder: your appointment is at 10:00", allow_repeat=True)

    for message_id in (first, second):
        record = world.final_mt(message_id)
        assert record.mt.state is MtState.DELIVERED, record
        assert world.settled(message_id).state is TransferState.POSTED
    assert {first, second} <= world.operator_got()
    assert world.spendable() == before - 2


def test_the_same_mo_under_two_operator_ids_is_charged_once(world: PartnerWorld) -> None:
    msisdn, text = "447700900881", f"{world.service.prefix} vote 3"
    op_first = uuid.uuid4().hex
    first_id = world.send_mo(text, op_id=op_first, msisdn=msisdn)
    first = world.decided(first_id)
    assert first.state is MoState.ROUTED and first.charged_amount == PRICE, first

    second_id = world.send_mo(text.upper(), op_id=uuid.uuid4().hex, msisdn=msisdn)  # a new id, same MO
    assert second_id != first_id
    second = world.decided(second_id)
    assert second.state is MoState.REJECTED and second.charged_amount is None, second
    assert second.reason.startswith(f"duplicate: repeats MO {first_id}")
    assert world.mo_charge(first_id) is not None and world.mo_charge(second_id) is None

    # The operator repeats the first id: the same message, decided and charged once.
    assert world.send_mo(text, op_id=op_first, msisdn=msisdn) == first_id
    assert world.decided(first_id).state is MoState.ROUTED
    world.partner.wait_for(
        lambda r: r.path == "/mo" and r.json()["message_id"] == first_id, timeout_s=TIMEOUT_S
    )
    time.sleep(2)  # had the repeat or the duplicate gone on, the handler would be called by now
    calls = [r for r in world.partner.received if r.path == "/mo"]
    assert [r.json()["message_id"] for r in calls].count(first_id) == 1
    assert all(r.json()["message_id"] != second_id for r in calls)
    charge = world.mo_charge(first_id)
    assert charge is not None and charge.state is TransferState.POSTED and world.mo_charge(second_id) is None
