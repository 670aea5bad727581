"""The MO processor over in-memory fakes: every branch, redeliveries and crashes at each step."""

from __future__ import annotations

import itertools

import pytest

from smsbilling.adapters.dynamodb_entities import EntityExists
from smsbilling.adapters.sqs_events import PublishFailed
from smsbilling.contracts import MoReceived, MtPurpose
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.concat import ConcatInfo, build_udh
from smsbilling.domain.entities import (
    BlacklistEntry,
    PartnerService,
    PrefixClaim,
    RoutingConfig,
    ServiceStatus,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import TransferKind, transfer_id
from smsbilling.domain.mo_content import Part, part_of
from smsbilling.domain.text import gsm7_encode
from smsbilling.logic.charging import period_of
from smsbilling.logic.mo_processing import MoConfigurationError, claim_prefix
from tests.unit.routing.world import MO_NUMBER, MSISDN, MT_NUMBER, OP, OPERATOR, PRICE, SERVICE, T0, World

RECEIVABLE = acc.operator(OP, Book.RECEIVABLE)
EARNED = acc.partner("p1", Book.EARNED_PENDING)


def charges(world: World) -> list[str]:
    return [t.transfer.id for t in world.ledger.journal()]


def test_routed_mo_billing_charges_once_and_hands_on() -> None:
    world = World()
    mo = world.process(world.receive(text="abc hello there", source="07700 900123"))
    assert mo.state is MoState.ROUTED
    assert mo.msisdn == MSISDN  # national form normalised with the operator's country code
    assert (mo.full_text, mo.prefix, mo.service_id, mo.partner_id) == ("abc hello there", "abc", "s1", "p1")
    assert (mo.charged_amount, mo.currency, mo.short_number) == (PRICE, "GBP", MO_NUMBER)
    assert world.store.get(mo.message_id) == mo
    assert charges(world) == [transfer_id(mo.message_id, str(TransferKind.MO_CHARGE))]
    # 1.50 incl. 20 % VAT: VAT 25, net 125, operator 40 % = 50, gross 75: partner 70 % = 53, platform 22.
    assert world.ledger.balance(RECEIVABLE).net == 100
    assert world.ledger.balance(EARNED).net == -53
    assert [(c.message_id, c.service_id, d) for c, d in world.events.delivery] == [(mo.message_id, "s1", 0)]
    assert world.tally.get("p1", period_of(int(T0.timestamp() * 1000))).count == 1  # type: ignore[union-attr]


def test_duplicate_mo_redelivered_is_charged_once() -> None:
    world = World()
    event = world.receive()
    first = world.process(event)
    again = world.process(event)  # SQS redelivery of the same event
    world.receive()  # the operator retries the same message: decided, so not queued again
    assert len(world.intake.published) == 1
    assert first == again and len(charges(world)) == 1 and len(world.events.delivery) == 1
    assert world.tally.get("p1", period_of(int(T0.timestamp() * 1000))).count == 1  # type: ignore[union-attr]


class Crash(Exception):
    pass


@pytest.mark.parametrize("step", ["publish", "decide", "tally_only"])
def test_crash_after_charge_then_redelivery_charges_once(step: str) -> None:
    """A Lambda dying after the charge (before the publish, or before the decision) loses nothing."""
    world = World()
    event = world.receive()
    if step == "publish":
        world.events.fail = True
    elif step == "decide":
        original = world.store.decide

        def crash(mo: StoredMo) -> bool:
            raise Crash

        world.store.decide = crash  # type: ignore[method-assign]
    else:  # counted in the tally, then died before the ledger post
        original_post = world.ledger.post
        world.ledger.post = lambda transfer: (_ for _ in ()).throw(Crash())  # type: ignore[method-assign]
    with pytest.raises((Crash, PublishFailed)):
        world.process(event)
    assert world.store.get(event.message_id).state is MoState.RECEIVED  # type: ignore[union-attr]

    world.events.fail = False
    if step == "decide":
        world.store.decide = original  # type: ignore[method-assign]
    if step == "tally_only":
        world.ledger.post = original_post  # type: ignore[method-assign]
    mo = world.process(event)
    assert mo.state is MoState.ROUTED and mo.charged_amount == PRICE
    assert len(charges(world)) == 1
    assert world.tally.get("p1", period_of(int(T0.timestamp() * 1000))).count == 1  # type: ignore[union-attr]
    assert len(world.events.delivery) == (2 if step == "decide" else 1)  # at-least-once
    assert world.ledger.balance(EARNED).net == -53  # the partner's share, booked once


def test_mt_billed_number_is_routed_without_a_charge() -> None:
    world = World()
    mo = world.process(world.receive(destination=MT_NUMBER))
    assert mo.state is MoState.ROUTED and mo.billing_model == "mt" and mo.charged_amount is None
    assert charges(world) == [] and len(world.events.delivery) == 1


@pytest.mark.parametrize(
    "keyword",
    [
        "ABC",
        "abc",
        "Abc",
        "\N{CYRILLIC CAPITAL LETTER A}\N{CYRILLIC CAPITAL LETTER VE}\N{CYRILLIC CAPITAL LETTER ES}",
        "\N{CYRILLIC SMALL LETTER A}b\N{CYRILLIC SMALL LETTER ES}",
        "\uff21\uff22\uff23",  # full-width
        "A\u200bBC",  # a zero-width space inside
    ],
)
def test_look_alike_keywords_route_to_the_service(keyword: str) -> None:
    world = World()
    mo = world.process(world.receive(text=f"{keyword} 42"))
    assert (mo.state, mo.service_id, mo.prefix) == (MoState.ROUTED, "s1", keyword)


def test_admin_extra_lookalikes_apply_to_routing_and_claims() -> None:
    world = World()
    world.entities.put(RoutingConfig(lookalikes={"8": "B", "0": "O"}))
    assert world.process(world.receive(text="A8C")).state is MoState.ROUTED
    other = SERVICE.model_copy(update={"service_id": "s2", "prefix": "F00"})
    world.entities.put(other)
    claim = claim_prefix(world.entities, other, f"{OP}#{MO_NUMBER}")
    assert claim.folded == "foo"
    with pytest.raises(EntityExists):  # "FOO" folds the same: the prefix is taken
        claim_prefix(
            world.entities,
            other.model_copy(update={"service_id": "s3", "prefix": "FOO"}),
            claim.short_number_id,
        )


def test_unknown_prefix_is_unrouted_not_billed_and_gets_the_default_reply() -> None:
    world = World()
    mo = world.process(world.receive(text="XYZ please"))
    assert (mo.state, mo.service_id, mo.charged_amount) == (MoState.UNROUTED, None, None)
    assert charges(world) == [] and world.events.delivery == []
    [reply] = world.events.mt
    assert reply.purpose is MtPurpose.DEFAULT_REPLY and reply.billed is False
    assert reply.message_id == derived_id("mt", mo.message_id, "default_reply")
    assert (reply.operator_id, reply.link_id, reply.source, reply.destination) == (
        OP,
        "l1",
        MO_NUMBER,
        MSISDN,
    )
    assert reply.text == "Unknown keyword. Text HELP." and reply.in_reply_to == mo.message_id


def test_unknown_prefix_without_a_default_reply_sends_nothing() -> None:
    world = World()
    world.entities.put(OPERATOR.model_copy(update={"default_reply": None}))
    assert world.process(world.receive(text="")).state is MoState.UNROUTED
    assert world.events.mt == []


@pytest.mark.parametrize("status", [ServiceStatus.PENDING_MODERATION, ServiceStatus.SUSPENDED])
def test_a_service_that_is_not_active_is_unknown(status: ServiceStatus) -> None:
    world = World()
    world.entities.put(SERVICE.model_copy(update={"status": status}))
    mo = world.process(world.receive())
    assert mo.state is MoState.UNROUTED and charges(world) == [] and len(world.events.mt) == 1


def test_unknown_short_number_is_unrouted_without_a_reply() -> None:
    world = World()
    mo = world.process(world.receive(destination="7777"))
    assert mo.state is MoState.UNROUTED and "7777" in mo.reason
    assert world.events.mt == [] and charges(world) == []


@pytest.mark.parametrize("scope", ["*", "p1"])
def test_blacklisted_subscriber_is_not_billed_and_nothing_is_sent(scope: str) -> None:
    world = World()
    world.entities.put(BlacklistEntry(scope=scope, msisdn=MSISDN, created_at=T0))
    routed = world.process(world.receive(text="ABC 1"))
    unknown = world.process(world.receive("m2", text="XYZ"))
    assert routed.state is MoState.BLACKLISTED
    assert unknown.state is (MoState.BLACKLISTED if scope == "*" else MoState.UNROUTED)
    assert charges(world) == [] and world.events.delivery == []
    assert len(world.events.mt) == (0 if scope == "*" else 1)  # a partner's list: the platform still answers


def test_another_partners_blacklist_does_not_apply() -> None:
    world = World()
    world.entities.put(BlacklistEntry(scope="p2", msisdn=MSISDN, created_at=T0))
    assert world.process(world.receive()).state is MoState.ROUTED


def test_subscription_service_subscribes_through_on_mo_and_is_not_charged_at_the_mo() -> None:
    world = World()
    world.entities.put(SERVICE.model_copy(update={"subscription": SubscriptionTerms()}))
    event = world.receive(text="  abc   daily news ")
    mo = world.process(event)
    assert mo.state is MoState.ROUTED and mo.charged_amount is None
    [(service_id, passed, rest)] = world.subscriptions.calls
    assert service_id == "s1" and rest == "daily news " and passed == mo
    assert passed.msisdn == MSISDN and passed.full_text == "  abc   daily news "
    assert charges(world) == [] and world.events.delivery == []
    subscription = world.subscription_store.get("s1", MSISDN)
    assert subscription is not None and subscription.state is SubscriptionState.ACTIVE
    [welcome] = world.events.mt
    assert welcome.purpose is MtPurpose.NOTICE and welcome.destination == MSISDN and not welcome.billed
    world.process(event)  # redelivered: decided, nothing more
    assert len(world.events.mt) == 1 and len(world.subscriptions.calls) == 1


def test_a_bare_stop_word_cancels_and_gets_no_default_reply() -> None:
    world = World()
    world.entities.put(SERVICE.model_copy(update={"subscription": SubscriptionTerms()}))
    world.process(world.receive("m1", text="ABC"))
    stop = world.process(world.receive("m2", at=T0.replace(minute=5), text="stop"))
    assert stop.state is MoState.UNROUTED and "1 subscription" in stop.reason
    subscription = world.subscription_store.get("s1", MSISDN)
    assert subscription is not None and subscription.state is SubscriptionState.CANCELLED
    assert [mt.purpose for mt in world.events.mt] == [MtPurpose.NOTICE, MtPurpose.NOTICE]  # welcome, goodbye
    assert charges(world) == []


def test_a_bare_word_that_stops_nothing_gets_the_default_reply() -> None:
    world = World()
    assert world.process(world.receive(text="STOP")).state is MoState.UNROUTED
    assert [mt.purpose for mt in world.events.mt] == [MtPurpose.DEFAULT_REPLY]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"source": "not a number"}, "source"),
        ({"payload_hex": "00ff", "data_coding": 4}, "binary"),
        ({"payload_hex": "0041", "data_coding": 9}, "not supported"),
        ({"udh_hex": "0500", "text": "x"}, "UDH"),
        ({"sar_ref": 1, "sar_total": 2, "text": "x"}, "go together"),
    ],
)
def test_undecodable_mo_is_rejected_with_a_reason(fields: dict[str, object], reason: str) -> None:
    world = World()
    mo = world.process(world.receive(**fields))
    assert mo.state is MoState.REJECTED and reason in mo.reason
    assert charges(world) == [] and world.events.delivery == [] and world.events.mt == []


