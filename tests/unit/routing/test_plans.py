"""Tariff plans in the entities table: stored form round trip, owner indexes, picking, caching."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.money import MicroMoney
from smsbilling.domain.tariff import TariffError
from smsbilling.domain.tariff_records import TariffPlanIndex, TariffPlanRecord
from smsbilling.logic.plans import EntityPlanSource, store_plan
from tests.unit.billing.plans import COUNT_SCALE, INCOME_SCALE, plan
from tests.unit.routing.world import PLAN


@pytest.mark.parametrize("scale", [COUNT_SCALE, INCOME_SCALE])
def test_stored_form_round_trips(scale) -> None:  # type: ignore[no-untyped-def]
    original = plan(scale, partner_id="p1", start_ms=5, end_ms=10)
    assert TariffPlanRecord.from_plan(original).to_plan() == original
    assert original.outgoing[("op1", "direct")] == MicroMoney(350_000, "RUB")


def test_partner_plan_wins_over_the_common_one_while_in_force() -> None:
    entities = MemoryEntityStore()
    store_plan(entities, plan(plan_id="common"))
    store_plan(entities, plan(plan_id="own", partner_id="p1", start_ms=100, end_ms=200))
    store_plan(entities, plan(plan_id="own", partner_id="p1", start_ms=100, end_ms=200))  # idempotent
    source = EntityPlanSource(entities, cache_s=0)
    assert source.plan_for("p1", 150).plan_id == "own"
    assert source.plan_for("p1", 250).plan_id == "common"
    assert source.plan_for("p2", 150).plan_id == "common"
    assert entities.get(TariffPlanIndex, "p1").plan_ids == ("own",)  # type: ignore[union-attr]


def test_no_plan_is_a_tariff_error() -> None:
    with pytest.raises(TariffError):
        EntityPlanSource(MemoryEntityStore()).plan_for("p1", 0)


def test_plans_are_cached_for_cache_s() -> None:
    entities = MemoryEntityStore()
    store_plan(entities, PLAN)
    now = [0.0]
    source = EntityPlanSource(entities, cache_s=60, clock=lambda: now[0])
    assert source.plan_for("p1", 0).plan_id == "plan-1"
    store_plan(entities, replace(PLAN, plan_id="plan-2", effective_from_ms=1))
    now[0] = 59.0
    assert source.plan_for("p1", 5).plan_id == "plan-1"
    now[0] = 60.0
    assert source.plan_for("p1", 5).plan_id == "plan-2"


def test_an_inconsistent_stored_plan_does_not_load() -> None:
    record = TariffPlanRecord.from_plan(PLAN).model_copy(
        update={"effective_to_ms": 0, "effective_from_ms": 10}
    )
    with pytest.raises(TariffError):
        record.to_plan()
