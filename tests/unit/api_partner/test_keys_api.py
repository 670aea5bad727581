"""API keys over the partner API (web/keys.py): shown once, hashed, listed, scoped, revocable."""

from __future__ import annotations

from smsbilling.domain.entities import ApiKey
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import PartnerAccountLimits

from .world import World


def test_a_new_key_is_shown_once_and_stored_as_a_hash(world: World) -> None:
    _, root = world.active_partner()
    new = world.key(root, ["services:read"], label="ci")
    assert new["scopes"] == ["services:read"] and new["label"] == "ci" and new["revoked_at"] is None
    stored = world.entities.get(ApiKey, hash_token(new["secret"]))
    assert stored is not None and stored.key_id == new["key_id"] and stored.hint == new["secret"][-4:]
    status, _, page = world.call("GET", "/v1/keys", key=root)
    assert status == 200 and page["next_cursor"] is None
    listed = {k["key_id"]: k for k in page["items"]}
    assert set(listed[new["key_id"]]) == {"key_id", "label", "scopes", "hint", "created_at", "revoked_at"}
    assert new["secret"] not in repr(page)
    # The new key authenticates, within its scope.
    assert world.call("GET", "/v1/services", key=new["secret"])[0] == 200


def test_scopes_are_enforced(world: World) -> None:
    _, root = world.active_partner()
    reader = world.key(root, ["services:read"])["secret"]
    writer = world.key(root, ["services:write"])["secret"]
    sender = world.key(root, ["messages:send"])["secret"]

    status, _, problem = world.call("POST", "/v1/services", world.service_body(), key=reader)
    assert status == 403 and problem["code"] == "insufficient_scope" and problem["scope"] == "services:write"
    status, _, created = world.call("POST", "/v1/services", world.service_body(), key=writer)
    assert status == 201
    assert (
        world.call("GET", f"/v1/services/{created['service_id']}", key=writer)[0] == 200
    )  # write includes read
    assert world.call("GET", f"/v1/services/{created['service_id']}", key=reader)[0] == 200
    assert world.call("GET", f"/v1/services/{created['service_id']}", key=sender)[0] == 403
    assert world.call("GET", "/v1/prefixes/QUIZ/availability", key=sender)[0] == 403
    for secret in (reader, writer, sender):  # only keys:manage manages keys
        assert world.call("GET", "/v1/keys", key=secret)[2]["code"] == "insufficient_scope"
        assert world.call("POST", "/v1/keys", {"scopes": ["keys:manage"]}, key=secret)[0] == 403


def test_unknown_scopes_and_fields_are_refused(world: World) -> None:
    _, root = world.active_partner()
    for body in (
        {"scopes": ["admin"]},
        {"scopes": []},
        {"key_id": "mine"},
        {"secret": "sk_x"},
        {"hint": "abcd"},
    ):
        status, _, problem = world.call("POST", "/v1/keys", body, key=root)
        assert status == 422 and problem["code"] == "validation_failed", body
    assert (
        len(world.store.rings[world.call("GET", "/v1/partners/me", key=root)[2]["partner_id"]].key_ids) == 1
    )


def test_a_revoked_key_stops_working(world: World) -> None:
    _, root = world.active_partner()
    other = world.key(root, ["services:read"])
    status, _, revoked = world.call("DELETE", f"/v1/keys/{other['key_id']}", key=root)
    assert status == 200 and revoked["revoked_at"] is not None and "secret" not in revoked
    status, _, problem = world.call("GET", "/v1/services", key=other["secret"])
    assert status == 401 and problem["code"] == "unauthenticated"
    # Revoked already: 404, as a random id.
    assert world.call("DELETE", f"/v1/keys/{other['key_id']}", key=root)[0] == 404
    assert world.call("DELETE", "/v1/keys/key_000000000000000000000000", key=root)[0] == 404
    listed = {k["key_id"]: k for k in world.call("GET", "/v1/keys", key=root)[2]["items"]}
    assert listed[other["key_id"]]["revoked_at"] is not None


