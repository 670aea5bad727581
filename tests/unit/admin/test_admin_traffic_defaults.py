"""The platform's traffic-control defaults through the admin API, as the controls read them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsbilling.domain.traffic import TrafficDefaults
from smsbilling.logic.traffic_defaults import LiveTrafficLimits
from smsbilling.settings import TrafficLimits

from .world import PARTNER_KEY, AdminWorld


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def test_defaults_show_the_settings_until_the_admin_overrides_them(world: AdminWorld) -> None:
    shown = world.get("/admin/traffic-defaults")
    assert shown.status == 200, shown
    settings = TrafficLimits()
    assert shown.json["duplicate_window_s"] == settings.duplicate_window_s
    assert shown.json["mo_per_subscriber_per_minute_max"] == settings.mo_per_subscriber_per_minute_max
    assert shown.json["overridden"] == []

    put = world.call("PUT", "/admin/traffic-defaults", {"duplicate_window_s": 60, "mo_flood_action": "hold"})
    assert put.status == 200, put
    assert (put.json["duplicate_window_s"], put.json["mo_flood_action"]) == (60, "hold")
    assert put.json["duplicate_action"] == settings.duplicate_action  # untouched: the setting
    assert put.json["overridden"] == ["duplicate_window_s", "mo_flood_action"]
    assert [e["action"] for e in world.audit()] == ["traffic_defaults.set"]

    live = LiveTrafficLimits(world.entities, TrafficLimits(rules_cache_s=0))
    assert (live().duplicate_window_s, live().mo_flood_action) == (60, "hold")  # what the controls read

    back = world.call("PUT", "/admin/traffic-defaults", {})
    assert back.json["overridden"] == [] and live().duplicate_window_s == settings.duplicate_window_s


def test_bad_defaults_are_refused_and_change_nothing(world: AdminWorld) -> None:
    for body in ({"duplicate_action": "drop"}, {"duplicate_window_s": -1}, {"rules_cache_s": 0}):
        answer = world.call("PUT", "/admin/traffic-defaults", body)
        assert answer.status == 422, (body, answer)
    assert world.entities.get(TrafficDefaults, "default") is None
    assert world.call("PUT", "/admin/traffic-defaults", {}, key=PARTNER_KEY).status == 403


def test_the_live_limits_are_cached_for_the_rules_cache_time(world: AdminWorld) -> None:
    now = [0.0]
    live = LiveTrafficLimits(world.entities, TrafficLimits(rules_cache_s=30), clock=lambda: now[0])
    assert live().duplicate_window_s == 300
    world.call("PUT", "/admin/traffic-defaults", {"duplicate_window_s": 5})
    assert live().duplicate_window_s == 300  # cached
    now[0] = 30.0
    assert live().duplicate_window_s == 5
