"""Blacklists (domain/blacklists.py, logic/blacklists.py): scopes, the lookup, STOP opt-outs, CSV
imports, and what the MO and MT processors do with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.blacklists import (
    TooManyRows,
    is_stop_entry,
    parse_csv,
    parse_scope,
    reason_problem,
    scope_of,
    stop_reason,
)
from smsbilling.domain.entities import (
    BlacklistEntry,
    PartnerService,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.mt import MtState
from smsbilling.logic.blacklists import (
    StopList,
    blacklist_reason,
    import_csv,
    mo_refusal,
    mt_refusal,
)
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.subscriptions import on_mo, on_stop
from tests.unit.mt import world as mt
from tests.unit.routing.world import MSISDN, OP, SERVICE, T0, Subscriptions, World

OTHER = "447700900999"
LATER = T0 + timedelta(minutes=5)


def listed(
    entities: MemoryEntityStore, scope: str, *, msisdn: str = MSISDN, reason: str = "", at: datetime = T0
) -> BlacklistEntry:
    entry = BlacklistEntry(scope=scope, msisdn=msisdn, reason=reason, created_at=at)
    entities.put(entry)
    return entry


def entry(entities: MemoryEntityStore, scope: str, msisdn: str = MSISDN) -> BlacklistEntry | None:
    return entities.get(BlacklistEntry, f"{scope}#{msisdn}")


# --- scopes ------------------------------------------------------------------------------------------------


def test_scopes_name_one_list_each_and_read_back() -> None:
    assert scope_of(None) == "*"
    assert scope_of("p1") == "p1"
    assert scope_of("p1", "s1") == "p1/s1"
    for partner_id, service_id in ((None, None), ("p1", None), ("p1", "s1")):
        assert parse_scope(scope_of(partner_id, service_id)) == (partner_id, service_id)


@pytest.mark.parametrize(
    ("partner_id", "service_id"), [(None, "s1"), ("p/1", None), ("*", None), ("p1", "s/1"), ("", None)]
)
def test_a_scope_that_could_be_read_two_ways_is_refused(
    partner_id: str | None, service_id: str | None
) -> None:
    with pytest.raises(ValueError):
        scope_of(partner_id, service_id)


# --- the lookup --------------------------------------------------------------------------------------------


def test_the_platform_the_partner_and_the_service_list_each_block() -> None:
    entities = MemoryEntityStore()
    assert blacklist_reason(entities, MSISDN, partner_id="p1", service_id="s1") is None
    listed(entities, "p1/s1", reason="complained")
    found = blacklist_reason(entities, MSISDN, partner_id="p1", service_id="s1")
    assert found == "the subscriber is blacklisted by p1 for service s1: complained"
    # the service's list is that service's only; the partner's covers every service
    assert blacklist_reason(entities, MSISDN, partner_id="p1", service_id="s2") is None
    assert blacklist_reason(entities, MSISDN, partner_id="p1", service_id=None) is None
    listed(entities, "p1")
    assert blacklist_reason(entities, MSISDN, partner_id="p1", service_id="s2") == (
        "the subscriber is blacklisted by p1"
    )
    assert blacklist_reason(entities, MSISDN, partner_id="p2", service_id="s1") is None
    listed(entities, "*", reason="fraud ring, ticket 42")
    # the platform's list wins, and its note (the admins') is not shown to partners
    assert (
        blacklist_reason(entities, MSISDN, partner_id="p2", service_id=None)
        == "the subscriber is blacklisted"
    )
    assert blacklist_reason(entities, OTHER, partner_id="p1", service_id="s1") is None


def test_the_platform_list_can_be_left_to_the_caller() -> None:
    entities = MemoryEntityStore()
    listed(entities, "*")
    assert blacklist_reason(entities, MSISDN, partner_id="p1", service_id="s1", platform=False) is None
    assert blacklist_reason(entities, "", partner_id=None, service_id=None) is None


@pytest.mark.parametrize(
    ("purpose", "blocked"),
    [
        (MtPurpose.API, True),
        (MtPurpose.SUBSCRIPTION, True),
        (MtPurpose.OTP, True),
        (None, True),  # a partner's SMPP submit
        (MtPurpose.REPLY, False),
        (MtPurpose.NOTICE, False),
        (MtPurpose.DEFAULT_REPLY, False),
    ],
)
def test_a_stop_blocks_what_the_partner_sends_unasked_not_what_answers_the_subscriber(
    purpose: MtPurpose | None, blocked: bool
) -> None:
    entities = MemoryEntityStore()
    StopList(entities).stopped("p1", MSISDN, T0)
    found = mt_refusal(entities, MSISDN, partner_id="p1", service_id="s1", purpose=purpose)
    assert (found is not None) is blocked
    if blocked:
        assert found == "the subscriber is blacklisted by p1: STOP from subscriber at 2026-11-22T12:00:00Z"
    # the subscriber's own MOs are never blocked by their STOP
    assert mo_refusal(entities, MSISDN, partner_id="p1", service_id="s1") is None


@pytest.mark.parametrize("purpose", [MtPurpose.REPLY, MtPurpose.NOTICE, MtPurpose.API])
def test_a_list_entry_blocks_every_mt_and_the_mo(purpose: MtPurpose) -> None:
    entities = MemoryEntityStore()
    listed(entities, "p1", reason="asked us by e-mail")
    assert mt_refusal(entities, MSISDN, partner_id="p1", service_id="s1", purpose=purpose) is not None
    assert mo_refusal(entities, MSISDN, partner_id="p1", service_id="s1") is not None


# --- STOP entries ---------------------------------------------------------------------------------------


def test_stop_entries_are_idempotent_and_never_replace_another_entry() -> None:
    entities = MemoryEntityStore()
    stops = StopList(entities)
    assert stops.stopped("p1", MSISDN, T0) is True
    assert stops.stopped("p1", MSISDN, T0) is False  # a redelivery
    assert stops.stopped("p1", MSISDN, LATER) is False  # a second STOP keeps the first time
    stored = entry(entities, "p1")
    assert stored is not None and is_stop_entry(stored) and stored.created_at == T0
    assert stored.reason == stop_reason(T0) == "STOP from subscriber at 2026-11-22T12:00:00Z"
    admin = listed(entities, "p1", msisdn=OTHER, reason="complained")
    assert stops.stopped("p1", OTHER, T0) is False
    assert entry(entities, "p1", OTHER) == admin


def test_subscribing_again_lifts_only_an_older_stop_entry() -> None:
    entities = MemoryEntityStore()
    stops = StopList(entities)
    stops.stopped("p1", MSISDN, LATER)
    assert stops.restarted("p1", MSISDN, T0) is False  # an MO older than the STOP (SQS reorders)
    assert stops.restarted("p1", MSISDN, LATER) is False
    assert entry(entities, "p1") is not None
    assert stops.restarted("p1", MSISDN, LATER + timedelta(seconds=1)) is True
    assert entry(entities, "p1") is None
    assert stops.restarted("p1", MSISDN, LATER + timedelta(seconds=2)) is False  # nothing left
    listed(entities, "p1", reason="complained")  # an admin's or the partner's entry: never lifted
    assert stops.restarted("p1", MSISDN, LATER + timedelta(days=1)) is False
    assert entry(entities, "p1") is not None


def test_nobody_else_may_write_the_stop_marker() -> None:
    assert reason_problem("complained") is None
    assert reason_problem(stop_reason(T0)) is not None
    assert reason_problem("x" * 201) is not None


# --- CSV -------------------------------------------------------------------------------------------------


def test_csv_rows_are_normalised_and_bad_lines_reported_by_line() -> None:
    text = (
        "\ufeffmsisdn,reason\n"
        "+44 7700 900123,complained\n"
        "\n"
        "0044 7700 900124\n"
        '447700900125,"said ""stop"", by phone"\n'
        "07700900126,national\n"
        "447700900127,a,b\n"
        f"447700900128,{stop_reason(T0)}\n"
        '447700900129,"unbalanced\n'
    )
    parsed = parse_csv(text, rows_max=10)
    assert [(row.line, row.msisdn, row.reason) for row in parsed.rows] == [
        (2, "447700900123", "complained"),
        (4, "447700900124", ""),
        (5, "447700900125", 'said "stop", by phone'),
    ]
    assert [(error.line, error.value) for error in parsed.errors] == [
        (6, "07700900126"),
        (7, "447700900127"),
        (8, "447700900128"),
        (9, "447700900129"),
    ]
    assert "international" in parsed.errors[0].reason
    assert "msisdn[,reason]" in parsed.errors[1].reason
    assert "STOP" in parsed.errors[2].reason


def test_csv_without_header_and_with_semicolons() -> None:
    assert [row.msisdn for row in parse_csv("447700900123\n447700900124", rows_max=2).rows] == [
        "447700900123",
        "447700900124",
    ]
    parsed = parse_csv("Number;Reason\n+447700900123;complained\n", rows_max=1)
    assert [(row.msisdn, row.reason) for row in parsed.rows] == [("447700900123", "complained")]


def test_csv_over_the_row_limit_is_refused_whole() -> None:
    body = "msisdn\n" + "".join(f"4477009001{n:02d}\n" for n in range(3))
    assert len(parse_csv(body, rows_max=3).rows) == 3  # the header does not count
    with pytest.raises(TooManyRows):
        parse_csv(body + "447700900199\n", rows_max=3)


def test_an_import_is_idempotent_and_keeps_what_was_listed() -> None:
    entities = MemoryEntityStore()
    before = listed(entities, "p1/s1", msisdn="447700900124", reason="earlier")
    text = "447700900123,complained\n447700900124,imported\n447700900123,twice\nnot-a-number\n"
    first = import_csv(entities, "p1/s1", text, at=T0, rows_max=10)
    assert (first.rows, first.added, first.listed) == (4, ("447700900123",), 2)
    assert [(e.line, e.value) for e in first.errors] == [(4, "not-a-number")]
    again = import_csv(entities, "p1/s1", text, at=LATER, rows_max=10)
    assert (again.added, again.listed) == ((), 3)
    assert entry(entities, "p1/s1", "447700900124") == before
    stored = entry(entities, "p1/s1", "447700900123")
    assert stored is not None and (stored.reason, stored.created_at) == ("complained", T0)
    assert entities.blacklist("p1", limit=10) == ([], None)  # the service's list only


# --- in the pipeline: MOs --------------------------------------------------------------------------------


@dataclass
class OptingSubscriptions(Subscriptions):
    """The routing world's subscription handlers, bound to the partners' lists as deployed."""

    def __call__(self, service: PartnerService, mo: StoredMo, keyword_rest: str, now: datetime) -> None:
        self.calls.append((service.service_id, mo, keyword_rest))
        on_mo(
            service,
            mo=mo,
            keyword_rest=keyword_rest,
            now=now,
            store=self.store,
            events=self.events,
            opt_outs=StopList(self.entities),
        )

    def stop(self, mo: StoredMo, word: str, now: datetime) -> int:
        return on_stop(
            mo,
            word=word,
            now=now,
            store=self.store,
            events=self.events,
            services=lambda service_id: self.entities.get(PartnerService, service_id),
            opt_outs=StopList(self.entities),
        )


def subscription_world() -> World:
    world = World()
    world.subscriptions = OptingSubscriptions(world.subscription_store, world.events, world.entities)
    world.entities.put(SERVICE.model_copy(update={"subscription": SubscriptionTerms()}))
    return world


def test_a_service_list_drops_the_mo_to_that_service_only_unbilled() -> None:
    world = World()
    other = SERVICE.model_copy(update={"service_id": "s2", "prefix": "XYZ"})
    world.entities.put(other)
    claim_prefix(world.entities, other, f"{OP}#4444")
    listed(world.entities, "p1/s1", reason="complained")
    blocked = world.process(world.receive("m1", text="ABC 1"))
    assert blocked.state is MoState.BLACKLISTED and blocked.charged_amount is None
    assert blocked.reason == "the subscriber is blacklisted by p1 for service s1: complained"
    assert world.events.delivery == []
    served = world.process(world.receive("m2", text="XYZ 1"))
    assert served.state is MoState.ROUTED and served.service_id == "s2" and served.charged_amount


def test_a_partner_list_drops_the_mo_but_a_stop_entry_does_not() -> None:
    world = World()
    StopList(world.entities).stopped("p1", MSISDN, T0)
    routed = world.process(world.receive("m1", text="ABC 1", at=LATER))
    assert routed.state is MoState.ROUTED  # the subscriber writes to the partner again: their choice
    listed(world.entities, "p1", msisdn=MSISDN, reason="complained")
    blocked = world.process(world.receive("m2", text="ABC 2", at=LATER))
    assert (blocked.state, blocked.reason) == (
        MoState.BLACKLISTED,
        "the subscriber is blacklisted by p1: complained",
    )


def test_keyword_stop_puts_the_subscriber_on_the_partners_list_and_subscribing_again_lifts_it() -> None:
    world = subscription_world()
    assert world.process(world.receive("m1", text="ABC", at=T0)).state is MoState.ROUTED
    assert world.process(world.receive("m2", text="ABC STOP", at=LATER)).state is MoState.ROUTED
    stop = entry(world.entities, "p1")
    assert stop is not None and is_stop_entry(stop) and stop.created_at == LATER
    goodbye = world.events.mt[-1]
    assert goodbye.purpose is MtPurpose.NOTICE and "unsubscribed" in goodbye.text
    # the goodbye still reaches the subscriber; the partner's own sends do not
    assert (
        mt_refusal(world.entities, MSISDN, partner_id="p1", service_id="s1", purpose=goodbye.purpose) is None
    )
    assert mt_refusal(world.entities, MSISDN, partner_id="p1", service_id="s1", purpose=MtPurpose.API)
    again = world.process(world.receive("m3", text="ABC", at=LATER + timedelta(minutes=1)))
    assert again.state is MoState.ROUTED
    assert entry(world.entities, "p1") is None
    subscription = world.subscription_store.get("s1", MSISDN)
    assert subscription is not None and subscription.state is SubscriptionState.ACTIVE


def test_bare_stop_puts_the_subscriber_on_the_list_of_each_partner_it_stopped() -> None:
    world = subscription_world()
    world.process(world.receive("m1", text="ABC", at=T0))
    stopped = world.process(world.receive("m2", text="STOP", at=LATER))
    assert stopped.state is MoState.UNROUTED and "cancelled" in stopped.reason
    stop = entry(world.entities, "p1")
    assert stop is not None and is_stop_entry(stop)
    # a bare STOP from someone with no subscription: nobody's list changes
    world.process(world.receive("m3", source=OTHER, text="STOP", at=LATER))
    assert entry(world.entities, "p1", OTHER) is None


def test_a_stop_overtaken_by_a_later_subscribe_leaves_no_entry() -> None:
    world = subscription_world()
    world.process(world.receive("m2", text="ABC", at=LATER))  # the later MO is processed first
    world.process(world.receive("m1", text="ABC STOP", at=T0))
    assert entry(world.entities, "p1") is None
    subscription = world.subscription_store.get("s1", MSISDN)
    assert subscription is not None and subscription.state is SubscriptionState.ACTIVE


# --- in the pipeline: MTs --------------------------------------------------------------------------------


def billed_subscription_mt(message_id: str = "mt-sub") -> MtRequested:
    return mt.requested(message_id=message_id).model_copy(
        update={"purpose": MtPurpose.SUBSCRIPTION, "in_reply_to": None}
    )


def test_an_mt_to_a_service_listed_subscriber_is_rejected_with_the_reason_and_not_sent() -> None:
    world = mt.World()
    listed(world.entities, "p1/s1", msisdn=mt.MSISDN, reason="complained")
    record = world.sender().process(mt.requested(), now=mt.T0)
    assert record.mt.state is MtState.REJECTED
    assert record.mt.reason.endswith("the subscriber is blacklisted by p1 for service s1: complained")
    assert world.operator.received == []


def test_a_stopped_subscriber_gets_the_partners_reply_but_no_subscription_charge() -> None:
    world = mt.World()
    StopList(world.entities).stopped("p1", mt.MSISDN, mt.T0)
    charge = world.sender().process(billed_subscription_mt(), now=mt.T0)
    assert charge.mt.state is MtState.REJECTED and "STOP from subscriber" in charge.mt.reason
    assert world.pending_charge_state("mt-sub") is None  # never charged
    reply = world.sender().process(mt.requested(message_id="mt-reply"), now=mt.T0)
    assert reply.mt.state is MtState.SENT


def test_an_smpp_submit_honours_the_partners_list() -> None:
    world = mt.World()
    listed(world.entities, "p1", msisdn=mt.MSISDN)
    record = world.sender().process(mt.send_mt(b"hello"), now=mt.T0)
    assert record.mt.state is MtState.REJECTED and "blacklisted by p1" in record.mt.reason
    assert world.operator.received == []
