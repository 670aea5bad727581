"""MT-subscriptions: subscribe / unsubscribe by SMS and the schedule, over the in-memory fakes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.memory_subscriptions import MemorySubscriptionStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher, PublishFailed
from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.entities import (
    HandlerKind,
    PartnerService,
    ServiceStatus,
    Subscription,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.logic.subscriptions import (
    SubscriptionError,
    charge_message_id,
    next_slot,
    on_mo,
    on_stop,
    run_due,
    slot_s,
)
from smsbilling.settings import SubscriptionLimits

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MSISDN = "447700900123"
DAY = 86_400
LIMITS = SubscriptionLimits(due_per_run_max=1000, due_page_size_max=10)


def service(
    service_id: str = "svc1",
    *,
    prefix: str = "NEWS",
    status: ServiceStatus = ServiceStatus.ACTIVE,
    terms: SubscriptionTerms | None = None,
) -> PartnerService:
    return PartnerService(
        service_id=service_id,
        partner_id="p1",
        name=f"service {service_id}",
        prefix=prefix,
        short_numbers=("op1#4444",),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="https://partner.example/mo",
        status=status,
        subscription=terms if terms is not None else SubscriptionTerms(interval_s=DAY),
    )


def mo(n: int, text: str, *, at: datetime | None = None, msisdn: str = MSISDN) -> StoredMo:
    return StoredMo(
        message_id=f"mo{n}",
        link_id="link1",
        operator_id="op1",
        operator_message_id=f"op-{n}",
        source=msisdn,
        destination="4444",
        text=text,
        state=MoState.ROUTED,
        received_at=at or T0 + timedelta(seconds=n),
        msisdn=msisdn,
        full_text=text,
        short_number="4444",
        prefix=text.split(maxsplit=1)[0] if text.split() else "",
        service_id="svc1",
        partner_id="p1",
    )


class World:
    def __init__(self, *services: PartnerService) -> None:
        self.store = MemorySubscriptionStore()
        self.events = MemoryEventPublisher()
        self.services = {s.service_id: s for s in services or (service(),)}

    def send(self, n: int, text: str, *, svc: str = "svc1", at: datetime | None = None) -> None:
        message = mo(n, text, at=at)
        rest = text.split(maxsplit=1)[1] if len(text.split()) > 1 else ""
        on_mo(
            self.services[svc],
            mo=message,
            keyword_rest=rest,
            now=message.received_at,
            store=self.store,
            events=self.events,
        )

    def stop(self, n: int, word: str = "STOP", at: datetime | None = None) -> int:
        message = mo(n, word, at=at)
        return on_stop(
            message,
            word=word,
            now=message.received_at,
            store=self.store,
            events=self.events,
            services=self.services.get,
        )

    def run(self, now: datetime, limits: SubscriptionLimits = LIMITS):  # type: ignore[no-untyped-def]
        return run_due(now, store=self.store, events=self.events, services=self.services.get, limits=limits)

    def sub(self, svc: str = "svc1") -> Subscription:
        found = self.store.get(svc, MSISDN)
        assert found is not None
        return found

    def billed(self) -> list[MtRequested]:
        return [m for m in self.events.mt if m.billed]

    def notices(self) -> list[str]:
        return [m.text for m in self.events.mt if m.purpose is MtPurpose.NOTICE]


TERMS = SubscriptionTerms(interval_s=DAY)


# --- subscribing -------------------------------------------------------------------------------


def test_keyword_subscribes_with_one_welcome_and_first_charge_due_at_once() -> None:
    w = World()
    w.send(1, "NEWS")
    sub = w.sub()
    assert sub.state is SubscriptionState.ACTIVE
    assert sub.next_charge_at == sub.started_at == T0 + timedelta(seconds=1)
    (welcome,) = w.events.mt
    assert welcome.purpose is MtPurpose.NOTICE and not welcome.billed
    assert welcome.text == TERMS.welcome_text
    assert (welcome.source, welcome.destination, welcome.operator_id, welcome.link_id) == (
        "4444",
        MSISDN,
        "op1",
        "link1",
    )
    assert welcome.in_reply_to == "mo1"

    report = w.run(T0 + timedelta(seconds=30))
    assert report.charged == 1
    (charge,) = w.billed()
    assert charge.purpose is MtPurpose.SUBSCRIPTION and charge.text == TERMS.content_text
    assert charge.message_id == charge_message_id("svc1", MSISDN, 0)
    assert w.sub().charges_count == 1


def test_subscribing_again_while_active_sends_no_second_welcome() -> None:
    w = World()
    w.send(1, "NEWS")
    w.send(2, "news please")
    w.send(3, "\uff2e\uff25\uff37\uff33")  # full-width NEWS
    assert len(w.events.mt) == 1
    assert w.sub().started_at == T0 + timedelta(seconds=1)


def test_redelivered_subscribe_mo_republishes_the_same_welcome_id() -> None:
    """A crash after the write but before the publish: the redelivery publishes it (same id)."""
    w = World()
    w.events.fail = True
    with pytest.raises(PublishFailed):
        w.send(1, "NEWS")
    assert w.sub().state is SubscriptionState.ACTIVE  # written before the publish
    w.events.fail = False
    w.send(1, "NEWS")
    w.send(1, "NEWS")
    assert len({m.message_id for m in w.events.mt}) == 1
    assert len(w.events.mt) == 2  # queued twice under one id: the MT processor makes one MT


def test_subscribe_needs_an_active_service_and_routed_mo() -> None:
    w = World(service(status=ServiceStatus.SUSPENDED))
    w.send(1, "NEWS")
    assert w.store.get("svc1", MSISDN) is None and not w.events.mt
    with pytest.raises(SubscriptionError):
        on_mo(
            service(),
            mo=mo(1, "NEWS").model_copy(update={"msisdn": None}),
            keyword_rest="",
            now=T0,
            store=w.store,
            events=w.events,
        )
    plain = service().model_copy(update={"subscription": None})
    with pytest.raises(SubscriptionError):
        on_mo(plain, mo=mo(1, "NEWS"), keyword_rest="", now=T0, store=w.store, events=w.events)


# --- unsubscribing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stop", ["STOP", "stop", "Unsubscribe", "СТОП", "стоп", "\uff33\uff34\uff2f\uff30", "ST\u200bOP"]
)
def test_keyword_plus_stop_word_unsubscribes(stop: str) -> None:
    w = World()
    w.send(1, "NEWS")
    w.send(2, f"NEWS {stop} now")
    sub = w.sub()
    assert sub.state is SubscriptionState.CANCELLED and sub.cancelled_at == T0 + timedelta(seconds=2)
    assert w.notices() == [TERMS.welcome_text, TERMS.goodbye_text]
    assert w.run(T0 + timedelta(days=10)).charged == 0
    assert not w.billed()


def test_stop_without_subscription_does_nothing_and_stop_twice_says_goodbye_once() -> None:
    w = World()
    w.send(1, "NEWS STOP")
    assert w.store.get("svc1", MSISDN) is None and not w.events.mt
    w.send(2, "NEWS")
    w.send(3, "NEWS STOP")
    w.send(4, "NEWS STOP")
    assert w.notices() == [TERMS.welcome_text, TERMS.goodbye_text]


def test_cancelled_subscription_reactivates_without_a_second_charge_in_the_paid_slot() -> None:
    w = World()
    w.send(1, "NEWS")
    w.run(T0 + timedelta(seconds=5))  # charge 0; next due a day later
    w.send(10, "NEWS STOP")
    w.send(20, "NEWS")  # back within the paid day
    sub = w.sub()
    assert sub.state is SubscriptionState.ACTIVE and sub.charges_count == 1
    assert sub.next_charge_at == T0 + timedelta(seconds=5, days=1)  # a day after the claim
    assert w.notices() == [TERMS.welcome_text, TERMS.goodbye_text, TERMS.welcome_text]
    assert w.run(T0 + timedelta(hours=5)).charged == 0
    assert w.run(T0 + timedelta(days=1, seconds=4)).charged == 0
    assert w.run(T0 + timedelta(days=1, seconds=5)).charged == 1
    assert [m.message_id for m in w.billed()] == [charge_message_id("svc1", MSISDN, i) for i in (0, 1)]


def test_reactivation_after_the_slot_charges_again_at_once() -> None:
    w = World()
    w.send(1, "NEWS")
    w.run(T0 + timedelta(seconds=5))
    w.send(10, "NEWS STOP")
    late = T0 + timedelta(days=3)
    w.send(11, "NEWS", at=late)
    assert w.sub().next_charge_at == late
    assert w.run(late + timedelta(seconds=1)).charged == 1


def test_out_of_order_mos_keep_the_later_decision() -> None:
    """SQS does not keep order: a STOP overtaken by an older keyword, and a stale STOP."""
    w = World()
    w.send(2, "NEWS")
    w.send(5, "NEWS STOP")
    w.send(3, "NEWS")  # older than the stop: ignored
    assert w.sub().state is SubscriptionState.CANCELLED
    w.send(9, "NEWS")
    w.send(7, "NEWS STOP")  # older than the re-subscription: ignored
    assert w.sub().state is SubscriptionState.ACTIVE
    assert w.notices() == [TERMS.welcome_text, TERMS.goodbye_text, TERMS.welcome_text]


def test_redelivered_stop_mo_republishes_the_goodbye() -> None:
    w = World()
    w.send(1, "NEWS")
    w.events.fail = True
    with pytest.raises(PublishFailed):
        w.send(2, "NEWS STOP")
    assert w.sub().state is SubscriptionState.CANCELLED  # cancelled before anything else
    w.events.fail = False
    w.send(2, "NEWS STOP")
    assert w.notices() == [TERMS.welcome_text, TERMS.goodbye_text]


def test_bare_stop_cancels_every_active_subscription_on_that_short_number() -> None:
    custom = SubscriptionTerms(interval_s=DAY, stop_words=("HALT",))
    w = World(service("svc1"), service("svc2", prefix="GAMES"), service("svc3", prefix="JOKES", terms=custom))
    w.send(1, "NEWS", svc="svc1")
    w.send(2, "GAMES", svc="svc2")
    w.send(3, "JOKES", svc="svc3")
    assert w.stop(4, "stop") == 2
    assert w.sub("svc1").state is w.sub("svc2").state is SubscriptionState.CANCELLED
    assert w.sub("svc3").state is SubscriptionState.ACTIVE  # "STOP" is not one of its stop words
    goodbyes = [m for m in w.events.mt if m.text == TERMS.goodbye_text]
    assert {m.service_id for m in goodbyes} == {"svc1", "svc2"} and len({m.message_id for m in goodbyes}) == 2
    assert w.stop(4, "stop") == 2  # redelivery: same answer, same ids
    assert len({m.message_id for m in w.events.mt if m.text == TERMS.goodbye_text}) == 2
    assert w.stop(5, "HALT") == 1
    assert w.stop(6, "HELLO") == 0
    assert w.stop(7, "STOP") == 0  # nothing active any more


def test_bare_stop_ignores_other_short_numbers_and_subscribers() -> None:
    w = World()
    w.send(1, "NEWS")
    other = mo(2, "STOP").model_copy(update={"short_number": "5555"})
    assert on_stop(other, word="STOP", now=T0, store=w.store, events=w.events, services=w.services.get) == 0
    stranger = mo(3, "STOP", msisdn="447700900999")
    assert (
        on_stop(stranger, word="STOP", now=T0, store=w.store, events=w.events, services=w.services.get) == 0
    )
    assert w.sub().state is SubscriptionState.ACTIVE


# --- the schedule ------------------------------------------------------------------------------


def test_rerun_at_the_same_time_sends_nothing_twice() -> None:
    w = World()
    w.send(1, "NEWS")
    now = T0 + timedelta(minutes=1)
    assert w.run(now).charged == 1
    assert w.run(now).charged == 0
    assert w.run(now + timedelta(hours=23)).charged == 0
    assert len(w.billed()) == 1


def test_daily_charges_over_a_month_are_one_per_day() -> None:
    w = World()
    w.send(1, "NEWS")
    for minute in range(0, 30 * 24 * 60, 7):  # a run every 7 minutes for 30 days
        w.run(T0 + timedelta(minutes=minute))
    times = [m.requested_at for m in w.billed()]
    assert len(times) == 30
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(timedelta(days=1) <= gap < timedelta(days=1, minutes=7) for gap in gaps)
    assert len({m.message_id for m in w.billed()}) == 30


@pytest.mark.parametrize(("interval_s", "per_period"), [(DAY, 1), (DAY, 3), (3600, 2), (60, 1), (600, 7)])
def test_never_more_than_the_limit_in_any_interval_even_after_an_outage(
    interval_s: int, per_period: int
) -> None:
    terms = SubscriptionTerms(interval_s=interval_s, charges_per_period_max=per_period)
    w = World(service(terms=terms))
    w.send(1, "NEWS")
    now = T0
    horizon = T0 + timedelta(seconds=interval_s * 12)
    while now < horizon:
        w.run(now)
        # an outage every so often: the schedule stops for four intervals, then runs again
        gap = interval_s * 4 if now.minute == 17 and now.second == 0 else 60
        now += timedelta(seconds=gap)
    times = [m.requested_at for m in w.billed()]
    assert times, "nothing was charged"
    window = timedelta(seconds=interval_s)
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t < start + window]
        assert len(in_window) <= per_period, (interval_s, per_period, start)


def test_next_slot_spacing_and_no_catch_up() -> None:
    terms = SubscriptionTerms(interval_s=DAY, charges_per_period_max=3)
    assert slot_s(terms) == 28_800
    assert next_slot(T0, terms) == T0 + timedelta(hours=8)
    assert slot_s(SubscriptionTerms(interval_s=100, charges_per_period_max=3)) == 34


def test_cancel_racing_a_run_does_not_bill() -> None:
    """The due query read the subscription active; the cancel lands before the claim."""
    w = World()
    w.send(1, "NEWS")
    stale = list(w.store.due(T0 + timedelta(minutes=1)))
    w.send(2, "NEWS STOP")

    class StaleIndex(MemorySubscriptionStore):
        def due(self, now):  # type: ignore[no-untyped-def]
            return iter(stale)

    racing = StaleIndex()
    racing.subscriptions = w.store.subscriptions
    report = run_due(
        T0 + timedelta(minutes=1), store=racing, events=w.events, services=w.services.get, limits=LIMITS
    )
    assert report.charged == 0 and report.conflicts == 1
    assert not w.billed() and not racing.unsent


def test_charge_claimed_but_not_queued_is_requeued_by_the_next_run_with_the_same_id() -> None:
    w = World()
    w.send(1, "NEWS")
    w.events.fail = True
    with pytest.raises(PublishFailed):
        w.run(T0 + timedelta(minutes=1))
    assert len(w.store.unsent) == 1 and w.sub().charges_count == 1
    w.events.fail = False
    report = w.run(T0 + timedelta(minutes=2))
    assert report.republished == 1 and report.charged == 0
    assert [m.message_id for m in w.billed()] == [charge_message_id("svc1", MSISDN, 0)]
    assert not w.store.unsent


def test_suspended_service_skips_the_slot_and_removed_terms_end_the_subscription() -> None:
    w = World()
    w.send(1, "NEWS")
    w.services["svc1"] = service(status=ServiceStatus.SUSPENDED)
    report = w.run(T0 + timedelta(minutes=1))
    assert report.skipped == 1 and not w.billed()
    assert w.sub().next_charge_at > T0 + timedelta(hours=23) and w.sub().charges_count == 0
    w.services["svc1"] = service().model_copy(update={"subscription": None})
    report = w.run(T0 + timedelta(days=2))
    assert report.ended == 1 and w.sub().state is SubscriptionState.CANCELLED
    del w.services["svc1"]
    assert w.run(T0 + timedelta(days=9)).charged == 0 and not w.billed()


def test_run_stops_at_the_per_run_limit_and_the_rest_wait_for_the_next_run() -> None:
    w = World()
    for n in range(25):
        message = mo(n, "NEWS", msisdn=f"4477009{n:05d}")
        on_mo(w.services["svc1"], mo=message, keyword_rest="", now=T0, store=w.store, events=w.events)
    small = SubscriptionLimits(due_per_run_max=10, due_page_size_max=3)
    now = T0 + timedelta(minutes=1)
    assert [w.run(now, small).charged for _ in range(4)] == [10, 10, 5, 0]
    assert len({m.destination for m in w.billed()}) == 25


def test_run_stops_before_the_function_times_out() -> None:
    w = World()
    for n in range(5):
        message = mo(n, "NEWS", msisdn=f"4477009{n:05d}")
        on_mo(w.services["svc1"], mo=message, keyword_rest="", now=T0, store=w.store, events=w.events)
    budget = iter([30.0, 20.0, 9.0, 30.0])
    now = T0 + timedelta(minutes=1)
    report = run_due(
        now,
        store=w.store,
        events=w.events,
        services=w.services.get,
        limits=LIMITS,
        time_left_s=lambda: next(budget),
    )
    assert report.charged == 2  # the third check had 9 s left, under the 10 s margin
    assert w.run(now).charged == 3
