"""Allowed destination countries and premium ranges (docs/traffic/rate-limits-and-countries.md).

:class:`CountryControl` is the traffic guard's control for MTs (slot 2, after duplicates): the
destination's country calling code must be one the partner may send to
(``PartnerTrafficSettings.allowed_countries``; none set: the countries of the platform's
operators), and a destination in an admin-listed :class:`~smsbilling.domain.countries.PremiumRange`
is refused unless the partner's ``premium_ranges_allowed`` covers it (deny by default). Both are
``reject`` findings whose reason names the country or the range. MOs are not its business (their
subscriber is an operator's by definition).

The partner API checks the same rules, through its own cache, before it reserves anything
(logic/api_send.py ``send_rules``), so the
partner hears of a refused destination at once; the control still guards everything else that
makes an MT (SMPP submits, replies, OTP, subscriptions).

Rules are read through :class:`DestinationRulesCache` (``traffic.rules_cache_s``): the MT processor
does not read the operators and every premium range per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from smsbilling.domain.countries import (
    DestinationRefusal,
    PremiumRange,
    allowed_countries,
    destination_refusal,
)
from smsbilling.domain.entities import Entity, Operator
from smsbilling.domain.traffic import (
    Action,
    ControlName,
    Direction,
    Finding,
    MessageFacts,
)
from smsbilling.logic.traffic_control import ControlResult
from smsbilling.logic.traffic_defaults import PartnerSettingsCache

PREMIUM_LISTING: Final = "PREMIUM"
_PAGE: Final = 500


class CountryEntities(Protocol):
    """The entities table as the rules read it (DynamoEntityStore, MemoryEntityStore)."""

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def operators(self) -> list[Operator]: ...

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]: ...


def premium_ranges(entities: CountryEntities) -> tuple[PremiumRange, ...]:
    """Every premium range the admin listed, by prefix."""
    found: list[PremiumRange] = []
    cursor: str | None = None
    while True:
        page, cursor = entities.page(PremiumRange, PREMIUM_LISTING, limit=_PAGE, cursor=cursor)
        found.extend(page)
        if cursor is None:
            return tuple(found)


@dataclass(frozen=True, slots=True)
class DestinationRules:
    """What one partner's MTs may go to."""

    countries: frozenset[str]
    premium: tuple[PremiumRange, ...]
    premium_allowed: tuple[str, ...] = ()

    def refusal(self, msisdn: str) -> DestinationRefusal | None:
        return destination_refusal(
            msisdn,
            countries=self.countries,
            premium_ranges=self.premium,
            premium_allowed=self.premium_allowed,
        )


@dataclass
class DestinationRulesCache:
    """The rules for a partner (None: the platform's defaults), kept for ``ttl_s`` (the platform's
    part and each partner's; 0: read every time)."""

    entities: CountryEntities
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    partners: PartnerSettingsCache | None = None  # None: one of its own (the guard shares one)
    _platform: tuple[float, list[Operator], tuple[PremiumRange, ...]] | None = None

    def __post_init__(self) -> None:
        if self.partners is None:
            self.partners = PartnerSettingsCache(self.entities, self.ttl_s, self.clock)

    def rules(self, partner_id: str | None) -> DestinationRules:
        now = self.clock()
        if self._platform is None or now - self._platform[0] >= self.ttl_s:
            self._platform = (now, self.entities.operators(), premium_ranges(self.entities))
        _, operators, premium = self._platform
        settings = None if partner_id is None or self.partners is None else self.partners.get(partner_id)
        return DestinationRules(
            countries=allowed_countries(settings, operators),
            premium=premium,
            premium_allowed=() if settings is None else settings.premium_ranges_allowed,
        )


class CountryControl:
    """The traffic guard's country and premium-range control (MTs only)."""

    name = ControlName.COUNTRY

    def __init__(self, rules: DestinationRulesCache) -> None:
        self._rules = rules

    def check(self, facts: MessageFacts) -> ControlResult:
        if facts.direction is not Direction.MT:
            return ControlResult()
        refusal = self._rules.rules(facts.partner_id).refusal(facts.msisdn)
        if refusal is None:
            return ControlResult()
        finding = Finding(self.name, f"{refusal.kind.value}.{refusal.rule_id}", Action.REJECT, refusal.reason)
        return ControlResult(findings=(finding,))


__all__ = [
    "CountryControl",
    "CountryEntities",
    "DestinationRules",
    "DestinationRulesCache",
    "premium_ranges",
]
