"""logic/mt_sending.py: create the MT once, charge it once, hand every part to the chosen link once."""

from __future__ import annotations

import pytest

from smsbilling.contracts import NotifyMtStatus
from smsbilling.domain.entities import BlacklistEntry, Operator, OperatorLink, Protocol
from smsbilling.domain.mt import MtState
from smsbilling.domain.text import gsm7_encode
from smsbilling.logic.mt_sending import MtConfigurationError, OperatorUnavailable
from smsbilling.ports import MtOrigin, OperatorAnswer
from tests.unit.mt.world import (
    HTTP_LINK,
    MSISDN,
    OP,
    SMPP_LINK,
    T0,
    World,
    requested,
    send_mt,
)


def test_a_reply_is_posted_to_the_http_link_and_becomes_sent() -> None:
    world = World()
    record = world.sender().process(requested("Your answer is 42"), now=T0)

    assert record.mt.state is MtState.SENT and record.handed_parts == (0,)
    assert record.link_id == HTTP_LINK.link_id and record.operator_id == OP
    [(url, token, part)] = world.operator.received
    assert (url, token) == (HTTP_LINK.mt_url, HTTP_LINK.mt_token)
    assert part.model_dump(exclude_none=True) == {
        "schema_version": 1,
        "message_id": "mt1",
        "part": 1,
        "parts": 1,
        "source": "5555",
        "destination": MSISDN,
        "data_coding": 0,
        "text": "Your answer is 42",
        "registered_delivery": 1,
    }
    [result] = world.events.dlr
    assert result.kind == "mt.submit_result" and result.accepted and result.operator_message_id == "op1"


def test_redelivery_sends_nothing_twice_and_charges_once() -> None:
    world = World()
    command = requested(billed=True)
    world.sender().process(command, now=T0)
    again = world.sender().process(command, now=T0)

    assert len(world.operator.received) == 1 and len(world.events.dlr) == 1
    assert again.mt.state is MtState.SENT
    assert world.pending_charge_state("mt1") == "pending"
    assert len(list(world.ledger.journal())) == 1


def test_a_long_gsm_text_is_cut_153_and_never_splits_an_escape_pair() -> None:
    world = World()
    text = "a" * 152 + "€" + "b" * 10  # the euro sign is ESC + 0x65: the cut moves back before it
    record = world.sender().process(requested(text), now=T0)

    parts = [part for _, _, part in world.operator.received]
    assert [p.text for p in parts] == ["a" * 152, "€" + "b" * 10]
    assert [(p.part, p.parts, p.data_coding) for p in parts] == [(1, 2, 0), (2, 2, 0)]
    ref = parts[0].udh_hex[6:8]  # type: ignore[index]
    assert [p.udh_hex for p in parts] == [f"050003{ref}0201", f"050003{ref}0202"]
    assert record.esm_class == 0x40 and len(record.mt.parts) == 2 and record.handed_parts == (0, 1)
    assert "".join(p.text or "" for p in parts) == text


