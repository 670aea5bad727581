"""HLR lookup ("predictive dialing"): is the subscriber reachable, asked before an MT is sent.

:class:`HlrControl` is the traffic guard's last control (a lookup is paid; the first reject of a
cheaper control spares it). For an MT of a partner whose switch is on
(:class:`~smsbilling.domain.traffic.PartnerTrafficSettings` ``hlr_check``) it asks the
:class:`HlrProvider` through the :class:`HlrCache`:

============================  ================================================================
answer                        what the control says
============================  ================================================================
reachable                     nothing: the MT goes on
unreachable                   ``reject``: the MT ends rejected, never sent, never charged (a
                              credit reservation is refunded by the existing settlement)
unknown: absent subscriber    nothing (fail open): the handset is off, the SMSC keeps the SMS
                              within its validity (``hlr_absent_is_unreachable`` rejects it)
unknown: the provider failed  nothing (fail open), counted and logged; after
                              ``hlr_failures_in_row_max`` failures in a row an ``alert``
                              finding on each MT (folded into one alert record per hour) and
                              no lookups for ``hlr_pause_s``, so a dead provider neither goes
                              unnoticed nor adds its timeout to every MT
no provider configured        ``alert`` (AWS without ``hlr_url``): never a silent no-op
============================  ================================================================

Not looked up: MOs, MTs without a partner, and the purposes in ``hlr_skip_purposes`` (replies
answer an MO the subscriber has just sent, which proves the handset is on the network; notices
and the operator's default reply are not the partner's paid traffic). Answers are cached per
MSISDN for all partners (a subscriber's reachability is not a partner's secret): reachable and
unreachable for different times; provider failures are never cached.

Store errors (the switch, the cache) propagate: the MT processor retries the record. A provider
must not raise; if one does, it counts as a provider failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.traffic import (
    Action,
    ControlName,
    Direction,
    Finding,
    MessageFacts,
)
from smsbilling.logic.traffic_control import ControlResult
from smsbilling.logic.traffic_defaults import PartnerSettingsCache
from smsbilling.settings import TrafficLimits

logger = logging.getLogger(__name__)

ERROR_CHARS_MAX: Final = 100
RULE_UNREACHABLE: Final = "unreachable"
RULE_PROVIDER_FAILING: Final = "provider_failing"
RULE_NOT_CONFIGURED: Final = "not_configured"


class HlrStatus(StrEnum):
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"  # not assigned, invalid, barred: an SMS cannot reach it
    UNKNOWN = "unknown"  # absent subscriber, undetermined, or the provider failed


@dataclass(frozen=True, slots=True)
class HlrResult:
    """One lookup's answer. ``error`` says why it is not ``reachable`` (no secrets in it)."""

    status: HlrStatus
    network: str | None = None  # MCC + MNC of the network serving the number
    ported: bool | None = None
    error: str = ""
    absent: bool = False  # UNKNOWN because the handset is off or out of coverage
    provider_failed: bool = False  # UNKNOWN because no usable answer came (never cached)

    @staticmethod
    def failed(error: str) -> HlrResult:
        return HlrResult(HlrStatus.UNKNOWN, error=clean_error(error), provider_failed=True)


def clean_error(text: str) -> str:
    """Printable, one line, at most :data:`ERROR_CHARS_MAX` characters."""
    return "".join(c if c.isprintable() else " " for c in text)[:ERROR_CHARS_MAX]


class HlrProvider(Protocol):
    """Implementations: adapters.http_hlr (a JSON HLR API), adapters.simulated_hlr (local)."""

    def lookup(self, msisdn: str) -> HlrResult:
        """The answer for ``msisdn`` (E.164 digits); never raises: a failure is ``HlrResult.failed``."""
        ...


class HlrCache(Protocol):
    """Answers by MSISDN with a time to live. Implementations: adapters.memory_hlr_cache,
    adapters.dynamodb_hlr_cache; one suite: tests/contract/test_hlr_cache_contract.py."""

    def get(self, msisdn: str, *, now_s: int) -> HlrResult | None:
        """The answer kept for ``msisdn``, or None (never kept, or expired by ``now_s``)."""
        ...

    def put(self, msisdn: str, result: HlrResult, *, now_s: int, ttl_s: int) -> None:
        """Keep ``result`` until ``now_s + ttl_s`` (replacing what was kept)."""
        ...


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


def cache_ttl_s(result: HlrResult, limits: TrafficLimits) -> int:
    """How long to keep ``result``: 0 (not at all) for a provider failure."""
    if result.provider_failed:
        return 0
    if result.status is HlrStatus.REACHABLE:
        return limits.hlr_reachable_cache_s
    if result.status is HlrStatus.UNREACHABLE:
        return limits.hlr_unreachable_cache_s
    return limits.hlr_unknown_cache_s


