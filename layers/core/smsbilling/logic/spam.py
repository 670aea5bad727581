"""Anti-spam: the traffic control that reads outgoing texts against the admin's rules.

MTs only: an MO is the subscriber's own text, which the platform carries to the partner whatever
it says. For an MT, the platform-wide rules (scope ``*``) and those of the MT's partner are
matched (domain/spam.py), and every enabled rule that matches gives one :class:`Finding` with the
rule's action and a reason naming the rule and what it matched ("matched word rule r12 "free
prize" (as "fr3e pr1ze")"); the guard lets the most severe one decide.

Rules are read from the entities table per scope and kept for ``rules_cache_s`` in the process, so
a busy MT processor reads them twice a minute, not per message; an admin's change takes effect
within that time. A stored rule whose pattern no longer compiles (written by hand, or under
older limits) is skipped and logged, never a reason to fail a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.spam import (
    DEFAULT_LIMITS,
    GLOBAL_SCOPE,
    CompiledRules,
    SpamLimits,
    SpamRule,
    compile_rules,
    listing_key,
    matching,
)
from smsbilling.domain.traffic import ControlName, Direction, Finding, MessageFacts
from smsbilling.logic.traffic_control import ControlResult
from smsbilling.settings import TrafficLimits

logger = logging.getLogger(__name__)

_PAGE_SIZE = 200


class SpamRuleStore(Protocol):
    """The entities table's generic listing (DynamoEntityStore, MemoryEntityStore)."""

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]: ...


def spam_limits(traffic: TrafficLimits) -> SpamLimits:
    return SpamLimits(
        pattern_chars_max=traffic.spam_pattern_chars_max,
        regex_states_max=traffic.spam_regex_states_max,
        text_chars_max=traffic.spam_text_chars_max,
    )


def load_rules(store: SpamRuleStore, scope: str, *, rules_max: int) -> list[SpamRule]:
    """A scope's rules by rule id (at most ``rules_max``: more are left out, and logged)."""
    gsi1pk, prefix = listing_key(scope)
    rules: list[SpamRule] = []
    cursor: str | None = None
    while True:
        found, cursor = store.page(
            SpamRule, gsi1pk, prefix, limit=min(_PAGE_SIZE, rules_max - len(rules) + 1), cursor=cursor
        )
        rules.extend(found)
        if cursor is None or len(rules) > rules_max:
            break
    if len(rules) > rules_max:
        logger.warning("spam rules over the limit left out", extra={"scope": scope, "rules_max": rules_max})
    return rules[:rules_max]


@dataclass
class _Cached:
    loaded_at: float
    compiled: CompiledRules


class SpamControl:
    """The anti-spam traffic control (see the module docstring)."""

    name: ControlName = ControlName.SPAM

    def __init__(
        self,
        store: SpamRuleStore,
        *,
        cache_s: float,
        limits: SpamLimits = DEFAULT_LIMITS,
        rules_max: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_s = cache_s
        self._limits = limits
        self._rules_max = rules_max
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    @classmethod
    def from_settings(cls, store: SpamRuleStore, traffic: TrafficLimits) -> SpamControl:
        return cls(
            store,
            cache_s=traffic.rules_cache_s,
            limits=spam_limits(traffic),
            rules_max=traffic.spam_rules_max,
        )

    def rules(self, scope: str) -> CompiledRules:
        """A scope's rules with their matchers, read and compiled again once the cached copy is
        ``cache_s`` old (a rule that no longer compiles is reported then, and left out)."""
        now = self._clock()
        cached = self._cache.get(scope)
        if cached is None or now - cached.loaded_at >= self._cache_s:
            compiled = compile_rules(load_rules(self._store, scope, rules_max=self._rules_max), self._limits)
            for rule in compiled.broken:
                logger.warning(
                    "spam rule skipped: its pattern does not compile", extra={"rule_id": rule.rule_id}
                )
            cached = _Cached(now, compiled)
            self._cache[scope] = cached
        return cached.compiled

    def check(self, facts: MessageFacts) -> ControlResult:
        if facts.direction is not Direction.MT or not facts.text:
            return ControlResult()
        compiled = [self.rules(GLOBAL_SCOPE)]
        if facts.partner_id is not None and facts.partner_id != GLOBAL_SCOPE:
            compiled.append(self.rules(facts.partner_id))
        matches = matching(facts.text, *compiled, limits=self._limits)
        return ControlResult(
            findings=tuple(
                Finding(ControlName.SPAM, match.rule.rule_id, match.rule.action, match.reason())
                for match in matches
            )
        )


__all__ = ["SpamControl", "SpamRuleStore", "load_rules", "spam_limits"]
