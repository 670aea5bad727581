"""The fraud-limit control: admin-set limits and the MO flood limit, counted in one call per message.

For each message the guard asks about, :class:`FraudLimitControl` finds every counter the message
adds to (domain/fraud_limits.py: the platform's per-subscriber MO flood limit, then each enabled
:class:`FraudLimit` that covers it), counts them all in **one** :meth:`TrafficCounters.count` (one
DynamoDB transaction), and returns a finding for each counter whose window total, this message
included, is over its threshold: ``fraud_limit`` findings for the admin's limits, ``flood`` ones
for the flood limit. Attempts are counted, so a rejected or held message counts too (a pumping run
stays blocked for the rest of the window); counting is once per message id, so a redelivery adds
nothing.

Once a processor has seen a counter over its threshold it stops adding to it for the rest of that
window (counters only grow, so the counter stays over) and judges later messages without a write:
a flood costs a write per message only until the processors see it blocked, and its counter, the
hottest item during an attack, goes quiet. Such a counter then reads "over the threshold" rather
than the number of attempts. A changed threshold is a new judgement (counted again).

The limits are read through the entity store's ``FRAUDLIMIT`` listing and cached for
``rules_cache_s`` (a warm processor checks thousands of messages per read); a change reaches every
processor within that time. Platform, operator and short-number counters spread over
``counter_hot_shards`` items. A counters failure raises (the queue redelivers the message, and the
counting is idempotent): a message is never let through unchecked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.fraud_limits import LISTING, FloodLimits, FraudLimit, all_counted
from smsbilling.domain.traffic import Action, ControlName, Finding, MessageFacts, window_end, window_start
from smsbilling.logic.traffic_control import ControlResult, CounterHit, TrafficCounters
from smsbilling.settings import TrafficLimits

_PAGE = 200
OVER_REMEMBERED_MAX = 10_000
"""Counters a processor remembers as over their thresholds (the ones whose window ended go first)."""


class LimitListing(Protocol):
    """The entities table's generic listing (DynamoEntityStore, MemoryEntityStore)."""

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]: ...


def enabled_limits(listing: LimitListing) -> list[FraudLimit]:
    """Every enabled fraud limit, by id."""
    found: list[FraudLimit] = []
    cursor: str | None = None
    while True:
        page, cursor = listing.page(FraudLimit, LISTING, limit=_PAGE, cursor=cursor)
        found.extend(limit for limit in page if limit.enabled)
        if cursor is None:
            return found


def flood_limits(settings: TrafficLimits) -> FloodLimits:
    return FloodLimits(
        per_minute_max=settings.mo_per_subscriber_per_minute_max,
        per_hour_max=settings.mo_per_subscriber_per_hour_max,
        action=Action(settings.mo_flood_action),
    )


class FraudLimitControl:
    """Fraud limits (``fraud_limit`` findings) and the MO flood limit (``flood`` findings)."""

    name = ControlName.FRAUD_LIMIT

    def __init__(
        self,
        listing: LimitListing,
        counters: TrafficCounters,
        settings: Callable[[], TrafficLimits],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``settings``: the effective traffic limits now (logic/traffic_defaults.py: the admin's)."""
        self._listing = listing
        self._counters = counters
        self._settings = settings
        self._clock = clock
        self._cached: tuple[float, list[FraudLimit]] | None = None
        self._over: dict[tuple[str, str, int, int], int] = {}  # (key, window, start, threshold) -> end

    def limits(self) -> list[FraudLimit]:
        """The enabled limits, read at most once per ``rules_cache_s``."""
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= self._settings().rules_cache_s:
            self._cached = (now, enabled_limits(self._listing))
        return self._cached[1]

    def check(self, facts: MessageFacts) -> ControlResult:
        settings = self._settings()
        counted = all_counted(
            self.limits(),
            flood_limits(settings),
            facts,
            range_suffix_digits=settings.number_range_suffix_digits,
        )
        if not counted:
            return ControlResult()
        at_s = facts.at_s
        marks = [(c.key, c.window.value, window_start(c.window, at_s), c.threshold) for c in counted]
        # A counter seen over its threshold stays over for its window: judged, not counted again.
        totals = {n: one.threshold + 1 for n, one in enumerate(counted) if marks[n] in self._over}
        todo = [n for n in range(len(counted)) if n not in totals]
        if todo:
            shards = settings.counter_hot_shards
            hits = [
                CounterHit(c.key, c.window, c.amount, shards if c.hot else 1)
                for c in (counted[n] for n in todo)
            ]
            for n, total in zip(todo, self._counters.count(facts.message_id, hits, at_s=at_s), strict=True):
                totals[n] = total
                if total > counted[n].threshold:
                    self._remember_over(marks[n], window_end(counted[n].window, at_s), at_s)
        findings: list[Finding] = []
        for n, one in enumerate(counted):
            finding = one.finding(totals[n])
            if finding is not None:
                findings.append(finding)
        return ControlResult(findings=tuple(findings))

    def _remember_over(self, mark: tuple[str, str, int, int], ends_s: int, now_s: int) -> None:
        if len(self._over) >= OVER_REMEMBERED_MAX:
            self._over = {seen: ends for seen, ends in self._over.items() if ends > now_s}
            if len(self._over) >= OVER_REMEMBERED_MAX:
                self._over.clear()
        self._over[mark] = ends_s


__all__ = ["FraudLimitControl", "LimitListing", "enabled_limits", "flood_limits"]
