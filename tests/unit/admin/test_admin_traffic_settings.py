"""A partner's destinations, message and request limits, and premium ranges, through the admin API.

What the admin sets is what the partner API's send, its request limits and the traffic guard's
country control read: the tests end by asking those readers (logic/countries.py,
logic/send_limits.py, logic/partner_limits.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.domain.countries import PremiumRange, RefusalKind
from smsbilling.domain.entities import Operator
from smsbilling.domain.send_limits import PartnerSendLimits
from smsbilling.domain.traffic import PartnerTrafficSettings
from smsbilling.logic.countries import DestinationRulesCache
from smsbilling.logic.partner_limits import PartnerLimitsCache
from smsbilling.logic.send_limits import send_rules
from smsbilling.settings import ApiLimits, SmsSendLimits

from .world import PARTNER_KEY, AdminWorld, Answer


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    for operator_id, country in (("uk", "44"), ("pt", "351")):
        w.entities.put(
            Operator(operator_id=operator_id, name=operator_id, country_code=country, currency="GBP")
        )
    with w.serving():
        yield w


def put(world: AdminWorld, path: str, body: Any, **kw: Any) -> Answer:
    return world.call("PUT", path, body, **kw)


def test_premium_ranges_are_created_once_noted_listed_and_removed(world: AdminWorld) -> None:
    added = world.post("/admin/premium-ranges", {"prefix": "+44 909", "note": "UK premium rate"})
    assert added.status == 201, added
    assert (added.json["prefix"], added.json["note"]) == ("44909", "UK premium rate")
    assert world.entities.get(PremiumRange, "44909") is not None
    assert world.post("/admin/premium-ranges", {"prefix": "0044909", "note": "UK premium rate"}).status == 200
    assert world.post("/admin/premium-ranges", {"prefix": "44909", "note": "other"}).code == "already_exists"
    world.post("/admin/premium-ranges", {"prefix": "3519", "note": ""})
    world.post("/admin/premium-ranges", {"prefix": "881"})
    first = world.get("/admin/premium-ranges?limit=2")
    rest = world.get(f"/admin/premium-ranges?cursor={first.json['next_cursor']}")
    listed = [r["prefix"] for r in first.json["items"] + rest.json["items"]]
    assert listed == ["3519", "44909", "881"] and rest.json["next_cursor"] is None

    changed = world.patch("/admin/premium-ranges/%2B44909", {"note": "reported by ops"})
    assert changed.status == 200 and changed.json["note"] == "reported by ops" and changed.json["updated_at"]
    assert world.get("/admin/premium-ranges/44909").json["note"] == "reported by ops"
    assert world.delete("/admin/premium-ranges/3519").status == 200
    assert world.get("/admin/premium-ranges/3519").status == 404
    assert world.delete("/admin/premium-ranges/3519").status == 404
    bad = world.post("/admin/premium-ranges", {"prefix": "0909"})  # a national number
    assert bad.status == 422 and bad.json["errors"][0]["field"] == "prefix"
    actions = [e["action"] for e in world.audit()]
    assert actions == [
        "premium_range.add",
        "premium_range.add",
        "premium_range.add",
        "premium_range.update",
        "premium_range.remove",
    ]


def test_traffic_settings_default_to_the_operators_countries_then_are_set_whole(world: AdminWorld) -> None:
    fresh = world.get("/admin/partners/p1/traffic")
    assert fresh.status == 200, fresh
    assert fresh.json["allowed_countries"] is None and fresh.json["countries_in_force"] == ["44", "351"]
    assert (fresh.json["premium_ranges_allowed"], fresh.json["hlr_check"], fresh.json["updated_at"]) == (
        [],
        False,
        None,
    )
    world.post("/admin/premium-ranges", {"prefix": "44909"})

    body = {"allowed_countries": ["+49", "44", "44"], "premium_ranges_allowed": ["+44909"], "hlr_check": True}
    done = put(world, "/admin/partners/p1/traffic", body)
    assert done.status == 200, done
    assert done.json["allowed_countries"] == ["44", "49"] and done.json["countries_in_force"] == ["44", "49"]
    assert done.json["premium_ranges_allowed"] == ["44909"] and done.json["hlr_check"] is True
    stored = world.entities.get(PartnerTrafficSettings, "p1")
    assert stored is not None and stored.allowed_countries == ("44", "49") and stored.hlr_check
    (audit,) = [e for e in world.audit() if e["action"] == "partner_traffic.set"]
    assert audit["changes"] == {
        "allowed_countries": ["44", "49"],
        "premium_ranges_allowed": ["44909"],
        "hlr_check": True,
    }

    # PUT is the whole setting: what is left out goes back to its default
    again = put(world, "/admin/partners/p1/traffic", {"hlr_check": False})
    assert again.json["allowed_countries"] is None and again.json["countries_in_force"] == ["44", "351"]
    assert again.json["premium_ranges_allowed"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allowed_countries": ["441"]}, "allowed_countries.0"),  # 44 is the code; 441 is a number
        ({"allowed_countries": ["44", "4"]}, "allowed_countries.1"),
        ({"allowed_countries": ["0"]}, "allowed_countries.0"),
        ({"premium_ranges_allowed": ["44909"]}, "premium_ranges_allowed.0"),  # no such range listed
        ({"premium_ranges_allowed": ["x"]}, "premium_ranges_allowed.0"),
        ({"hlr": True}, "hlr"),
    ],
)
def test_traffic_settings_refuse_what_is_not_a_country_or_a_listed_range(
    world: AdminWorld, body: dict[str, Any], field: str
) -> None:
    answer = put(world, "/admin/partners/p1/traffic", body)
    assert answer.status == 422, answer
    assert field in [e["field"] for e in answer.json["errors"]], answer
    assert world.entities.get(PartnerTrafficSettings, "p1") is None


def test_unknown_partner_and_partner_keys(world: AdminWorld) -> None:
    assert world.get("/admin/partners/nobody/traffic").status == 404
    assert put(world, "/admin/partners/nobody/traffic", {}).status == 404
    assert world.get("/admin/partners/nobody/send-limits").status == 404
    assert world.get("/admin/partners/p1/traffic", key=PARTNER_KEY).status == 403
    assert put(world, "/admin/partners/p1/send-limits", {}, key=PARTNER_KEY).status == 403
    assert world.post("/admin/premium-ranges", {"prefix": "44909"}, key=PARTNER_KEY).status == 403
    assert world.get("/admin/premium-ranges", key=None).status == 401


def test_send_limits_override_the_platform_defaults(world: AdminWorld) -> None:
    defaults = SmsSendLimits()
    fresh = world.get("/admin/partners/p1/send-limits").json
    assert (fresh["messages_per_s_max"], fresh["per_s_in_force"], fresh["per_min_in_force"]) == (
        None,
        defaults.partner_messages_per_s_max,
        defaults.partner_messages_per_min_max,
    )
    done = put(world, "/admin/partners/p1/send-limits", {"messages_per_min_max": 5})
    assert done.status == 422 and done.json["errors"][0]["field"] == "messages_per_s_max"  # 200/s > 5/min
    done = put(world, "/admin/partners/p1/send-limits", {"messages_per_s_max": 2, "messages_per_min_max": 5})
    assert done.status == 200, done
    assert (done.json["per_s_in_force"], done.json["per_min_in_force"]) == (2, 5)
    assert world.entities.get(PartnerSendLimits, "p1") is not None
    rates = send_rules(world.entities, defaults, ttl_s=0).message_rates("p1")
    assert (rates.per_s_max, rates.per_min_max) == (2, 5)
    assert put(world, "/admin/partners/p1/send-limits", {"messages_per_s_max": 0}).status == 422
    (audit,) = [e for e in world.audit() if e["action"] == "partner_send_limits.set"]
    assert audit["changes"] == {
        "messages_per_s_max": 2,
        "messages_per_min_max": 5,
        "requests_per_s_max": None,
        "requests_per_min_max": None,
    }


def test_request_limits_override_the_platform_defaults_for_one_partner(world: AdminWorld) -> None:
    api = ApiLimits()
    fresh = world.get("/admin/partners/p1/send-limits").json
    assert (fresh["requests_per_s_max"], fresh["requests_per_min_max"], fresh["updated_at"]) == (
        None,
        None,
        None,
    )
    assert (fresh["requests_per_s_in_force"], fresh["requests_per_min_in_force"]) == (
        api.partner_requests_per_s_max,
        api.partner_requests_per_min_max,
    )
    reader = PartnerLimitsCache(world.entities, ttl_s=0)  # what the partner API's conventions read
    assert reader.request_rates("p1", api) == reader.request_rates("p2", api)

    body = {"messages_per_s_max": 7, "requests_per_s_max": 4, "requests_per_min_max": 90}
    done = put(world, "/admin/partners/p1/send-limits", body)
    assert done.status == 200, done
    assert (done.json["requests_per_s_max"], done.json["requests_per_min_max"]) == (4, 90)
    assert (done.json["requests_per_s_in_force"], done.json["requests_per_min_in_force"]) == (4, 90)
    assert (done.json["messages_per_s_max"], done.json["per_s_in_force"]) == (7, 7)
    assert world.get("/admin/partners/p1/send-limits").json == done.json
    rates = reader.request_rates("p1", api)
    assert (rates.per_s_max, rates.per_min_max) == (4, 90)
    other = reader.request_rates("p2", api)
    assert (other.per_s_max, other.per_min_max) == (
        api.partner_requests_per_s_max,
        api.partner_requests_per_min_max,
    )
    (audit,) = [e for e in world.audit() if e["action"] == "partner_send_limits.set"]
    assert audit["changes"] == {
        "messages_per_s_max": 7,
        "messages_per_min_max": None,
        "requests_per_s_max": 4,
        "requests_per_min_max": 90,
    }

    # only the per-minute limit set: the per-second one in force is the default, here above it
    low = put(world, "/admin/partners/p1/send-limits", {"requests_per_min_max": 50})
    assert low.status == 422 and low.json["errors"][0]["field"] == "requests_per_s_max", low
    assert put(world, "/admin/partners/p1/send-limits", {"requests_per_s_max": 0}).status == 422
    assert put(world, "/admin/partners/p1/send-limits", {"requests_per_hour_max": 5}).status == 422
    assert reader.request_rates("p1", api).per_s_max == 4  # nothing refused was stored

    # PUT is the whole setting: what is left out goes back to the default
    again = put(world, "/admin/partners/p1/send-limits", {"requests_per_min_max": 500})
    assert again.status == 200, again
    assert (again.json["requests_per_s_max"], again.json["requests_per_s_in_force"]) == (
        None,
        api.partner_requests_per_s_max,
    )
    assert (again.json["messages_per_s_max"], again.json["requests_per_min_in_force"]) == (None, 500)
    stored = world.entities.get(PartnerSendLimits, "p1")
    assert stored is not None and (stored.requests_per_s_max, stored.requests_per_min_max) == (None, 500)


def test_what_the_admin_sets_is_what_the_destination_rules_read(world: AdminWorld) -> None:
    world.post("/admin/premium-ranges", {"prefix": "44909", "note": "premium rate"})
    world.post("/admin/premium-ranges", {"prefix": "447700", "note": "pumped range"})
    rules = DestinationRulesCache(world.entities, ttl_s=0).rules("p1")
    assert rules.refusal("447911123456") is None
    refused = rules.refusal("447700900123")
    assert refused is not None and (refused.kind, refused.rule_id) == (RefusalKind.PREMIUM, "447700")
    assert "pumped range" in refused.reason
    refused = rules.refusal("4915112345678")
    assert refused is not None and (refused.kind, refused.rule_id) == (RefusalKind.COUNTRY, "49")

    body = {"allowed_countries": ["49"], "premium_ranges_allowed": ["447700"]}
    assert put(world, "/admin/partners/p1/traffic", body).status == 200
    rules = DestinationRulesCache(world.entities, ttl_s=0).rules("p1")
    assert rules.refusal("4915112345678") is None
    refused = rules.refusal("447700900123")  # allowed the range, but the UK is no longer allowed
    assert refused is not None and refused.kind is RefusalKind.COUNTRY
    assert (
        DestinationRulesCache(world.entities, ttl_s=0).rules("p2").refusal("4915112345678") is not None
    )  # p1's only