@pytest.mark.parametrize(("chars", "expected_parts"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm_capacity_is_160_then_153(chars: int, expected_parts: int) -> None:
    world = World()
    record = world.sender().process(requested("x" * chars), now=T0)
    assert len(record.mt.parts) == expected_parts == len(world.operator.received)


@pytest.mark.parametrize(("chars", "expected_parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_capacity_is_70_then_67(chars: int, expected_parts: int) -> None:
    world = World()
    record = world.sender().process(requested("Ж" * chars), now=T0)
    assert len(record.mt.parts) == expected_parts
    assert {part.data_coding for _, _, part in world.operator.received} == {8}
    assert "".join(part.text or "" for _, _, part in world.operator.received) == "Ж" * chars


def test_a_text_too_long_is_rejected_at_once_and_the_partner_is_told() -> None:
    world = World()
    record = world.sender().process(requested("y" * 1600, billed=True), now=T0)

    assert record.mt.state is MtState.REJECTED and "text" in record.mt.reason
    assert world.operator.received == [] and world.events.dlr == []
    assert world.pending_charge_state("mt1") is None  # refused before any charge
    assert world.events.notify == [(NotifyMtStatus(message_id="mt1", attempt=1), 0)]
    world.processor().handle(world.events.notify[0][0], now=T0)
    [(_, url, _, body)] = world.partner.received
    assert url == "https://partner.example/status" and b'"status":"rejected"' in body


def test_a_blacklisted_subscriber_gets_nothing() -> None:
    world = World()
    world.entities.put(BlacklistEntry(msisdn=MSISDN, created_at=T0))
    record = world.sender().process(requested(), now=T0)
    assert record.mt.state is MtState.REJECTED and "blacklisted" in record.mt.reason
    assert world.operator.received == []


def test_a_server_error_retries_only_the_parts_not_yet_taken() -> None:
    world = World()
    world.operator.script = [
        OperatorAnswer(accepted=True, operator_message_id="a1"),
        OperatorAnswer(accepted=False, error="http:503", permanent=False),
    ]
    command = requested("z" * 200)  # two parts
    with pytest.raises(OperatorUnavailable, match="http:503"):
        world.sender().process(command, now=T0)
    stored = world.store.get("mt1")
    assert stored is not None and stored.handed_parts == (0,) and stored.mt.state is MtState.QUEUED

    record = world.sender().process(command, now=T0)
    assert [part.part for _, _, part in world.operator.received] == [1, 2, 2]
    assert record.handed_parts == (0, 1) and record.mt.state is MtState.SENT


def test_a_part_refused_for_good_refuses_the_rest_unsent_and_voids_the_charge() -> None:
    world = World()
    world.operator.script = [OperatorAnswer(accepted=False, error="http:400", permanent=True)]
    record = world.sender().process(requested("z" * 200, billed=True), now=T0)

    assert len(world.operator.received) == 1  # part 2 never went out
    assert [(r.part_index, r.accepted, r.error) for r in world.events.dlr] == [
        (0, False, "http:400"),
        (1, False, "not sent: part 1 refused (http:400)"),
    ]
    assert record.mt.state is MtState.SENT
    world.drain_dlr()
    final = world.store.get("mt1")
    assert final is not None and final.mt.state is MtState.REJECTED
    assert final.mt.reason == "submit refused: http:400"
    assert world.pending_charge_state("mt1") == "voided"


def test_no_post_starts_without_the_time_to_finish_it() -> None:
    world = World()
    with pytest.raises(OperatorUnavailable, match="no time left"):
        world.sender().process(requested(), now=T0, time_left_s=lambda: 3.0)
    assert world.operator.received == []


def test_an_smpp_link_gets_one_outbound_submit_per_part() -> None:
    world = World(links=(SMPP_LINK,))
    record = world.sender().process(requested("q" * 200, link_id=None), now=T0)

    submits = world.events.outbound
    assert [(s.part_index, s.link_id, s.esm_class, s.registered_delivery) for s in submits] == [
        (0, SMPP_LINK.link_id, 0x40, 1),
        (1, SMPP_LINK.link_id, 0x40, 1),
    ]
    first, second = (bytes.fromhex(s.short_message_hex) for s in submits)
    assert first[:3] == second[:3] == bytes.fromhex("050003") and first[3] == second[3]  # one reference
    assert (first[4:6], second[4:6]) == (b"\x02\x01", b"\x02\x02")
    assert (first[6:], second[6:]) == (gsm7_encode("q" * 153), gsm7_encode("q" * 47))
    assert (submits[0].source, submits[0].source_ton, submits[0].destination) == ("5555", 3, MSISDN)
    assert record.mt.state is MtState.SENT
    world.sender().process(requested("q" * 200, link_id=None), now=T0)
    assert len(world.events.outbound) == 2


def test_the_requested_link_is_used_only_while_it_can_send() -> None:
    disabled = HTTP_LINK.model_copy(update={"enabled": False})
    world = World(links=(disabled, SMPP_LINK))
    record = world.sender().process(requested(), now=T0)
    assert record.link_id == SMPP_LINK.link_id and world.operator.received == []

    mo_only = OperatorLink(link_id="l-mo", operator_id=OP, protocol=Protocol.HTTP)  # no mt_url
    world = World(links=(mo_only, SMPP_LINK))
    assert world.sender().process(requested(link_id="l-mo"), now=T0).link_id == SMPP_LINK.link_id


def test_no_usable_link_waits_queued_and_uncharged_until_one_is_configured() -> None:
    world = World(links=(OperatorLink(link_id="l-mo", operator_id=OP, protocol=Protocol.HTTP),))
    with pytest.raises(MtConfigurationError, match="no enabled link"):
        world.sender().process(requested(billed=True), now=T0)
    waiting = world.store.get("mt1")
    assert waiting is not None and waiting.mt.state is MtState.QUEUED  # the sweep expires it if never fixed
    assert world.pending_charge_state("mt1") is None and world.operator.received == []

    world.entities.put(HTTP_LINK)  # operations fix it; the queue delivers the command again
    record = world.sender().process(requested(billed=True), now=T0)
    assert record.link_id == HTTP_LINK.link_id and record.mt.state is MtState.SENT
    assert world.pending_charge_state("mt1") == "pending" and len(world.operator.received) == 1


def test_an_unknown_operator_is_a_configuration_error_that_writes_nothing() -> None:
    world = World()
    with pytest.raises(MtConfigurationError, match="not configured"):
        world.sender().process(requested().model_copy(update={"operator_id": "nobody"}), now=T0)
    assert world.store.get("mt1") is None


# --- SendMt: a partner's submit_sm -------------------------------------------------------------------


def test_a_partners_submit_is_decoded_routed_by_prefix_and_sent() -> None:
    world = World()
    longer = Operator(
        operator_id="op2", name="Op2", country_code="44", currency="GBP", msisdn_prefixes=("44770",)
    )
    world.entities.put(longer)
    world.entities.put(HTTP_LINK.model_copy(update={"link_id": "l-op2", "operator_id": "op2"}))
    record = world.sender().process(send_mt(gsm7_encode("Hello @ you"), destination="+447700900123"), now=T0)

    assert record.origin is MtOrigin.SMPP and record.operator_id == "op2" and record.link_id == "l-op2"
    assert record.destination == MSISDN and record.partner_system_id == "p1bind"
    [(_, _, part)] = world.operator.received
    assert (part.text, part.source, part.data_coding) == ("Hello @ you", "INFO", 0)


def test_a_partners_udh_is_kept_as_sent() -> None:
    world = World(links=(SMPP_LINK,))
    udh = bytes.fromhex("050003aa0201")
    short_message = udh + gsm7_encode("first half")
    world.sender().process(send_mt(short_message, esm_class=0x40), now=T0)
    [submit] = world.events.outbound
    assert bytes.fromhex(submit.short_message_hex) == short_message and submit.esm_class == 0x40


def test_binary_is_passed_whole_and_bad_input_is_rejected_with_a_reason() -> None:
    world = World()
    world.sender().process(send_mt(b"\x01\x02\xff", data_coding=0x04), now=T0)
    [(_, _, part)] = world.operator.received
    assert (part.payload_hex, part.text, part.data_coding) == ("0102ff", None, 4)

    cases = {
        "nowhere": send_mt(b"hi", destination="15551234567", message_id="x1"),
        "odd ucs2": send_mt(b"\x04\x1f\x04", data_coding=0x08, message_id="x2"),
        "no digits": send_mt(b"hi", destination="not-a-number", message_id="x3"),
        "big binary": send_mt(bytes(141), data_coding=0x04, message_id="x4"),
    }
    for name, command in cases.items():
        record = world.sender().process(command, now=T0)
        assert record.mt.state is MtState.REJECTED and record.mt.reason, name
    assert len(world.operator.received) == 1
    assert {c.message_id for c, _ in world.events.notify} == {"x1", "x2", "x3", "x4"}
