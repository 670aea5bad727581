"""MT-subscriptions: subscribe and unsubscribe by SMS, and the schedule that sends the billed MTs.

A service with ``subscription`` terms (:class:`~smsbilling.domain.entities.SubscriptionTerms`) is
an MT-subscription. The MO processor hands each MO routed to it to :func:`on_mo`:

* the keyword alone (or with any text that is not a stop word) subscribes. Idempotent: an active
  subscription stays as it is and gets no second welcome; a cancelled one is re-activated.
* the keyword followed by one of the service's stop words unsubscribes.
* a bare stop word ("STOP") routes to no service; the MO processor hands it to :func:`on_stop`,
  which cancels every active subscription of that MSISDN on that short number whose service lists
  the word among its stop words.

**Opt-outs** (``opt_outs``, :class:`OptOuts`; bound to :class:`smsbilling.logic.blacklists.StopList`):
a stop word, the keyword's or a bare one, also puts the subscriber on the partner's blacklist
(unless they subscribed again since), so the partner's other traffic stops too; subscribing again
lifts that STOP entry (docs/traffic/blacklists.md).

Confirmations are ``MtRequested(purpose=NOTICE, billed=False)`` with ids derived from the MO id, so
a redelivered MO queues the same command (the MT processor creates one MT per id).

**Timestamps come from the MO** (``received_at``), not from the processing clock: a redelivery
computes the same record, which is how it recognises "I already did this" and re-publishes a
confirmation that a crash may have lost. An MO older than the subscription's last change (SQS
does not keep order: "STOP" overtaking the keyword) changes nothing.

**The first billed MT** is due at once: a new subscription gets ``next_charge_at`` = the MO's time,
so the next schedule run (at most a minute later) sends it. A re-activated one keeps its
``next_charge_at`` if that is still ahead: a subscriber who stops and starts again inside a paid
slot is not charged twice for it.

**The schedule** (:func:`run_due`, every minute) claims each due subscription with one
conditional write (still active, unchanged since read) that advances ``next_charge_at`` and
``charges_count`` *and* stores the billed ``MtRequested`` as an unsent charge, in one transaction;
only then it publishes the command and marks it sent. A crash between leaves an unsent charge,
re-published by the next run with the same id. A cancel racing the run either lands first (the
claim fails: nothing is billed) or after the claim (the charge belonged to a slot that began
before the cancel). The id of the n-th billed MT is derived from (service, msisdn, n).

**Limits per period**: the billed MTs of one subscription are claimed at least
``ceil(interval_s / charges_per_period_max)`` apart (the slot): the next one is due one slot after
the claim. So no window of ``interval_s`` holds more than ``charges_per_period_max`` of them, and
a schedule that fell behind does not catch up in a burst. The price: a charge made late (the
schedule runs every minute) moves the later ones by as much, so a daily subscription drifts by
up to a minute a day rather than ever charging twice inside 24 hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Protocol

from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.entities import (
    PartnerService,
    ServiceStatus,
    Subscription,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import StoredMo
from smsbilling.domain.routing import fold
from smsbilling.domain.text.fold import first_word
from smsbilling.settings import SubscriptionLimits


class SubscriptionError(Exception):
    """An MO or a record the subscription logic cannot act on (a bug upstream, not bad luck)."""


class SubscriptionStore(Protocol):
    """Subscriptions and the unsent billed MTs of the schedule (see ``adapters/*_subscriptions.py``).

    Writes are conditional on the record being as the caller read it (``previous``: state,
    ``charges_count``, ``next_charge_at`` and ``started_at`` equal; ``None``: no record yet). A write
    whose condition fails changes nothing and returns False.
    """

    def get(self, service_id: str, msisdn: str) -> Subscription | None: ...

    def activate(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        """Store an active subscription and put it in the due index at its ``next_charge_at``."""
        ...

    def cancel(self, subscription: Subscription, *, previous: Subscription) -> bool:
        """Store a cancelled subscription and take it out of the due index."""
        ...

    def on_short_number(self, msisdn: str, short_number: str) -> list[Subscription]:
        """Every subscription (any state) of ``msisdn`` on ``short_number``."""
        ...

    def due(self, now: datetime) -> Iterator[Subscription]:
        """Active subscriptions with ``next_charge_at <= now``, earliest first, read lazily (pages).

        May be slightly stale (a secondary index): callers act through conditional writes.
        """
        ...

    def claim_charge(self, command: MtRequested, *, updated: Subscription, previous: Subscription) -> bool:
        """Store ``updated`` and ``command`` as an unsent charge, all or nothing (if ``previous``)."""
        ...

    def reschedule(self, updated: Subscription, *, previous: Subscription) -> bool:
        """Move an active subscription to another ``next_charge_at`` without a charge."""
        ...

    def unsent_charges(self, limit: int) -> list[MtRequested]:
        """Claimed charges not yet marked sent, oldest claim first."""
        ...

    def charge_sent(self, message_id: str) -> None:
        """The charge's command is on the queue (idempotent)."""
        ...


class MtPublisher(Protocol):
    def publish_mt_requested(self, command: MtRequested) -> None: ...


class OptOuts(Protocol):
    """The partners' blacklists as stop words change them (both idempotent; ``at``: the MO's time)."""

    def stopped(self, partner_id: str, msisdn: str, at: datetime) -> bool: ...

    def restarted(self, partner_id: str, msisdn: str, at: datetime) -> bool: ...


_WRITE_TRIES = 5
"""Conditional writes lose only to a concurrent change of the same subscription (a schedule run, a
second MO); a few re-reads settle it. Not a tunable: the bound only stops a livelock."""

ServiceLookup = Callable[[str], PartnerService | None]
"""Service id -> the service or None (e.g. ``lambda i: entities.get(PartnerService, i)``)."""


# --- subscribing and unsubscribing by SMS --------------------------------------------------------


def on_mo(
    service: PartnerService,
    *,
    mo: StoredMo,
    keyword_rest: str,
    now: datetime,
    store: SubscriptionStore,
    events: MtPublisher,
    opt_outs: OptOuts | None = None,
) -> None:
    """Act on an MO routed to a subscription service: subscribe, or unsubscribe on a stop word."""
    terms = service.subscription
    if terms is None:
        raise SubscriptionError(f"service {service.service_id} has no subscription terms")
    msisdn, short_number = _routed(mo)
    if is_stop_word(first_word(keyword_rest), terms):
        _unsubscribe(service, terms, mo=mo, msisdn=msisdn, now=now, store=store, events=events)
        _opted_out(opt_outs, service, msisdn=msisdn, at=mo.received_at, store=store)
    else:
        if opt_outs is not None and service.status is ServiceStatus.ACTIVE:
            opt_outs.restarted(service.partner_id, msisdn, mo.received_at)  # only a STOP older than this MO
        _subscribe(
            service,
            terms,
            mo=mo,
            msisdn=msisdn,
            short_number=short_number,
            now=now,
            store=store,
            events=events,
        )


def on_stop(
    mo: StoredMo,
    *,
    word: str,
    now: datetime,
    store: SubscriptionStore,
    events: MtPublisher,
    services: ServiceLookup,
    opt_outs: OptOuts | None = None,
) -> int:
    """A bare word on a short number (no service claims it): unsubscribe where it is a stop word.

    Returns how many subscriptions the word stopped (0: not a stop word for any subscription of this
    MSISDN on this short number, so the MO processor goes on as for any unknown prefix). A
    redelivery answers the same count and re-publishes the goodbyes under the same ids.
    """
    msisdn, short_number = _routed(mo, need_service=False)
    stopped = 0
    for found in store.on_short_number(msisdn, short_number):
        service = services(found.service_id)
        terms = service.subscription if service is not None else None
        if service is None or terms is None or not is_stop_word(word, terms):
            continue
        if found.state is SubscriptionState.ACTIVE or found.cancelled_at == mo.received_at:
            _unsubscribe(service, terms, mo=mo, msisdn=msisdn, now=now, store=store, events=events)
            _opted_out(opt_outs, service, msisdn=msisdn, at=mo.received_at, store=store)
            stopped += 1
    return stopped


def is_stop_word(word: str, terms: SubscriptionTerms) -> bool:
    """Whether ``word`` is one of the terms' stop words, folded as keywords are (case, look-alikes)."""
    folded = fold(word)
    return bool(folded) and any(folded == fold(stop) for stop in terms.stop_words)


def _opted_out(
    opt_outs: OptOuts | None, service: PartnerService, *, msisdn: str, at: datetime, store: SubscriptionStore
) -> None:
    """A stop word at ``at``: on the partner's list, unless the subscription is newer than the stop."""
    if opt_outs is None:
        return
    current = store.get(service.service_id, msisdn)
    if current is None or current.started_at <= at:
        opt_outs.stopped(service.partner_id, msisdn, at)


def _routed(mo: StoredMo, *, need_service: bool = True) -> tuple[str, str]:
    if not mo.msisdn or not mo.short_number or (need_service and not mo.partner_id):
        raise SubscriptionError(f"MO {mo.message_id} is not routed (msisdn, short number, partner)")
    return mo.msisdn, mo.short_number


def _last_change(subscription: Subscription) -> datetime:
    cancelled = subscription.cancelled_at
    return max(subscription.started_at, cancelled) if cancelled is not None else subscription.started_at


def _subscribe(
    service: PartnerService,
    terms: SubscriptionTerms,
    *,
    mo: StoredMo,
    msisdn: str,
    short_number: str,
    now: datetime,
    store: SubscriptionStore,
    events: MtPublisher,
) -> None:
    at = mo.received_at
    for _ in range(_WRITE_TRIES):
        current = store.get(service.service_id, msisdn)
        if current is not None and current.state is SubscriptionState.ACTIVE:
            if current.started_at == at:  # this MO subscribed; its welcome may not have gone out
                break
            return  # already subscribed: no second welcome
        if current is not None and _last_change(current) > at:
            return  # a later MO (a stop) already decided
        if service.status is not ServiceStatus.ACTIVE:
            return  # the MO processor routes only to active services; a race with suspension
        wanted = Subscription(
            service_id=service.service_id,
            msisdn=msisdn,
            partner_id=service.partner_id,
            operator_id=mo.operator_id,
            short_number=short_number,
            link_id=mo.link_id,
            state=SubscriptionState.ACTIVE,
            started_at=at,
            cancelled_at=None,
            next_charge_at=at if current is None else max(current.next_charge_at, at),
            charges_count=0 if current is None else current.charges_count,
        )
        if store.activate(wanted, previous=current):
            break
    else:
        raise SubscriptionError(f"subscription {service.service_id}/{msisdn} kept changing; try again")
    events.publish_mt_requested(
        _notice(
            service,
            mo,
            msisdn=msisdn,
            short_number=short_number,
            what="welcome",
            text=terms.welcome_text,
            now=now,
        )
    )


def _unsubscribe(
    service: PartnerService,
    terms: SubscriptionTerms,
    *,
    mo: StoredMo,
    msisdn: str,
    now: datetime,
    store: SubscriptionStore,
    events: MtPublisher,
) -> None:
    at = mo.received_at
    for _ in range(_WRITE_TRIES):
        current = store.get(service.service_id, msisdn)
        if current is None:
            return  # nothing to stop; the MO still reaches the partner as any routed MO
        if current.state is SubscriptionState.CANCELLED:
            if current.cancelled_at == at:  # this MO cancelled; its goodbye may not have gone out
                break
            return
        if current.started_at > at:
            return  # the subscription is newer than this stop
        cancelled = current.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": at})
        if store.cancel(cancelled, previous=current):
            break
    else:
        raise SubscriptionError(f"subscription {service.service_id}/{msisdn} kept changing; try again")
    events.publish_mt_requested(
        _notice(
            service,
            mo,
            msisdn=msisdn,
            short_number=current.short_number,
            what="goodbye",
            text=terms.goodbye_text,
            now=now,
        )
    )


def _notice(
    service: PartnerService,
    mo: StoredMo,
    *,
    msisdn: str,
    short_number: str,
    what: str,
    text: str,
    now: datetime,
) -> MtRequested:
    return MtRequested(
        message_id=derived_id(mo.message_id, "subscription", what, service.service_id),
        purpose=MtPurpose.NOTICE,
        partner_id=service.partner_id,
        service_id=service.service_id,
        in_reply_to=mo.message_id,
        operator_id=mo.operator_id,
        link_id=mo.link_id,
        source=short_number,
        destination=msisdn,
        text=text,
        billed=False,
        requested_at=now,
    )


# --- the schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueReport:
    """What one schedule run did (logged by the function; counts, never subscriber numbers)."""

    republished: int = 0  # unsent charges of an earlier run, queued now
    charged: int = 0  # billed MTs claimed and queued
    skipped: int = 0  # the service is not active: the slot passes without a charge
    ended: int = 0  # the service is gone or no longer a subscription: cancelled, no charge
    conflicts: int = 0  # changed since the due query (cancelled, charged by a concurrent run)


def charge_message_id(service_id: str, msisdn: str, index: int) -> str:
    """The id of the ``index``-th (from 0) billed MT of a subscription: a re-run queues the same."""
    return derived_id("subscription-charge", service_id, msisdn, str(index))


def slot_s(terms: SubscriptionTerms) -> int:
    """The least time between two billed MTs: at most ``charges_per_period_max`` per interval."""
    return math.ceil(terms.interval_s / terms.charges_per_period_max)


def next_slot(now: datetime, terms: SubscriptionTerms) -> datetime:
    """When the next billed MT is due after one claimed at ``now`` (one slot later, never sooner)."""
    return now + timedelta(seconds=slot_s(terms))


def run_due(
    now: datetime,
    *,
    store: SubscriptionStore,
    events: MtPublisher,
    services: ServiceLookup,
    limits: SubscriptionLimits,
    time_left_s: Callable[[], float] | None = None,
) -> DueReport:
    """One schedule run: re-queue unsent charges, then charge every due subscription.

    Stops after ``due_per_run_max`` subscriptions, or when ``time_left_s()`` (the function's
    remaining time) drops under ``run_time_margin_s``: the rest are still due for the next run.
    """
    republished = _republish(store, events, limits.unsent_per_run_max)
    counts = {"charged": 0, "skipped": 0, "ended": 0, "conflicts": 0}
    cache: dict[str, PartnerService | None] = {}
    for subscription in islice(store.due(now), limits.due_per_run_max):
        if time_left_s is not None and time_left_s() < limits.run_time_margin_s:
            break
        if subscription.service_id not in cache:
            cache[subscription.service_id] = services(subscription.service_id)
        counts[_charge_one(subscription, cache[subscription.service_id], now, store, events)] += 1
    return DueReport(republished=republished, **counts)


def _republish(store: SubscriptionStore, events: MtPublisher, limit: int) -> int:
    unsent: Sequence[MtRequested] = store.unsent_charges(limit)
    for command in unsent:
        events.publish_mt_requested(command)
        store.charge_sent(command.message_id)
    return len(unsent)


def _charge_one(
    subscription: Subscription,
    service: PartnerService | None,
    now: datetime,
    store: SubscriptionStore,
    events: MtPublisher,
) -> str:
    if subscription.state is not SubscriptionState.ACTIVE or subscription.next_charge_at > now:
        return "conflicts"  # the index was stale
    terms = service.subscription if service is not None else None
    if service is None or terms is None:
        ended = subscription.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": now})
        return "ended" if store.cancel(ended, previous=subscription) else "conflicts"
    moved = subscription.model_copy(update={"next_charge_at": next_slot(now, terms)})
    if service.status is not ServiceStatus.ACTIVE:
        return "skipped" if store.reschedule(moved, previous=subscription) else "conflicts"
    command = MtRequested(
        message_id=charge_message_id(
            subscription.service_id, subscription.msisdn, subscription.charges_count
        ),
        purpose=MtPurpose.SUBSCRIPTION,
        partner_id=subscription.partner_id,
        service_id=subscription.service_id,
        operator_id=subscription.operator_id,
        link_id=subscription.link_id,
        source=subscription.short_number,
        destination=subscription.msisdn,
        text=terms.content_text,
        billed=True,
        requested_at=now,
    )
    updated = moved.model_copy(update={"charges_count": subscription.charges_count + 1})
    if not store.claim_charge(command, updated=updated, previous=subscription):
        return "conflicts"
    events.publish_mt_requested(command)
    store.charge_sent(command.message_id)
    return "charged"