def test_another_partners_key_is_not_found_and_keeps_working(world: World) -> None:
    _, a = world.active_partner("Alpha")
    _, b = world.active_partner("Beta")
    b_key = world.key(b, ["services:read"])
    status, _, problem = world.call("DELETE", f"/v1/keys/{b_key['key_id']}", key=a)
    assert status == 404 and problem["code"] == "not_found"
    assert world.call("GET", "/v1/services", key=b_key["secret"])[0] == 200
    assert b_key["key_id"] not in repr(world.call("GET", "/v1/keys", key=a)[2])


def test_the_last_manage_key_cannot_be_revoked(world: World) -> None:
    _, root = world.active_partner()
    root_id = world.call("GET", "/v1/keys", key=root)[2]["items"][0]["key_id"]
    reader = world.key(root, ["services:read"])
    status, _, problem = world.call("DELETE", f"/v1/keys/{root_id}", key=root)
    assert status == 409 and problem["code"] == "last_manage_key"
    assert world.call("GET", "/v1/keys", key=root)[0] == 200  # still works
    # With a second manage key, the first may go (even revoking itself), then the second is the last.
    second = world.key(root, ["keys:manage"])
    assert world.call("DELETE", f"/v1/keys/{root_id}", key=root)[0] == 200
    assert world.call("GET", "/v1/keys", key=root)[0] == 401
    assert world.call("DELETE", f"/v1/keys/{second['key_id']}", key=second["secret"])[0] == 409
    # Keys without keys:manage can always be revoked.
    assert world.call("DELETE", f"/v1/keys/{reader['key_id']}", key=second["secret"])[0] == 200


def test_active_keys_are_limited() -> None:
    world = World(PartnerAccountLimits(api_keys_per_partner_max=3))
    try:
        _, root = world.active_partner()
        a = world.key(root, ["services:read"])
        world.key(root, ["services:read"])
        status, _, problem = world.call("POST", "/v1/keys", {"scopes": ["services:read"]}, key=root)
        assert status == 409 and problem["code"] == "key_limit_reached"
        assert world.call("DELETE", f"/v1/keys/{a['key_id']}", key=root)[0] == 200
        assert world.call("POST", "/v1/keys", {"scopes": ["services:read"]}, key=root)[0] == 201
    finally:
        World.uninstall()


def test_keys_made_outside_the_api_hold_every_scope(world: World) -> None:
    world.legacy_partner("demo", "sk_demo_key", scopes=("partner",))
    status, _, page = world.call("GET", "/v1/keys", key="sk_demo_key")
    assert status == 200 and page["items"][0]["scopes"][0] == "keys:manage" and page["items"][0]["hint"] == ""
    # Its own revocation needs a manage key made through the API to remain.
    status, _, problem = world.call("DELETE", "/v1/keys/k-demo", key="sk_demo_key")
    assert status == 409 and problem["code"] == "last_manage_key"
    new = world.key("sk_demo_key", ["keys:manage"])
    assert world.call("DELETE", "/v1/keys/k-demo", key=new["secret"])[0] == 200
    assert world.call("GET", "/v1/keys", key="sk_demo_key")[0] == 401


def test_key_listing_pages(world: World) -> None:
    _, root = world.active_partner()
    made = {world.key(root, ["services:read"])["key_id"] for _ in range(4)}
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, _, page = world.call("GET", "/v1/keys", key=root, query=query)
        assert status == 200 and len(page["items"]) <= 2
        seen += [k["key_id"] for k in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert made < set(seen) and len(seen) == len(set(seen)) == 5
    assert world.call("GET", "/v1/keys", key=root, query={"cursor": "garbage"})[2]["code"] == "invalid_cursor"
    assert world.call("GET", "/v1/keys", key=root, query={"limit": "0"})[0] == 422