@pytest.mark.parametrize(
    ("payload", "coding", "text"),
    [
        (gsm7_encode("ABC {x} \u00a3"), 0, "ABC {x} \u00a3"),  # GSM 03.38 default alphabet, with escapes
        (
            "ABC \u043f\u0440\u0438\u0432\u0435\u0442".encode("utf-16-be"),
            8,
            "ABC \u043f\u0440\u0438\u0432\u0435\u0442",
        ),
        ("ABC caf\u00e9".encode("latin-1"), 3, "ABC caf\u00e9"),
    ],
)
def test_payloads_are_decoded_by_data_coding(payload: bytes, coding: int, text: str) -> None:
    world = World()
    mo = world.process(world.receive(text="", payload_hex=payload.hex(), data_coding=coding))
    assert (mo.state, mo.full_text) == (MoState.ROUTED, text)


LONG = "ABC " + "".join(f"word{i} " for i in range(60)) + "\u20ac end"  # the euro sign is an escape


def _udh_parts(text: str, size: int) -> list[dict[str, object]]:
    data = gsm7_encode(text)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return [
        {
            "text": "",
            "payload_hex": chunk.hex(),
            "data_coding": 0,
            "udh_hex": build_udh(ConcatInfo(7, len(chunks), n)).hex(),
        }
        for n, chunk in enumerate(chunks, start=1)
    ]


