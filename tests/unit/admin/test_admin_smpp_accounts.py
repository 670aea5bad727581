"""SMPP accounts (the bridge's logins) through the admin API (logic/admin_smpp_accounts.py).

The admin lists and reads them (never the password hash) and sets their bind limits; what it sets
is what the bridge reads at the next bind (tests/interop/test_bridge_account_overrides.py shows the
bridge applying it over real sockets).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_entities import from_item, to_item
from smsbilling.domain.entities import SmppAccount
from smsbilling.domain.secrets import hash_password, password_matches
from smsbilling.logic.admin_common import REDACTED

from .world import PARTNER_KEY, AdminWorld

PASSWORD = "s3cret!!"
HASH = hash_password(PASSWORD)


def account(system_id: str, **fields: Any) -> SmppAccount:
    base: dict[str, Any] = {
        "system_id": system_id,
        "password_hash": HASH,
        "owner_kind": "partner",
        "owner_id": "p1",
        "allowed_cidrs": ("192.0.2.0/24",),
    }
    return SmppAccount(**(base | fields))


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    for item in (
        account("p1-bulk"),
        account("p1-otp", binds_max=2),
        account("opsmsc", owner_kind="operator"),
    ):
        w.entities.put(item)
    with w.serving():
        yield w


def stored(world: AdminWorld, system_id: str) -> SmppAccount:
    found = world.entities.get(SmppAccount, system_id)
    assert found is not None
    return found


def test_accounts_are_listed_by_system_id_page_by_page_without_their_password(world: AdminWorld) -> None:
    first = world.get("/admin/smpp-accounts?limit=2")
    assert first.status == 200, first
    rest = world.get(f"/admin/smpp-accounts?limit=2&cursor={first.json['next_cursor']}")
    assert rest.json["next_cursor"] is None
    items = first.json["items"] + rest.json["items"]
    assert [a["system_id"] for a in items] == ["opsmsc", "p1-bulk", "p1-otp"]
    assert items[2] == {
        "system_id": "p1-otp",
        "owner_kind": "partner",
        "owner_id": "p1",
        "allowed_cidrs": ["192.0.2.0/24"],
        "binds_max": 2,
        "enabled": True,
        "submit_rate_per_s": None,
        "account_submit_rate_per_s": None,
        "has_password": True,
    }
    one = world.get("/admin/smpp-accounts/p1-bulk")
    assert one.status == 200 and one.json == items[1]
    for answer in (first, rest, one):
        assert "password_hash" not in answer.text and HASH not in answer.text and "scrypt" not in answer.text
    assert world.get("/admin/smpp-accounts?cursor=bm9wZQ").code == "invalid_cursor"
    assert world.get("/admin/smpp-accounts?limit=201").status == 422


def test_an_unknown_account_is_404(world: AdminWorld) -> None:
    for answer in (
        world.get("/admin/smpp-accounts/ghost"),
        world.patch("/admin/smpp-accounts/ghost", {"binds_max": 2}),
    ):
        assert answer.status == 404 and answer.code == "not_found", answer
    assert world.entities.get(SmppAccount, "ghost") is None
    assert world.audit() == []


def test_a_partner_key_is_403_and_changes_nothing(world: AdminWorld) -> None:
    before = stored(world, "p1-bulk")
    for answer in (
        world.get("/admin/smpp-accounts", key=PARTNER_KEY),
        world.get("/admin/smpp-accounts/p1-bulk", key=PARTNER_KEY),
        world.patch("/admin/smpp-accounts/p1-bulk", {"submit_rate_per_s": 10000}, key=PARTNER_KEY),
    ):
        assert answer.status == 403 and answer.code == "forbidden", answer
    assert world.get("/admin/smpp-accounts", key=None).status == 401
    assert stored(world, "p1-bulk") == before
    assert world.audit() == []


def test_limits_are_set_field_by_field_audited_and_a_null_rate_is_the_default_again(
    world: AdminWorld,
) -> None:
    changed = world.patch(
        "/admin/smpp-accounts/p1-bulk",
        {"submit_rate_per_s": 2.5, "account_submit_rate_per_s": 40, "binds_max": 8},
    )
    assert changed.status == 200, changed
    assert (changed.json["submit_rate_per_s"], changed.json["account_submit_rate_per_s"]) == (2.5, 40)
    assert (changed.json["binds_max"], changed.json["enabled"]) == (8, True)
    account_now = stored(world, "p1-bulk")
    assert (account_now.submit_rate_per_s, account_now.account_submit_rate_per_s) == (2.5, 40.0)
    assert password_matches(PASSWORD, account_now.password_hash)  # untouched
    assert world.get("/admin/smpp-accounts/p1-bulk").json == changed.json

    off = world.patch("/admin/smpp-accounts/p1-bulk", {"enabled": False, "submit_rate_per_s": None})
    assert off.status == 200 and off.json["enabled"] is False
    assert (off.json["submit_rate_per_s"], off.json["account_submit_rate_per_s"]) == (None, 40)
    assert stored(world, "p1-bulk").submit_rate_per_s is None
    assert stored(world, "p1-otp").submit_rate_per_s is None  # the others are not concerned

    unchanged = world.patch("/admin/smpp-accounts/p1-bulk", {})
    assert unchanged.status == 200 and unchanged.json == off.json

    audit = world.audit()
    assert [(e["action"], e["target"], e["admin_key_id"]) for e in audit] == [
        ("smpp_account.update", "SMPPACCT#p1-bulk", "ops-1")
    ] * 2
    assert audit[0]["changes"] == {
        "submit_rate_per_s": "2.5",
        "account_submit_rate_per_s": "40.0",
        "binds_max": 8,
    }
    assert audit[1]["changes"] == {"enabled": False, "submit_rate_per_s": None}
    assert HASH not in str(audit)


def test_the_allow_list_is_stored_as_canonical_networks(world: AdminWorld) -> None:
    answer = world.patch(
        "/admin/smpp-accounts/p1-bulk",
        {"allowed_cidrs": ["198.51.100.7", " 2001:DB8::/32", "203.0.113.0/24", "198.51.100.7/32"]},
    )
    assert answer.status == 200, answer
    expected = ["198.51.100.7/32", "2001:db8::/32", "203.0.113.0/24"]
    assert answer.json["allowed_cidrs"] == expected
    assert stored(world, "p1-bulk").allowed_cidrs == tuple(expected)
    closed = world.patch("/admin/smpp-accounts/p1-bulk", {"allowed_cidrs": []})
    assert closed.status == 200 and closed.json["allowed_cidrs"] == []  # no address may bind


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"submit_rate_per_s": 0}, "submit_rate_per_s"),
        ({"submit_rate_per_s": 0.05}, "submit_rate_per_s"),
        ({"submit_rate_per_s": -1}, "submit_rate_per_s"),
        ({"account_submit_rate_per_s": 10_001}, "account_submit_rate_per_s"),
        ({"account_submit_rate_per_s": "fast"}, "account_submit_rate_per_s"),
        ({"binds_max": 0}, "binds_max"),
        ({"binds_max": 101}, "binds_max"),
        ({"binds_max": None}, "binds_max"),  # only the rates have a default to go back to
        ({"enabled": None}, "enabled"),
        ({"enabled": "maybe"}, "enabled"),
        ({"allowed_cidrs": None}, "allowed_cidrs"),
        ({"allowed_cidrs": ["10.0.0.0/8", "10.0.0.300/8"]}, "allowed_cidrs.1"),
        ({"allowed_cidrs": ["10.1.2.3/8"]}, "allowed_cidrs.0"),  # host bits: refused, not widened
        ({"allowed_cidrs": ["example.com"]}, "allowed_cidrs.0"),
        ({"allowed_cidrs": [f"10.0.{n}.0/24" for n in range(51)]}, "allowed_cidrs"),
        ({"password_hash": "x"}, "password_hash"),
        ({"password": "newpass1"}, "password"),
        ({"owner_id": "p2"}, "owner_id"),
        ({"system_id": "other"}, "system_id"),
    ],
)
def test_bad_values_are_422_with_the_field_and_change_nothing(
    world: AdminWorld, body: dict[str, Any], field: str
) -> None:
    before = stored(world, "p1-bulk")
    answer = world.patch("/admin/smpp-accounts/p1-bulk", body)
    assert answer.status == 422 and answer.code == "validation_failed", answer
    assert field in [e["field"] for e in answer.json["errors"]], answer
    assert stored(world, "p1-bulk") == before
    assert world.audit() == []


def test_a_fractional_rate_is_stored_without_floats_and_reads_back_exactly() -> None:
    """The entities table takes no floats (DynamoDB's serialiser refuses them): the text goes in."""
    item = to_item(account("p1-bulk", submit_rate_per_s=0.3, account_submit_rate_per_s=1234.5))
    assert item["submit_rate_per_s"] == {"S": "0.3"} and item["account_submit_rate_per_s"] == {"S": "1234.5"}
    assert (item["gsi1pk"], item["gsi1sk"]) == ({"S": "SMPPACCTS"}, {"S": "p1-bulk"})
    back = from_item(SmppAccount, item)
    assert (back.submit_rate_per_s, back.account_submit_rate_per_s) == (0.3, 1234.5)
    assert "submit_rate_per_s" not in to_item(account("p1-bulk"))  # the default is no attribute


NEW = {"system_id": "p1-new", "owner_kind": "partner", "owner_id": "p1", "allowed_cidrs": ["198.51.100.7"]}


def test_a_new_account_gets_a_password_shown_once_and_stored_only_as_a_hash(world: AdminWorld) -> None:
    made = world.post("/admin/smpp-accounts", NEW | {"binds_max": 2, "submit_rate_per_s": 5})
    assert made.status == 201, made
    assert made.headers.get("cache-control") == "no-store"
    view = dict(made.json)
    password = view.pop("password")
    assert len(password) == 8 and password.isalnum()  # an SMPP password holds 8 characters
    assert view == {
        "system_id": "p1-new",
        "owner_kind": "partner",
        "owner_id": "p1",
        "allowed_cidrs": ["198.51.100.7/32"],
        "binds_max": 2,
        "enabled": True,
        "submit_rate_per_s": 5,
        "account_submit_rate_per_s": None,
        "has_password": True,
    }
    account_now = stored(world, "p1-new")
    assert password_matches(password, account_now.password_hash) and password not in account_now.password_hash
    read = world.get("/admin/smpp-accounts/p1-new")
    assert read.json == view and password not in read.text
    [entry] = world.audit()
    assert (entry["action"], entry["target"]) == ("smpp_account.create", "SMPPACCT#p1-new")
    assert entry["changes"]["allowed_cidrs"] == ["198.51.100.7/32"]
    assert password not in str(entry) and "password_hash" not in entry["changes"]

    other = world.post("/admin/smpp-accounts", NEW | {"system_id": "p1-new2"}).json["password"]
    assert other != password  # each made at random


def test_a_new_password_replaces_the_old_one_and_is_never_audited(world: AdminWorld) -> None:
    renewed = world.post("/admin/smpp-accounts/p1-bulk/password")
    assert renewed.status == 200, renewed
    assert renewed.headers.get("cache-control") == "no-store"
    password = renewed.json["password"]
    account_now = stored(world, "p1-bulk")
    assert password_matches(password, account_now.password_hash)
    assert not password_matches(PASSWORD, account_now.password_hash)
    assert account_now.model_dump(exclude={"password_hash"}) == account("p1-bulk").model_dump(
        exclude={"password_hash"}
    )
    [entry] = world.audit()
    assert (entry["action"], entry["target"]) == ("smpp_account.password", "SMPPACCT#p1-bulk")
    assert password not in str(entry) and entry["changes"] == {"password": REDACTED}
    assert world.post("/admin/smpp-accounts/ghost/password").status == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (NEW | {"system_id": "p1-bulk"}, 409, None),  # taken
        (NEW | {"owner_id": "nobody"}, 422, "owner_id"),
        (NEW | {"owner_kind": "operator", "owner_id": "p1"}, 422, "owner_id"),  # p1 is a partner
        (NEW | {"owner_kind": "reseller"}, 422, "owner_kind"),
        (NEW | {"system_id": ""}, 422, "system_id"),
        (NEW | {"system_id": "sixteen-chars-xx"}, 422, "system_id"),
        (NEW | {"system_id": "with space"}, 422, "system_id"),
        (NEW | {"allowed_cidrs": ["10.1.2.3/8"]}, 422, "allowed_cidrs.0"),
        (NEW | {"binds_max": 0}, 422, "binds_max"),
        (NEW | {"password": "mine1234"}, 422, "password"),  # the platform makes it
        (NEW | {"password_hash": "x"}, 422, "password_hash"),
        ({k: v for k, v in NEW.items() if k != "owner_id"}, 422, "owner_id"),
    ],
)
def test_a_bad_new_account_is_refused_with_the_reason_and_changes_nothing(
    world: AdminWorld, body: dict[str, Any], status: int, field: str | None
) -> None:
    before = dict(world.entities.items)
    answer = world.post("/admin/smpp-accounts", body)
    assert answer.status == status, answer
    if field is not None:
        assert field in [e["field"] for e in answer.json["errors"]], answer
    else:
        assert answer.code == "already_exists"
    assert world.entities.items == before
    assert world.audit() == []


def test_a_partner_key_cannot_make_accounts_or_passwords(world: AdminWorld) -> None:
    before = dict(world.entities.items)
    assert world.post("/admin/smpp-accounts", NEW, key=PARTNER_KEY).status == 403
    assert world.post("/admin/smpp-accounts/p1-bulk/password", key=PARTNER_KEY).status == 403
    assert world.entities.items == before
