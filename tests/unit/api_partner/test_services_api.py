"""Services over the partner API (web/services.py): own services only, prefixes leased atomically."""

from __future__ import annotations

from typing import Any

import pytest

from smsbilling.domain.entities import PartnerService, ReservedPrefix, RoutingConfig, ServiceStatus
from smsbilling.settings import PartnerAccountLimits

from .world import T0, World


def create(world: World, key: str, **body: Any) -> dict[str, Any]:
    status, _, created = world.call("POST", "/v1/services", world.service_body(**body), key=key)
    assert status == 201, created
    return dict(created)


def test_create_leases_the_prefix_on_each_number_and_waits_for_moderation(world: World) -> None:
    _, key = world.active_partner()
    created = create(world, key, prefix="Quiz", short_numbers=["op1#4444", "op2#4444"])
    assert created["status"] == "pending_moderation" and created["prefix"] == "Quiz"
    assert set(created) == {
        "service_id", "name", "prefix", "short_numbers", "handler_kind", "handler_url", "smpp_system_id",
        "status_url", "status", "otp_enabled", "created_at", "updated_at",
    }  # fmt: skip
    assert world.claims() == {"op1#4444#quiz": created["service_id"], "op2#4444#quiz": created["service_id"]}
    status, _, page = world.call("GET", "/v1/services", key=key)
    assert status == 200 and [s["service_id"] for s in page["items"]] == [created["service_id"]]
    assert world.call("GET", f"/v1/services/{created['service_id']}", key=key)[2] == created


def test_one_prefix_one_partner_per_number_and_lookalikes_collide(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    mine = create(world, a, prefix="ABC", short_numbers=["op1#4444"])
    before = dict(world.entities.items)
    # ABC typed in Cyrillic capitals or full width looks like ABC: taken too; nothing of B's is written.
    for prefix in ("abc", "\u0410\u0412\u0421", "\uff21\uff22\uff23"):
        status, _, problem = world.call(
            "POST", "/v1/services", world.service_body(prefix, short_numbers=["op1#5555", "op1#4444"]), key=b
        )
        assert status == 409 and problem["code"] == "prefix_unavailable", prefix
        assert problem["reason"] == "taken" and problem["short_numbers"] == ["op1#4444"]
    assert world.entities.items == before
    # The same prefix on another number is free.
    other = create(world, b, prefix="ABC", short_numbers=["op1#5555"])
    assert world.claims() == {"op1#4444#abc": mine["service_id"], "op1#5555#abc": other["service_id"]}


def test_admin_lookalikes_apply(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    world.entities.put(RoutingConfig(lookalikes={"0": "o"}))
    create(world, a, prefix="GO")
    status, _, problem = world.call("POST", "/v1/services", world.service_body("G0"), key=b)
    assert status == 409 and problem["reason"] == "taken"


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("STOP", "reserved"),
        ("stop", "reserved"),
        ("\u0421\u0422\u041e\u041f", "reserved"),
        ("HELP", "reserved"),
    ],
)
def test_platform_words_are_reserved(world: World, prefix: str, reason: str) -> None:
    _, key = world.active_partner()
    status, _, problem = world.call("POST", "/v1/services", world.service_body(prefix), key=key)
    assert status == 409 and problem["reason"] == reason
    assert world.claims() == {}


def test_admin_reserved_and_forbidden_words(world: World) -> None:
    _, key = world.active_partner()
    world.entities.put(ReservedPrefix(folded="casino", word="CASINO", kind="forbidden", created_at=T0))
    world.entities.put(ReservedPrefix(folded="bank", word="BANK", kind="reserved", created_at=T0))
    assert (
        world.call("POST", "/v1/services", world.service_body("Casino"), key=key)[2]["reason"] == "forbidden"
    )
    assert world.call("POST", "/v1/services", world.service_body("BANK"), key=key)[2]["reason"] == "reserved"
    assert world.claims() == {}