def _sar_parts(text: str, size: int) -> list[dict[str, object]]:
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    return [
        {"text": chunk, "sar_ref": 300, "sar_total": len(chunks), "sar_seq": n}
        for n, chunk in enumerate(chunks, start=1)
    ]


@pytest.mark.parametrize("form", ["udh", "sar"])
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_long_messages_reassemble_in_any_order_and_are_charged_once(
    form: str, order: tuple[int, ...]
) -> None:
    world = World()
    parts = (_udh_parts if form == "udh" else _sar_parts)(LONG, 153 if form == "udh" else 150)
    assert len(parts) == 3
    events = [world.receive(f"part{i}", **parts[i]) for i in order]
    decided = [world.process(event) for event in events]
    *waiting, whole = decided
    assert [mo.state for mo in waiting] == [MoState.PART, MoState.PART]
    assert whole.state is MoState.ROUTED and whole.full_text == LONG and whole.charged_amount == PRICE
    assert len(charges(world)) == 1 and len(world.events.delivery) == 1
    assert world.reassembly.parts_by_set == {} and world.reassembly.done == {}  # cleaned up after
    for event in events:  # every part redelivered: nothing more happens
        world.process(event)
    assert len(charges(world)) == 1 and len(world.events.delivery) == 1


def test_a_part_redelivered_before_the_set_completes_is_not_counted_twice() -> None:
    world = World()
    parts = _sar_parts(LONG, 150)
    first = world.receive("a", **parts[0])
    assert world.process(first).state is MoState.PART
    world.store.messages[first.message_id] = world.store.messages[first.message_id].model_copy(
        update={"state": MoState.RECEIVED}  # as if the Lambda died before writing PART
    )
    assert world.process(first).state is MoState.PART
    assert world.process(world.receive("b", **parts[1])).state is MoState.PART
    assert world.process(world.receive("c", **parts[2])).state is MoState.ROUTED


