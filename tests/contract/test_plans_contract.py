"""Tariff plans through both entity stores: the stored form survives DynamoDB's attribute types."""

from __future__ import annotations

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.logic.plans import EntityPlanSource, EntityWriter, store_plan
from tests.contract.stores import KINDS, dynamodb_client, fresh_table
from tests.unit.billing.plans import INCOME_SCALE, plan


@pytest.fixture(params=KINDS)
def entities(request: pytest.FixtureRequest) -> EntityWriter:
    if request.param == "memory":
        return MemoryEntityStore()
    client = dynamodb_client(request, request.param)
    return DynamoEntityStore(client, fresh_table(client, "entities"))


def test_plans_round_trip_and_are_picked_per_partner(entities: EntityWriter) -> None:
    common = plan(plan_id="common")
    own = plan(INCOME_SCALE, plan_id="own", partner_id="p1", start_ms=100, end_ms=200, referral_bps=250)
    store_plan(entities, common)
    store_plan(entities, own)
    source = EntityPlanSource(entities, cache_s=0)
    assert source.plan_for("p1", 150) == own
    assert source.plan_for("p1", 200) == common
    assert source.plan_for("p2", 150) == common
