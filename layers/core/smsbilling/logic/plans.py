"""Tariff plans from the entities table (see :mod:`smsbilling.domain.tariff_records`).

:class:`EntityPlanSource` is the :class:`~smsbilling.logic.charging.PlanSource` of the functions:
it reads a partner's index and the common index, loads the plans listed and caches the book per
partner for ``cache_s`` seconds (a warm Lambda rates many messages of one partner; a plan change
reaches it within that time, and a plan is never changed retroactively: a new one starts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.tariff import PlanBook, TariffPlan
from smsbilling.domain.tariff_records import COMMON_OWNER, TariffPlanIndex, TariffPlanRecord, index_with


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class EntityWriter(EntityReader, Protocol):
    def put(self, entity: Entity) -> None: ...


def store_plan(entities: EntityWriter, plan: TariffPlan) -> None:
    """Store ``plan`` and list it in its owner's index (idempotent).

    The plan is written before the index, so a reader never finds an id it cannot load. Two
    admins adding plans for one owner at the same instant could lose an index entry; admin
    writes are rare and re-running this repairs it.
    """
    record = TariffPlanRecord.from_plan(plan)
    record.to_plan()  # refuse what would not load again
    entities.put(record)
    entities.put(index_with(entities.get(TariffPlanIndex, record.owner), record))


class EntityPlanSource:
    def __init__(
        self, entities: EntityReader, *, cache_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entities = entities
        self._cache_s = cache_s
        self._clock = clock
        self._books: dict[str, tuple[float, PlanBook]] = {}

    def plan_for(self, partner_id: str, at_ms: int) -> TariffPlan:
        return self._book(partner_id).plan_for(partner_id, at_ms)

    def _book(self, partner_id: str) -> PlanBook:
        now = self._clock()
        cached = self._books.get(partner_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        plans: list[TariffPlan] = []
        for owner in (partner_id, COMMON_OWNER):
            index = self._entities.get(TariffPlanIndex, owner)
            for plan_id in () if index is None else index.plan_ids:
                record = self._entities.get(TariffPlanRecord, plan_id)
                if record is not None and record.owner == owner:
                    plans.append(record.to_plan())
        book = PlanBook(plans)
        self._books[partner_id] = (now, book)
        return book