def test_concurrent_completion_processes_the_whole_message_once() -> None:
    """Two last parts finish at once: both see the full set, only one completion write wins."""
    world = World()
    parts = _sar_parts(LONG, 150)
    events = [world.receive(f"p{i}", **part) for i, part in enumerate(parts)]
    assert world.process(events[0]).state is MoState.PART
    # Both remaining parts are stored before either checks the set (the race), by hand:
    for index in (1, 2):
        stored = world.store.get(events[index].message_id)
        assert stored is not None
        world.reassembly.add(
            f"CONCAT#l1#{MSISDN}#300#3", index + 1, stored.message_id, _part(stored), expires_at=2**40, now=0
        )
    # Interleave as in the race: neither reads the other's completion, nor has the set gone yet.
    world.reassembly.completion = lambda set_key: None  # type: ignore[method-assign]
    world.reassembly.discard = lambda set_key: None  # type: ignore[method-assign]
    results = [world.process(events[2]), world.process(events[1])]
    assert sorted(mo.state.value for mo in results) == ["part", "routed"]
    assert len(charges(world)) == 1 and len(world.events.delivery) == 1


def _part(mo: StoredMo) -> Part:
    return part_of(
        text=mo.text,
        payload_hex=mo.payload_hex,
        data_coding=mo.data_coding,
        udh_hex=mo.udh_hex,
        sar_ref=mo.sar_ref,
        sar_total=mo.sar_total,
        sar_seq=mo.sar_seq,
    )


