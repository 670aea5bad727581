"""Prefix availability over the partner API (web/prefixes.py)."""

from __future__ import annotations

from urllib.parse import quote

from smsbilling.domain.entities import ReservedPrefix

from .world import T0, World


def check(world: World, key: str, prefix: str, numbers: str | None = None) -> dict:  # type: ignore[type-arg]
    query = {"short_numbers": numbers} if numbers is not None else None
    status, _, body = world.call("GET", f"/v1/prefixes/{quote(prefix)}/availability", key=key, query=query)
    assert status == 200, body
    return dict(body)


def test_free_taken_and_yours(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    status, _, created = world.call("POST", "/v1/services", world.service_body("ABC"), key=a)
    assert status == 201
    free = check(world, b, "XYZ", "op1#4444,op1#5555")
    assert free["available"] is True and free["reason"] is None and free["folded"] == "xyz"
    assert [n["available"] for n in free["short_numbers"]] == [True, True]

    taken = check(world, b, "abc", "op1#4444,op1#5555")
    assert taken["available"] is False and taken["reason"] == "taken"
    assert [(n["short_number_id"], n["reason"]) for n in taken["short_numbers"]] == [
        ("op1#4444", "taken"),
        ("op1#5555", None),
    ]
    assert taken["short_numbers"][0]["service_id"] is None  # another partner's service stays unnamed

    yours = check(world, a, "ABC", "op1#4444")
    assert yours["reason"] == "yours" and yours["short_numbers"][0]["service_id"] == created["service_id"]


def test_word_refusals(world: World) -> None:
    _, key = world.active_partner()
    world.entities.put(ReservedPrefix(folded="casino", word="CASINO", kind="forbidden", created_at=T0))
    assert check(world, key, "Casino")["reason"] == "forbidden"
    assert check(world, key, "stop", "op1#4444")["short_numbers"][0]["reason"] == "reserved"
    invalid = check(world, key, "a-b")
    assert invalid["reason"] == "invalid" and invalid["detail"]
    word_only = check(world, key, "FREE")
    assert word_only["available"] is True and word_only["short_numbers"] == []


def test_unknown_numbers_and_lookalikes(world: World) -> None:
    _, key = world.active_partner()
    unknown = check(world, key, "ABC", "op1#4444,op9#1")
    assert unknown["available"] is False and unknown["reason"] == "unknown_short_number"
    cyrillic = check(world, key, "\u0410\u0412\u0421")
    assert cyrillic["folded"] == "abc"


def test_needs_a_key(world: World) -> None:
    status, _, problem = world.call("GET", "/v1/prefixes/ABC/availability")
    assert status == 401 and problem["code"] == "unauthenticated"
