"""Admin API: the risk policy (web/admin/risk.py, logic/admin_risk.py) over the deployed app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.risk import RiskPolicy
from smsbilling.domain.traffic import Action, Direction, MessageFacts
from smsbilling.logic.risk import RiskControl
from smsbilling.settings import RiskLimits
from tests.unit.admin.world import PARTNER_KEY, T0, AdminWorld

STRICT: dict[str, Any] = {
    "enabled": True,
    "weights": {
        "subscriber_velocity": 10,
        "range_velocity": 100,
        "new_partner": 40,
        "operator_mix": 0,
        "otp_conversion": 45,
    },
    "thresholds": [{"score_min": 30, "action": "alert"}, {"score_min": 50, "action": "reject"}],
}


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    with AdminWorld().serving() as serving:
        yield serving


def put(world: AdminWorld, body: Any, **kw: Any) -> Any:
    return world.call("PUT", "/admin/risk-policy", body, **kw)


def test_the_defaults_until_an_admin_stores_a_policy(world: AdminWorld) -> None:
    answer = world.get("/admin/risk-policy")
    assert answer.status == 200, answer
    assert answer.json == {
        "enabled": True,
        "weights": {
            "subscriber_velocity": 30,
            "range_velocity": 60,
            "new_partner": 25,
            "operator_mix": 25,
            "otp_conversion": 45,
        },
        "thresholds": [
            {"score_min": 60, "action": "alert"},
            {"score_min": 80, "action": "hold"},
            {"score_min": 95, "action": "reject"},
        ],
        "updated_at": None,
    }


def test_put_replaces_the_policy_and_is_audited(world: AdminWorld) -> None:
    answer = put(world, STRICT)
    assert answer.status == 200, answer
    stored = world.get("/admin/risk-policy").json
    assert stored == answer.json
    assert {k: stored[k] for k in ("enabled", "weights", "thresholds")} == STRICT
    assert stored["updated_at"] is not None
    policy = world.entities.get(RiskPolicy, "default")
    assert policy is not None and policy.thresholds[1].action is Action.REJECT
    (entry,) = [e for e in world.audit() if e["action"] == "risk_policy.put"]
    assert entry["admin_key_id"] == "ops-1" and entry["target"] == "RISKPOLICY#default"
    assert entry["changes"] == STRICT


def test_a_stored_policy_is_what_the_control_scores_with(world: AdminWorld) -> None:
    assert put(world, STRICT).status == 200
    control = RiskControl(MemoryTrafficCounters(), world.entities, RiskLimits())
    facts = MessageFacts(
        direction=Direction.MO,
        message_id="m1",
        at=T0 + timedelta(hours=1),
        msisdn="447700900123",
        operator_id="op1",
        partner_id="p1",  # created at T0: new, 40 points
    )
    result = control.check(facts)
    assert result.risk_score == 40
    assert [f.label() for f in result.findings] == ["risk:score30:alert"]


def test_no_thresholds_and_disabled_are_valid(world: AdminWorld) -> None:
    answer = put(world, STRICT | {"enabled": False, "thresholds": []})
    assert answer.status == 200, answer
    assert answer.json["thresholds"] == [] and answer.json["enabled"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"thresholds": [{"score_min": 80, "action": "hold"}, {"score_min": 60, "action": "alert"}]},
            "thresholds",
        ),
        (
            {"thresholds": [{"score_min": 60, "action": "alert"}, {"score_min": 60, "action": "hold"}]},
            "thresholds",
        ),
        (
            {"thresholds": [{"score_min": 60, "action": "reject"}, {"score_min": 90, "action": "alert"}]},
            "thresholds",
        ),
    ],
)
def test_thresholds_out_of_order_are_refused(world: AdminWorld, change: dict[str, Any], field: str) -> None:
    answer = put(world, STRICT | change)
    assert (answer.status, answer.code) == (422, "validation_failed"), answer
    assert answer.json["errors"][0]["field"] == field
    assert world.entities.get(RiskPolicy, "default") is None
    assert [e for e in world.audit() if e["action"] == "risk_policy.put"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"weights": STRICT["weights"] | {"new_partner": -1}},
        {"weights": STRICT["weights"] | {"new_partner": 1001}},
        {"weights": {"new_partner": 10}},  # a PUT is the whole policy
        {"weights": STRICT["weights"] | {"spam_words": 5}},
        {"thresholds": [{"score_min": 50, "action": "block"}]},
        {"thresholds": [{"score_min": 0, "action": "alert"}]},
        {"thresholds": [{"score_min": 101, "action": "alert"}]},
        {"thresholds": [{"score_min": n, "action": "alert"} for n in range(1, 12)]},
        {"updated_at": "2026-01-01T00:00:00Z"},  # server-owned
        {"policy_id": "other"},
    ],
)
def test_invalid_bodies_are_422_and_change_nothing(world: AdminWorld, change: dict[str, Any]) -> None:
    answer = put(world, STRICT | change)
    assert answer.status == 422, answer
    assert world.entities.get(RiskPolicy, "default") is None


def test_missing_fields_are_422(world: AdminWorld) -> None:
    for missing in ("enabled", "weights", "thresholds"):
        body = {k: v for k, v in STRICT.items() if k != missing}
        assert put(world, body).status == 422


def test_partner_keys_and_no_key_are_refused(world: AdminWorld) -> None:
    assert world.get("/admin/risk-policy", key=PARTNER_KEY).status == 403
    assert put(world, STRICT, key=PARTNER_KEY).status == 403
    assert put(world, STRICT, key=None).status == 401
    assert world.entities.get(RiskPolicy, "default") is None