def test_parts_that_time_out_do_not_join_a_later_set() -> None:
    world = World()
    parts = _sar_parts(LONG, 150)
    late = T0.replace(hour=13)  # an hour later: past reassembly_timeout_s
    assert world.process(world.receive("a", **parts[0])).state is MoState.PART
    assert world.process(world.receive("b", at=late, **parts[1])).state is MoState.PART
    assert world.process(world.receive("c", at=late, **parts[2])).state is MoState.PART
    assert charges(world) == []


def test_missing_operator_fails_the_record_for_the_dlq() -> None:
    world = World()
    event = world.receive()
    del world.entities.items[("OPERATOR#op1", "META")]
    with pytest.raises(MoConfigurationError):
        world.process(event)
    assert world.store.get(event.message_id).state is MoState.RECEIVED  # type: ignore[union-attr]


def test_missing_tariff_fails_the_record_and_charges_nothing() -> None:
    world = World()
    del world.entities.items[("TARIFFS#*", "META")]
    world.charger._plans._books.clear()  # type: ignore[attr-defined]
    event = world.receive()
    with pytest.raises(MoConfigurationError):
        world.process(event)
    assert charges(world) == [] and world.events.delivery == []


def test_an_unknown_message_fails_the_record() -> None:
    with pytest.raises(LookupError):
        World().process(MoReceived(message_id="missing", link_id="l1", received_at=T0))


def test_a_record_claimed_by_the_first_version_is_still_processed() -> None:
    world = World()
    event = world.receive()
    world.store.messages[event.message_id] = world.store.messages[event.message_id].model_copy(
        update={"state": MoState.ACCEPTED}
    )
    assert world.process(event).state is MoState.ROUTED


def test_claims_are_only_on_the_services_numbers_and_unique() -> None:
    world = World()
    with pytest.raises(ValueError, match="not on short number"):
        claim_prefix(world.entities, SERVICE, f"{OP}#9999")
    rival = SERVICE.model_copy(update={"service_id": "s9", "prefix": "abc"})
    with pytest.raises(EntityExists):
        claim_prefix(world.entities, rival, f"{OP}#{MO_NUMBER}")
    claim = world.entities.get(PrefixClaim, f"{OP}#{MO_NUMBER}#abc")
    assert claim is not None and claim.service_id == "s1"


def test_a_claim_pointing_at_a_service_not_on_the_number_is_ignored() -> None:
    world = World()
    world.entities.put(
        PartnerService.model_validate(SERVICE.model_dump() | {"short_numbers": (f"{OP}#{MT_NUMBER}",)})
    )
    assert world.process(world.receive()).state is MoState.UNROUTED
