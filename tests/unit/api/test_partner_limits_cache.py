"""logic/partner_limits.py: each partner's request limits, read at most once per ``ttl_s``."""

from __future__ import annotations

from typing import Any

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.send_limits import PartnerSendLimits, Rates
from smsbilling.logic import entity_cache
from smsbilling.logic.partner_limits import PartnerLimitsCache
from smsbilling.settings import ApiLimits

DEFAULTS = ApiLimits(partner_requests_per_s_max=100, partner_requests_per_min_max=3000)
DEFAULT_RATES = Rates(per_s_max=100, per_min_max=3000)


class Entities(MemoryEntityStore):
    """The memory store, counting reads and failing them on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.down = False

    def get(self, model: type[Any], entity_id: str) -> Any:
        self.reads += 1
        if self.down:
            raise ConnectionError("entities table unreachable")
        return super().get(model, entity_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[Entities, Clock, PartnerLimitsCache]:
    entities, clock = Entities(), Clock()
    return entities, clock, PartnerLimitsCache(entities, ttl_s=30, clock=clock)


def test_a_partners_own_limits_replace_the_defaults_field_by_field() -> None:
    entities, _, cache = make()
    entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=5, messages_per_s_max=1))
    entities.put(PartnerSendLimits(partner_id="p2", requests_per_min_max=60))
    assert cache.request_rates("p1", DEFAULTS) == Rates(per_s_max=5, per_min_max=3000)
    assert cache.request_rates("p2", DEFAULTS) == Rates(per_s_max=100, per_min_max=60)
    assert cache.request_rates("p3", DEFAULTS) == DEFAULT_RATES


def test_read_once_per_ttl_per_partner_including_the_absence_of_limits() -> None:
    entities, clock, cache = make()
    for _ in range(50):
        cache.request_rates("p1", DEFAULTS)
        cache.request_rates("p2", DEFAULTS)
    assert entities.reads == 2
    entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=5))
    clock.now += 29.9
    assert cache.request_rates("p1", DEFAULTS) == DEFAULT_RATES and entities.reads == 2
    clock.now += 0.1
    assert cache.request_rates("p1", DEFAULTS).per_s_max == 5 and entities.reads == 3


def test_an_unreachable_table_keeps_the_last_limits_read_else_the_defaults() -> None:
    entities, clock, cache = make()
    entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=5))
    assert cache.request_rates("p1", DEFAULTS).per_s_max == 5
    entities.down = True
    clock.now += 30
    assert cache.request_rates("p1", DEFAULTS).per_s_max == 5  # stale, not lifted to the default
    assert cache.request_rates("p1", DEFAULTS).per_s_max == 5 and entities.reads == 2  # kept another ttl
    assert cache.request_rates("p2", DEFAULTS) == DEFAULT_RATES  # never read: the defaults
    assert cache.request_rates("p2", DEFAULTS) == DEFAULT_RATES and entities.reads == 4  # tried again
    entities.down = False
    entities.put(PartnerSendLimits(partner_id="p2", requests_per_s_max=7))
    assert cache.request_rates("p2", DEFAULTS).per_s_max == 7


def test_the_cache_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(entity_cache, "_CACHED_MAX", 3)
    entities, _, cache = make()
    for partner in ("p1", "p2", "p3", "p1"):
        cache.request_rates(partner, DEFAULTS)
    assert entities.reads == 3
    cache.request_rates("p4", DEFAULTS)  # full: emptied, then p4 kept
    cache.request_rates("p4", DEFAULTS)
    cache.request_rates("p1", DEFAULTS)
    assert entities.reads == 5
