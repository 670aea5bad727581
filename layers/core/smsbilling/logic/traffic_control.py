"""The traffic guard: every control over one message, once, before it is charged or sent.

The MO processor asks after routing (the partner and service are known, nothing is charged yet);
the MT processor asks when it creates the MT record. Controls (:class:`TrafficControl`) run in the
order given, the cheapest and most decisive first; the first ``reject`` ends the run (a later
control, such as a paid HLR lookup, is not asked). Every finding raises an alert through the
:class:`AlertSink` (which folds repeats into one record per rule and hour).

Idempotency: a redelivered message is checked again. Controls that count do so once per message id
(:class:`TrafficCounters`), so the second check sees the same totals plus whatever others added in
between; the processors write the verdict with the message's decision, and a decided message is
never checked again. A held message, once an admin decides (:class:`~smsbilling.domain.traffic.
HeldMessage`), is not checked again either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from smsbilling.domain.traffic import (
    Action,
    AlertEvent,
    ControlName,
    Finding,
    MessageFacts,
    Verdict,
    Window,
)


@dataclass(frozen=True, slots=True)
class CounterHit:
    """Add ``amount`` to counter ``key`` in the UTC ``window`` holding the message's time.

    ``shards`` > 1 spreads a hot counter (a whole operator at 1,000 messages/s) over that many
    items; the total returned is still the whole window's.
    """

    key: str
    window: Window
    amount: int = 1
    shards: int = 1


def counter_ids(hits: Sequence[CounterHit]) -> list[str]:
    """Each hit's identity within a message (``window:key``); refuses what no counter can take."""
    ids: list[str] = []
    for hit in hits:
        if hit.amount < 0:
            raise ValueError(f"counter {hit.key}: amounts only add (got {hit.amount})")
        if hit.shards < 1:
            raise ValueError(f"counter {hit.key}: shards must be at least 1")
        if not hit.key:
            raise ValueError("a counter needs a key")
        ids.append(f"{hit.window.value}:{hit.key}")
    if len(set(ids)) != len(ids):
        raise ValueError("the same counter twice in one count")
    return ids


class TrafficCounters(Protocol):
    """Windowed counters (counters table). Implementations: adapters.memory_traffic_counters,
    adapters.dynamodb_traffic_counters; one suite: tests/contract/test_traffic_counters_contract.py."""

    def count(self, message_id: str, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        """Add every hit, once per ``message_id`` (the same id again adds nothing), atomically.

        Returns each counter's total in its current window after the add, in order.
        """
        ...

    def totals(self, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        """Each counter's total in its current window (nothing added; ``amount`` is ignored)."""
        ...


class AlertSink(Protocol):
    """Where alerts go: an alert record per key (repeats counted) and, for a new one, staff are told."""

    def raise_alert(self, event: AlertEvent) -> None: ...


@dataclass(frozen=True, slots=True)
class ControlResult:
    findings: tuple[Finding, ...] = ()
    risk_score: int | None = None


class TrafficControl(Protocol):
    """One control. ``check`` must not raise for a message it has nothing to say about."""

    name: ControlName

    def check(self, facts: MessageFacts) -> ControlResult: ...


def _ignore(facts: MessageFacts, verdict: Verdict) -> None:
    return None


@dataclass(frozen=True)
class TrafficGuard:
    controls: Sequence[TrafficControl]
    alerts: AlertSink
    exempt_purposes: frozenset[str] = field(default_factory=frozenset)
    observe: Callable[[MessageFacts, Verdict], None] = _ignore
    """Told every verdict of a checked message (the deployed guard counts them as metrics)."""

    def check(self, facts: MessageFacts) -> Verdict:
        """Run the controls over ``facts``; alerts are raised for every finding."""
        if facts.purpose is not None and facts.purpose in self.exempt_purposes:
            return Verdict()
        findings: list[Finding] = []
        score: int | None = None
        for control in self.controls:
            result = control.check(facts)
            findings.extend(result.findings)
            if result.risk_score is not None:
                score = result.risk_score
            if any(finding.action is Action.REJECT for finding in result.findings):
                break
        for finding in findings:
            self.alerts.raise_alert(AlertEvent.of(finding, facts))
        verdict = Verdict(tuple(findings), score)
        self.observe(facts, verdict)
        return verdict


class DiscardAlerts:
    def raise_alert(self, event: AlertEvent) -> None:
        return None


NO_GUARD = TrafficGuard(controls=(), alerts=DiscardAlerts())
"""A guard without controls (tests and tools that do not exercise traffic control)."""


__all__ = [
    "NO_GUARD",
    "AlertSink",
    "ControlResult",
    "CounterHit",
    "DiscardAlerts",
    "TrafficControl",
    "TrafficCounters",
    "TrafficGuard",
    "counter_ids",
]
