"""The platform's traffic-control defaults, set by the admin over the settings (docs/traffic-control.md).

The settings group ``traffic`` (environment) gives every default; the admin may override the ones
an operator tunes while traffic runs — the MO flood limit, the duplicate window and action, the
purposes checked for duplicates — with one stored :class:`TrafficDefaults` entity. The controls
read the effective values through :class:`LiveTrafficLimits`, at most once per ``rules_cache_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.traffic import PartnerTrafficSettings, TrafficDefaults, TrafficOverrides
from smsbilling.logic.admin_common import AdminCall, AdminStore, record
from smsbilling.logic.entity_cache import EntityCache
from smsbilling.settings import TrafficLimits


def effective(base: TrafficLimits, stored: TrafficDefaults | None) -> TrafficLimits:
    """``base`` with the stored overrides applied."""
    if stored is None:
        return base
    return base.model_copy(update=stored.overrides.model_dump(exclude_none=True))


class DefaultsReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class LiveTrafficLimits:
    """The effective traffic limits, re-read from the entities at most once per ``rules_cache_s``."""

    def __init__(
        self, entities: DefaultsReader, base: TrafficLimits, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entities = entities
        self._base = base
        self._clock = clock
        self._cached: tuple[float, TrafficLimits] | None = None

    def __call__(self) -> TrafficLimits:
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= self._base.rules_cache_s:
            self._cached = (now, effective(self._base, self._entities.get(TrafficDefaults, "default")))
        return self._cached[1]


def set_overrides(store: AdminStore, call: AdminCall, overrides: TrafficOverrides) -> TrafficDefaults:
    """Replace the admin's overrides (None fields go back to the settings' values); audited."""
    defaults = TrafficDefaults(overrides=overrides)
    store.put(defaults)
    changes: dict[str, Any] = overrides.model_dump(mode="json")
    record(store, call, "traffic_defaults.set", defaults, changes)
    return defaults


class PartnerSettingsCache(EntityCache[PartnerTrafficSettings]):
    """Each partner's :class:`PartnerTrafficSettings` (or None), read at most once per ``ttl_s``.

    The guard keeps one, shared by the controls that read the settings (countries, HLR).
    """

    def __init__(
        self, entities: DefaultsReader, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(entities, PartnerTrafficSettings, ttl_s, clock)


__all__ = ["DefaultsReader", "LiveTrafficLimits", "PartnerSettingsCache", "effective", "set_overrides"]
