"""Fraud limits through the admin API, stored as the fraud-limit control reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.fraud_limits import FraudLimit, LimitScope
from smsbilling.domain.traffic import Action, Direction, MessageFacts
from smsbilling.logic.fraud_limits import FraudLimitControl, enabled_limits
from smsbilling.settings import AdminLimits, TrafficLimits

from .world import PARTNER_KEY, T0, AdminWorld, setup_catalogue

PER_SUBSCRIBER = {
    "limit_id": "sub-hourly",
    "direction": "mo",
    "scope": "subscriber",
    "window": "hour",
    "threshold": 100,
    "action": "reject",
    "note": "premium pumping",
}


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "limit_id"}


def test_create_get_list_replace_delete_audited(world: AdminWorld) -> None:
    created = world.post("/admin/fraud-limits", PER_SUBSCRIBER)
    assert created.status == 201, created
    view = created.json
    assert view | {"created_at": None} == PER_SUBSCRIBER | {
        "scope_value": None,
        "metric": "count",
        "currency": None,
        "enabled": True,
        "created_at": None,
        "updated_at": None,
    }
    stored = world.entities.get(FraudLimit, "sub-hourly")
    assert stored is not None and stored.scope is LimitScope.SUBSCRIBER and stored.created_at > T0
    assert world.post("/admin/fraud-limits", PER_SUBSCRIBER).status == 200  # a retried create
    taken = world.post("/admin/fraud-limits", PER_SUBSCRIBER | {"threshold": 5})
    assert (taken.status, taken.code) == (409, "already_exists")
    assert world.get("/admin/fraud-limits/sub-hourly").json == view

    money = {
        "limit_id": "sn-daily-gbp",
        "scope": "short_number",
        "scope_value": "4444",
        "metric": "amount",
        "currency": "GBP",
        "window": "day",
        "threshold": 50_000,
        "action": "hold",
    }
    assert world.post("/admin/fraud-limits", money).status == 201
    page = world.get("/admin/fraud-limits?limit=1")
    rest = world.get(f"/admin/fraud-limits?cursor={page.json['next_cursor']}")
    assert [i["limit_id"] for i in page.json["items"] + rest.json["items"]] == ["sn-daily-gbp", "sub-hourly"]
    assert rest.json["next_cursor"] is None

    replaced = world.call("PUT", "/admin/fraud-limits/sub-hourly", fields(PER_SUBSCRIBER) | {"threshold": 10})
    assert replaced.status == 200, replaced
    assert replaced.json["threshold"] == 10 and replaced.json["note"] == "premium pumping"
    assert replaced.json["created_at"] == view["created_at"] and replaced.json["updated_at"] is not None
    # PUT replaces: what the body leaves out goes back to its default.
    minimal = {"scope": "subscriber", "window": "hour", "threshold": 10, "action": "alert"}
    again = world.call("PUT", "/admin/fraud-limits/sub-hourly", minimal)
    assert again.status == 200 and (again.json["direction"], again.json["note"]) == ("any", "")
    assert world.call("PUT", "/admin/fraud-limits/nothing", minimal).status == 404

    assert world.delete("/admin/fraud-limits/sub-hourly").status == 200
    assert world.get("/admin/fraud-limits/sub-hourly").status == 404
    assert world.delete("/admin/fraud-limits/sub-hourly").status == 404
    actions = [(e["action"], e["target"]) for e in world.audit()]
    assert actions == [
        ("fraud_limit.create", "FRAUDLIMIT#sub-hourly"),
        ("fraud_limit.create", "FRAUDLIMIT#sn-daily-gbp"),
        ("fraud_limit.replace", "FRAUDLIMIT#sub-hourly"),
        ("fraud_limit.replace", "FRAUDLIMIT#sub-hourly"),
        ("fraud_limit.delete", "FRAUDLIMIT#sub-hourly"),
    ]
    assert world.audit()[0]["changes"]["threshold"] == 100


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scope": "galaxy"}, "scope"),
        ({"metric": "amount"}, "currency"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": -5}, "threshold"),
        ({"window": "week"}, "window"),
        ({"action": "drop"}, "action"),
        ({"direction": "both"}, "direction"),
        ({"currency": "gbp"}, "currency"),
        ({"scope": "platform", "scope_value": "x"}, "scope_value"),
        ({"scope_value": "+447700900123"}, "scope_value"),
        ({"scope": "partner", "scope_value": "nobody"}, "scope_value"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"limit_id": "bad id"}, "limit_id"),
    ],
)
def test_bad_limits_are_problems_and_change_nothing(
    world: AdminWorld, change: dict[str, Any], field: str
) -> None:
    answer = world.post("/admin/fraud-limits", PER_SUBSCRIBER | change)
    assert (answer.status, answer.code) == (422, "validation_failed"), answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json["errors"][0]["field"] == field
    assert world.entities.page(FraudLimit, "FRAUDLIMIT", limit=10) == ([], None)
    assert world.audit() == []


def test_a_bad_replacement_keeps_the_limit(world: AdminWorld) -> None:
    assert world.post("/admin/fraud-limits", PER_SUBSCRIBER).status == 201
    bad = world.call("PUT", "/admin/fraud-limits/sub-hourly", fields(PER_SUBSCRIBER) | {"metric": "amount"})
    assert (bad.status, bad.json["errors"][0]["field"]) == (422, "currency")
    extra = world.call("PUT", "/admin/fraud-limits/sub-hourly", PER_SUBSCRIBER)  # limit_id is the path's
    assert extra.status == 422
    assert world.get("/admin/fraud-limits/sub-hourly").json["metric"] == "count"


def test_named_operators_partners_and_services_must_exist(world: AdminWorld) -> None:
    setup_catalogue(world)
    for scope, value in (("operator", "op1"), ("partner", "p1"), ("service", "svc1")):
        body = PER_SUBSCRIBER | {"limit_id": f"by-{scope}", "scope": scope, "scope_value": value}
        assert world.post("/admin/fraud-limits", body).status == 201, scope
    assert (
        world.post("/admin/fraud-limits", PER_SUBSCRIBER | {"scope": "service", "scope_value": "x"}).status
        == 422
    )


def test_at_most_fraud_limits_max(world: AdminWorld) -> None:
    world.limits = AdminLimits(fraud_limits_max=2)
    with world.serving():
        for n in range(2):
            assert world.post("/admin/fraud-limits", PER_SUBSCRIBER | {"limit_id": f"l{n}"}).status == 201
        over = world.post("/admin/fraud-limits", PER_SUBSCRIBER | {"limit_id": "l2"})
        assert (over.status, over.code) == (409, "too_many_limits")
        assert world.post("/admin/fraud-limits", PER_SUBSCRIBER | {"limit_id": "l1"}).status == 200


def test_a_partner_key_is_refused(world: AdminWorld) -> None:
    assert world.post("/admin/fraud-limits", PER_SUBSCRIBER, key=PARTNER_KEY).status == 403
    assert world.get("/admin/fraud-limits", key=PARTNER_KEY).status == 403
    assert world.entities.page(FraudLimit, "FRAUDLIMIT", limit=10) == ([], None)


def test_what_the_admin_sets_the_control_enforces(world: AdminWorld) -> None:
    body = PER_SUBSCRIBER | {"threshold": 1, "window": "minute"}
    assert world.post("/admin/fraud-limits", body).status == 201
    off = PER_SUBSCRIBER | {"limit_id": "off", "threshold": 1, "window": "minute", "enabled": False}
    assert world.post("/admin/fraud-limits", off).status == 201
    assert [limit.limit_id for limit in enabled_limits(world.entities)] == ["sub-hourly"]
    control = FraudLimitControl(
        world.entities,
        MemoryTrafficCounters(),
        lambda: TrafficLimits(mo_per_subscriber_per_minute_max=0, mo_per_subscriber_per_hour_max=0),
    )

    def facts(n: int) -> MessageFacts:
        return MessageFacts(direction=Direction.MO, message_id=f"m{n}", at=T0, msisdn="447700900123")

    assert control.check(facts(1)).findings == ()
    [finding] = control.check(facts(2)).findings
    assert (finding.rule_id, finding.action, finding.reason) == (
        "sub-hourly",
        Action.REJECT,
        "over 1 MOs per minute for subscriber 447700900123",
    )
