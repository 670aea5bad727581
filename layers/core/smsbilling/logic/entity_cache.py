"""One entity per id, kept in the process for ``ttl_s``: what a warm function reads about a partner.

The partner API's request and message limits (:class:`~smsbilling.domain.send_limits.PartnerSendLimits`)
and the traffic guard's per-partner settings (:class:`~smsbilling.domain.traffic.PartnerTrafficSettings`)
are read through one of these, so a partner's item is read about once per ``ttl_s`` per function,
not per message; an admin's change reaches every function within that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from smsbilling.domain.entities import Entity

logger = logging.getLogger(__name__)

_CACHED_MAX: Final = 10_000


class EntityReader(Protocol):
    """The entities table as the cache reads it (DynamoEntityStore, MemoryEntityStore)."""

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


@dataclass
class EntityCache[E: Entity]:
    """Each id's stored ``model`` (or None), read at most once per ``ttl_s`` (0: every time).

    ``keep_on_error``: when a read fails, the last one read keeps serving (for another ``ttl_s``),
    with none read yet None does; otherwise the error goes to the caller.
    """

    entities: EntityReader
    model: type[E]
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    keep_on_error: bool = False
    _items: dict[str, tuple[float, E | None]] = field(default_factory=dict)

    def get(self, entity_id: str) -> E | None:
        now = self.clock()
        cached = self._items.get(entity_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            found = self.entities.get(self.model, entity_id)
        except Exception as error:
            if not self.keep_on_error:
                raise
            logger.warning(
                "entity not read; the last one read serves",
                extra={"model": self.model.__name__, "id": entity_id, "error": type(error).__name__},
            )
            if cached is None:
                return None
            found = cached[1]
        if len(self._items) >= _CACHED_MAX and entity_id not in self._items:
            self._items.clear()
        self._items[entity_id] = (now, found)
        return found


__all__ = ["EntityCache", "EntityReader"]
