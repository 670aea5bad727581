"""Tariff plans through the admin API: created whole, never changed retroactively, used for rating."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from smsbilling.domain.tariff import TariffError
from smsbilling.logic.admin_plans import to_ms
from smsbilling.logic.plans import EntityPlanSource

from .world import OPERATOR, T0, AdminWorld, setup_catalogue


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        setup_catalogue(w)
        yield w


def plan(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "plan_id": "plan-a",
        "currency": "GBP",
        "effective_from": "2026-11-22T12:00:00Z",
        "numbers": [
            {
                "operator_id": "op1",
                "short_number": "4444",
                "price": 150,
                "vat_bps": 2000,
                "operator_share_bps": 4000,
            }
        ],
        "steps": [{"threshold": 0, "commission_bps": 3000}, {"threshold": 100, "commission_bps": 2000}],
        "outgoing": [{"operator_id": "op1", "route": "http", "micros": 25_000}],
    }
    return body | changes


def test_a_common_plan_is_stored_listed_and_rates_messages(world: AdminWorld) -> None:
    created = world.post("/admin/tariff-plans", plan())
    assert created.status == 201, created
    view = created.json
    assert view["partner_id"] is None and view["effective_from"] == "2026-11-22T12:00:00Z"
    assert view["effective_to"] is None and view["step_basis"] == "count"
    assert world.post("/admin/tariff-plans", plan()).status == 200  # a retry
    assert world.post("/admin/tariff-plans", plan(referral_bps=100)).code == "already_exists"
    assert [p["plan_id"] for p in world.get("/admin/tariff-plans").json["items"]] == ["plan-a"]
    assert world.get("/admin/tariff-plans/plan-a").json == view
    assert world.get("/admin/tariff-plans/nope").status == 404

    rated = EntityPlanSource(world.entities, cache_s=0).plan_for("any-partner", to_ms(world.clock.now))
    tariff = rated.number("op1", "4444")
    assert (rated.plan_id, tariff.price, tariff.vat, tariff.operator_share) == ("plan-a", 150, 25, 50)
    assert rated.scale.step_index(150) == 1


def test_an_individual_plan_wins_for_its_partner_only(world: AdminWorld) -> None:
    world.post("/admin/tariff-plans", plan())
    own = world.post("/admin/tariff-plans", plan(plan_id="plan-p1", partner_id="p1", referral_bps=500))
    assert own.status == 201, own
    assert [p["plan_id"] for p in world.get("/admin/tariff-plans?partner_id=p1").json["items"]] == ["plan-p1"]
    source = EntityPlanSource(world.entities, cache_s=0)
    now_ms = to_ms(world.clock.now)
    assert source.plan_for("p1", now_ms).plan_id == "plan-p1"
    assert source.plan_for("p2", now_ms).plan_id == "plan-a"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (plan(effective_from="2026-11-22T11:00:00Z"), "effective_from"),  # an hour ago: retroactive
        (plan(effective_from="2026-11-22T12:00:00"), "effective_from"),  # no time zone
        (plan(effective_from="0093-01-01T00:00:00Z"), "effective_from"),  # before the epoch: not a 500
        (plan(partner_id="nobody"), "partner_id"),
        (plan(numbers=[plan()["numbers"][0] | {"short_number": "9999"}]), "numbers.0"),
        (plan(currency="EUR"), "numbers.0.operator_id"),  # op1 bills in GBP
        (plan(steps=[{"threshold": 5, "commission_bps": 100}]), "plan"),  # the first step must be at 0
        (plan(effective_to="2026-11-22T12:00:00Z"), "plan"),  # ends before it starts
        (plan(effective_from_ms=0), "effective_from_ms"),  # the stored form is not input
        (plan(numbers=[plan()["numbers"][0] | {"price": 1.5}]), "numbers.0.price"),  # no float money
        # Past what a DynamoDB number holds (38 digits): refused here, not a 500 from the store.
        (plan(numbers=[plan()["numbers"][0] | {"price": 10**40}]), "numbers.0.price"),
        (
            plan(steps=[{"threshold": 0, "commission_bps": 1}, {"threshold": 10**40, "commission_bps": 1}]),
            "steps.1.threshold",
        ),
        (plan(outgoing=[{"operator_id": "op1", "route": "http", "micros": 10**40}]), "outgoing.0.micros"),
    ],
)
def test_bad_plans_are_refused_with_the_field_at_fault(world: AdminWorld, body: dict, field: str) -> None:
    answer = world.post("/admin/tariff-plans", body)
    assert answer.status == 422, answer
    assert field in [e["field"] for e in answer.json["errors"]], answer
    assert world.get("/admin/tariff-plans").json["items"] == []
    assert world.get("/admin/tariff-plans/plan-a").status == 404


def test_a_plan_starting_now_by_default_within_the_allowed_skew(world: AdminWorld) -> None:
    body = plan()
    del body["effective_from"]
    created = world.post("/admin/tariff-plans", body)
    assert created.status == 201 and created.json["effective_from"].startswith("2026-11-22T12:00:00.0")
    skewed = plan(plan_id="plan-b", effective_from="2026-11-22T11:56:00Z")  # 4 minutes ago: clock skew
    assert world.post("/admin/tariff-plans", skewed).status == 201


def test_a_plan_is_ended_but_never_reopened_or_ended_in_the_past(world: AdminWorld) -> None:
    world.post("/admin/tariff-plans", plan())
    assert world.patch("/admin/tariff-plans/plan-a", {"effective_to": "2026-11-22T11:00:00Z"}).status == 422
    assert world.patch("/admin/tariff-plans/plan-a", {"effective_from": "2026-12-01T00:00:00Z"}).status == 422
    ended = world.patch("/admin/tariff-plans/plan-a", {"effective_to": "2026-12-01T00:00:00Z"})
    assert ended.status == 200 and ended.json["effective_to"] == "2026-12-01T00:00:00Z"
    world.clock.advance(timedelta(days=10).total_seconds())
    again = world.patch("/admin/tariff-plans/plan-a", {"effective_to": "2027-01-01T00:00:00Z"})
    assert again.status == 409 and again.code == "plan_ended"
    with pytest.raises(TariffError):
        EntityPlanSource(world.entities, cache_s=0).plan_for("p1", to_ms(world.clock.now))
    assert world.patch("/admin/tariff-plans/nope", {"effective_to": "2027-01-01T00:00:00Z"}).status == 404
    actions = [e["action"] for e in world.audit(T0.date())]
    assert actions == ["operator.create", "short_number.create", "tariff_plan.create", "tariff_plan.end"]


def test_a_plan_for_a_number_of_another_currency_operator_is_refused(world: AdminWorld) -> None:
    assert world.post("/admin/operators", OPERATOR | {"operator_id": "op2"}).status == 201
    world.post("/admin/operators/op2/short-numbers", {"number": "4444", "tariff_plan_id": "plan-a"})
    two = plan(numbers=[*plan()["numbers"], plan()["numbers"][0] | {"operator_id": "op2"}])
    created = world.post("/admin/tariff-plans", two)
    assert created.status == 201 and len(created.json["numbers"]) == 2
