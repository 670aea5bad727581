"""Blacklists and reserved prefixes through the admin API, in the form routing reads them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from smsbilling.domain.entities import BlacklistEntry, ReservedPrefix, RoutingConfig
from smsbilling.domain.prefixes import WordRefusal, word_refusal

from .world import AdminWorld


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def test_a_subscriber_is_blacklisted_platform_wide_by_its_e164_digits(world: AdminWorld) -> None:
    added = world.post("/admin/blacklist", {"msisdn": "+44 7700 900123", "reason": "asked us"})
    assert added.status == 201, added
    assert added.json["msisdn"] == "447700900123" and added.json["partner_id"] is None
    # What MO routing and MT sending look up: BlacklistEntry "<scope>#<msisdn>".
    assert world.entities.get(BlacklistEntry, "*#447700900123") is not None
    assert world.post("/admin/blacklist", {"msisdn": "00447700900123", "reason": "asked us"}).status == 200
    assert (
        world.post("/admin/blacklist", {"msisdn": "447700900123", "reason": "other"}).code == "already_exists"
    )
    assert world.get("/admin/blacklist/447700900123").json["reason"] == "asked us"
    assert world.get("/admin/blacklist/447700900123?partner_id=p1").status == 404

    assert world.delete("/admin/blacklist/%2B447700900123").status == 200
    assert world.entities.get(BlacklistEntry, "*#447700900123") is None
    assert world.delete("/admin/blacklist/447700900123").status == 404
    actions = [(e["action"], e["changes"]["msisdn"]) for e in world.audit()]
    assert actions == [("blacklist.add", "447700900123"), ("blacklist.remove", "447700900123")]


def test_a_partners_own_blacklist(world: AdminWorld) -> None:
    added = world.post("/admin/blacklist", {"msisdn": "447700900124", "partner_id": "p1"})
    assert added.status == 201 and added.json["partner_id"] == "p1"
    assert world.entities.get(BlacklistEntry, "p1#447700900124") is not None
    world.post("/admin/blacklist", {"msisdn": "447700900125", "partner_id": "p1"})
    world.post("/admin/blacklist", {"msisdn": "447700900126"})
    page = world.get("/admin/blacklist?partner_id=p1&limit=1")
    rest = world.get(f"/admin/blacklist?partner_id=p1&cursor={page.json['next_cursor']}")
    assert [e["msisdn"] for e in page.json["items"] + rest.json["items"]] == ["447700900124", "447700900125"]
    assert [e["msisdn"] for e in world.get("/admin/blacklist").json["items"]] == ["447700900126"]
    assert world.get("/admin/blacklist?partner_id=nobody").status == 404
    unknown = world.post("/admin/blacklist", {"msisdn": "447700900127", "partner_id": "nobody"})
    assert unknown.status == 422 and unknown.json["errors"][0]["field"] == "partner_id"
    assert world.delete("/admin/blacklist/447700900124?partner_id=p1").status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"msisdn": "07700 900123"},  # national: which country?
        {"msisdn": "4477009001234567890"},
        {"msisdn": "447700900123", "scope": "*"},  # the stored form is not input
        {"msisdn": "447700900123", "created_at": "2026-01-01T00:00:00Z"},
    ],
)
def test_bad_blacklist_entries_are_refused(world: AdminWorld, body: dict) -> None:
    assert world.post("/admin/blacklist", body).status == 422
    assert world.entities.blacklist("*", limit=10) == ([], None)


def test_a_reserved_word_catches_its_look_alikes_and_feeds_prefix_checks(world: AdminWorld) -> None:
    added = world.post("/admin/reserved-prefixes", {"word": "Promo", "kind": "forbidden", "reason": "spam"})
    assert added.status == 201, added
    assert added.json["folded"] == "promo"
    entry = world.entities.get(ReservedPrefix, "promo")
    assert entry is not None and word_refusal("promo", entry, ()) is WordRefusal.FORBIDDEN
    # Cyrillic look-alikes fold to the same word: one entry, found by either spelling.
    cyrillic = "\u0420R\u041e\u041c\u041e"  # Cyrillic ER, Latin R, Cyrillic O, EM, O
    assert world.get(f"/admin/reserved-prefixes/{quote(cyrillic)}").json["word"] == "Promo"
    same = world.post("/admin/reserved-prefixes", {"word": "PROMO", "kind": "forbidden", "reason": "spam"})
    assert same.status == 409 and same.code == "already_exists"  # another spelling, another entry asked
    world.post("/admin/reserved-prefixes", {"word": "help", "kind": "reserved"})
    assert [e["folded"] for e in world.get("/admin/reserved-prefixes").json["items"]] == ["help", "promo"]
    assert world.delete("/admin/reserved-prefixes/PROMO").status == 200
    assert world.entities.get(ReservedPrefix, "promo") is None
    assert world.get("/admin/reserved-prefixes/promo").status == 404


def test_reserved_words_fold_with_the_admins_lookalikes(world: AdminWorld) -> None:
    world.entities.put(RoutingConfig(lookalikes={"@": "a"}))
    assert world.post("/admin/reserved-prefixes", {"word": "BAR", "kind": "reserved"}).json["folded"] == "bar"
    assert world.get("/admin/reserved-prefixes/b%40r").status == 422  # '@' cannot be typed in a prefix
    assert world.get("/admin/reserved-prefixes/bar").status == 200


@pytest.mark.parametrize("word", ["two words", "", "x" * 33, "ab-cd", "!!"])
def test_words_that_could_never_be_prefixes_are_refused(world: AdminWorld, word: str) -> None:
    answer = world.post("/admin/reserved-prefixes", {"word": word, "kind": "reserved"})
    assert answer.status == 422, answer
    assert world.entities.reserved_prefixes(limit=10) == ([], None)