def unreachable_reason(result: HlrResult) -> str:
    """The reason shown on a rejected MT (the verdict adds ``hlr: `` before it)."""
    return f"subscriber unreachable ({result.error or 'HLR'})"


class HlrControl:
    """The HLR check as a :class:`~smsbilling.logic.traffic_control.TrafficControl` (MTs only).

    ``provider`` None: none is configured (see adapters.hlr); partners with the switch on get an
    alert finding instead of a check. ``stats`` counts what happened in this process.
    """

    name: ControlName = ControlName.HLR

    def __init__(
        self,
        provider: HlrProvider | None,
        cache: HlrCache,
        entities: EntityReader,
        limits: TrafficLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        partners: PartnerSettingsCache | None = None,
    ) -> None:
        """``partners``: the partners' settings (the guard shares one cache); None: one of its own."""
        self._provider = provider
        self._cache = cache
        self._limits = limits
        self._clock = clock
        self._wall_clock = wall_clock
        self._skip = frozenset(limits.hlr_skip_purposes)
        self._partners = (
            PartnerSettingsCache(entities, limits.rules_cache_s, clock) if partners is None else partners
        )
        self._lock = threading.Lock()
        self._failures_in_row = 0
        self._paused_until = 0.0
        self.stats: Counter[str] = Counter()

    def check(self, facts: MessageFacts) -> ControlResult:
        if facts.direction is not Direction.MT or facts.partner_id is None or facts.purpose in self._skip:
            return ControlResult()
        if not self._switched_on(facts.partner_id):
            return ControlResult()
        if self._provider is None:
            self.stats["not_configured"] += 1
            return _alert(RULE_NOT_CONFIGURED, "no HLR provider configured: not checked")
        result = self._answer(self._provider, facts.msisdn)
        absent_refused = result.absent and self._limits.hlr_absent_is_unreachable
        if result.status is HlrStatus.UNREACHABLE or absent_refused:
            self.stats["unreachable"] += 1
            reason = unreachable_reason(result)
            return ControlResult((Finding(self.name, RULE_UNREACHABLE, Action.REJECT, reason),))
        if result.status is HlrStatus.UNKNOWN:
            self.stats["unknown"] += 1
            logger.info("HLR unknown for %s: %s (sent anyway)", facts.message_id, result.error)
        if result.provider_failed and self._failing():
            return _alert(RULE_PROVIDER_FAILING, f"HLR provider failing ({result.error}): not checked")
        return ControlResult()

    def _switched_on(self, partner_id: str) -> bool:
        stored = self._partners.get(partner_id)
        return stored is not None and stored.hlr_check

    def _answer(self, provider: HlrProvider, msisdn: str) -> HlrResult:
        now_s = int(self._wall_clock())
        kept = self._cache.get(msisdn, now_s=now_s)
        if kept is not None:
            self.stats["cache_hits"] += 1
            return kept
        if self._clock() < self._paused_until:
            self.stats["paused"] += 1
            return HlrResult.failed("lookups paused after provider failures")
        self.stats["lookups"] += 1
        try:
            result = provider.lookup(msisdn)
        except Exception as error:  # a provider must not raise; the check fails open if one does
            result = HlrResult.failed(f"provider raised {type(error).__name__}")
        self._count(result)
        ttl_s = cache_ttl_s(result, self._limits)
        if ttl_s > 0:
            self._cache.put(msisdn, result, now_s=now_s, ttl_s=ttl_s)
        return result

    def _count(self, result: HlrResult) -> None:
        with self._lock:
            if not result.provider_failed:
                self._failures_in_row = 0
                return
            self.stats["provider_failures"] += 1
            self._failures_in_row += 1
            logger.warning("HLR provider failed (%d in a row): %s", self._failures_in_row, result.error)
            if self._failures_in_row >= self._limits.hlr_failures_in_row_max:
                self._paused_until = self._clock() + self._limits.hlr_pause_s

    def _failing(self) -> bool:
        with self._lock:
            return self._failures_in_row >= self._limits.hlr_failures_in_row_max


def _alert(rule_id: str, reason: str) -> ControlResult:
    return ControlResult((Finding(ControlName.HLR, rule_id, Action.ALERT, reason),))


__all__ = [
    "HlrCache",
    "HlrControl",
    "HlrProvider",
    "HlrResult",
    "HlrStatus",
    "cache_ttl_s",
    "clean_error",
    "unreachable_reason",
]