@pytest.mark.parametrize("prefix", ["two words", "ab-c", "a\u200bb", "x" * 33, "!"])
def test_a_prefix_is_one_word(world: World, prefix: str) -> None:
    _, key = world.active_partner()
    status, _, problem = world.call("POST", "/v1/services", world.service_body(prefix), key=key)
    assert status == 422 and problem["errors"][0]["field"] == "prefix"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"handler_url": "http://partner.example.com/mo"}, "handler_url"),
        ({"handler_url": "https://169.254.169.254/latest"}, "handler_url"),
        ({"handler_url": "https://10.0.0.5/mo"}, "handler_url"),
        ({"handler_url": "http://127.0.0.1:9000/mo"}, "handler_url"),
        ({"status_url": "https://localhost/status"}, "status_url"),
        ({"handler_url": None}, "handler_url"),
        ({"smpp_system_id": "bind1"}, "smpp_system_id"),
        ({"handler_kind": "smpp", "handler_url": None, "smpp_system_id": "nobody"}, "smpp_system_id"),
        ({"handler_kind": "smpp", "smpp_system_id": "bind1"}, "handler_url"),
        ({"short_numbers": ["op9#1234"]}, "short_numbers"),
        ({"short_numbers": ["op1#4444", "op1#4444"]}, "short_numbers"),
        ({"short_numbers": []}, "short_numbers"),
        ({"handler_kind": "carrier_pigeon"}, "handler_kind"),
        ({"status": "active"}, "status"),
        ({"service_id": "svc_mine"}, "service_id"),
        ({"partner_id": "ptr_other"}, "partner_id"),
        ({"otp_enabled": True}, "otp_enabled"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_services_are_refused_and_nothing_is_written(
    world: World, overrides: dict[str, Any], field: str
) -> None:
    partner_id, key = world.active_partner()
    world.smpp_account("bind1", partner_id)
    world.smpp_account("nobody", "ptr_someone_else")
    before = dict(world.entities.items)
    status, _, problem = world.call("POST", "/v1/services", world.service_body(**overrides), key=key)
    assert status == 422 and problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"].split(".")[0] == field
    assert world.entities.items == before


def test_loopback_handlers_on_the_local_stage() -> None:
    world = World(allow_loopback=True)
    try:
        _, key = world.active_partner()
        created = create(
            world, key, handler_url="http://127.0.0.1:9000/mo", status_url="http://localhost:9000/s"
        )
        assert created["handler_url"] == "http://127.0.0.1:9000/mo"
        status, _, problem = world.call(
            "POST", "/v1/services", world.service_body("B", handler_url="http://10.0.0.1/"), key=key
        )
        assert status == 422 and problem["errors"][0]["field"] == "handler_url"
    finally:
        World.uninstall()


def test_smpp_handlers_use_the_partners_own_bind(world: World) -> None:
    partner_id, key = world.active_partner()
    world.smpp_account("bind1", partner_id)
    created = create(world, key, handler_kind="smpp", handler_url=None, smpp_system_id="bind1")
    assert created["handler_kind"] == "smpp" and created["smpp_system_id"] == "bind1"


def set_status(world: World, service_id: str, status: ServiceStatus) -> None:
    stored = world.entities.get(PartnerService, service_id)
    assert stored is not None
    world.entities.put(stored.model_copy(update={"status": status}))


def test_changes_to_what_subscribers_reach_go_back_to_moderation(world: World) -> None:
    _, key = world.active_partner()
    sid = create(world, key)["service_id"]
    set_status(world, sid, ServiceStatus.ACTIVE)  # an admin approved it
    status, _, renamed = world.call("PATCH", f"/v1/services/{sid}", {"name": "Quiz 2"}, key=key)
    assert status == 200 and renamed["name"] == "Quiz 2" and renamed["status"] == "active"
    status_url = {"status_url": "https://partner.example.com/status"}
    assert world.call("PATCH", f"/v1/services/{sid}", status_url, key=key)[2]["status"] == "active"
    handler = {"handler_url": "https://other.example.com/mo"}
    status, _, changed = world.call("PATCH", f"/v1/services/{sid}", handler, key=key)
    assert status == 200 and changed["status"] == "pending_moderation"
    assert changed["handler_url"] == "https://other.example.com/mo" and changed["name"] == "Quiz 2"
    assert changed["updated_at"] == world.clock.now.isoformat().replace("+00:00", "Z")
    # The same value again is no change at all.
    set_status(world, sid, ServiceStatus.ACTIVE)
    assert world.call("PATCH", f"/v1/services/{sid}", handler, key=key)[2]["status"] == "active"


def test_changing_the_prefix_moves_the_lease(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    sid = create(world, a, prefix="OLD", short_numbers=["op1#4444", "op1#5555"])["service_id"]
    taken = create(world, b, prefix="TAKEN", short_numbers=["op1#5555"])["service_id"]
    status, _, changed = world.call(
        "PATCH", f"/v1/services/{sid}", {"prefix": "NEW", "short_numbers": ["op1#5555", "op2#4444"]}, key=a
    )
    assert status == 200 and changed["status"] == "pending_moderation"
    assert world.claims() == {"op1#5555#new": sid, "op2#4444#new": sid, "op1#5555#taken": taken}
    # A change onto a taken prefix: 409, and the service and its claims stay as they were.
    before = dict(world.entities.items)
    status, _, problem = world.call("PATCH", f"/v1/services/{sid}", {"prefix": "Taken"}, key=a)
    assert status == 409 and problem["short_numbers"] == ["op1#5555"]
    assert world.entities.items == before


def test_a_suspended_service_keeps_its_prefix_and_handler(world: World) -> None:
    _, key = world.active_partner()
    sid = create(world, key)["service_id"]
    set_status(world, sid, ServiceStatus.SUSPENDED)
    status, _, problem = world.call("PATCH", f"/v1/services/{sid}", {"prefix": "OTHER"}, key=key)
    assert status == 409 and problem["code"] == "service_suspended"
    assert (
        world.call("PATCH", f"/v1/services/{sid}", {"name": "Renamed"}, key=key)[2]["status"] == "suspended"
    )
    set_status(world, sid, ServiceStatus.REJECTED)  # a rejected one is resubmitted by a change
    assert world.call("PATCH", f"/v1/services/{sid}", {"prefix": "OTHER"}, key=key)[2]["status"] == (
        "pending_moderation"
    )


def test_patch_refuses_nulls_unknown_and_server_owned_fields(world: World) -> None:
    _, key = world.active_partner()
    sid = create(world, key)["service_id"]
    before = dict(world.entities.items)
    for body in ({"name": None}, {"prefix": None}, {"status": "active"}, {"partner_id": "x"}, {"nope": 1},
                 {"handler_url": None}, {"service_id": "svc_x"}):  # fmt: skip
        status, _, problem = world.call("PATCH", f"/v1/services/{sid}", body, key=key)
        assert status == 422 and problem["code"] == "validation_failed", body
    assert world.entities.items == before


def test_delete_releases_the_prefix(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    sid = create(world, a, prefix="GONE", short_numbers=["op1#4444", "op2#4444"])["service_id"]
    status, _, body = world.call("DELETE", f"/v1/services/{sid}", key=a)
    assert status == 204 and body is None
    assert world.claims() == {} and world.entities.get(PartnerService, sid) is None
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        assert world.call(method, f"/v1/services/{sid}", body, key=a)[0] == 404
    assert create(world, b, prefix="gone", short_numbers=["op1#4444"])["prefix"] == "gone"


def test_other_partners_and_random_ids_are_not_found_and_nothing_changes(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    sid = create(world, a)["service_id"]
    before = dict(world.entities.items)
    for service_id in (sid, "svc_000000000000000000000000", "x" * 64):
        for method, body in (("GET", None), ("PATCH", {"name": "Mine now"}), ("DELETE", None)):
            status, _, problem = world.call(method, f"/v1/services/{service_id}", body, key=b)
            assert status == 404 and problem["code"] == "not_found", (method, service_id)
    assert world.entities.items == before
    assert world.call("GET", "/v1/services", key=b)[2]["items"] == []


def test_services_are_limited_per_partner() -> None:
    world = World(PartnerAccountLimits(services_per_partner_max=2))
    try:
        _, key = world.active_partner()
        first = create(world, key, prefix="ONE")
        create(world, key, prefix="TWO")
        status, _, problem = world.call("POST", "/v1/services", world.service_body("THREE"), key=key)
        assert status == 409 and problem["code"] == "service_limit_reached"
        assert "op1#4444#three" not in world.claims()
        assert world.call("DELETE", f"/v1/services/{first['service_id']}", key=key)[0] == 204
        create(world, key, prefix="THREE")
    finally:
        World.uninstall()


def test_service_listing_pages(world: World) -> None:
    _, key = world.active_partner()
    made = {create(world, key, prefix=f"P{n}")["service_id"] for n in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = world.call("GET", "/v1/services", key=key, query=query)[2]
        seen += [s["service_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(seen) == made and len(seen) == 5
