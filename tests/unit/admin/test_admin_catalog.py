"""Operators, links and short numbers through the admin API (logic/admin_catalog.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import OperatorLink, ShortNumber
from smsbilling.domain.secrets import hash_token, token_matches

from .world import OPERATOR, AdminWorld, setup_catalogue

HTTP_TOKEN = "operator-inbound-token-0123456789"
MT_TOKEN = "platform-outbound-mt-token-987654"


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def test_an_operator_is_created_once_with_its_books(world: AdminWorld) -> None:
    created = world.post("/admin/operators", OPERATOR)
    assert created.status == 201 and created.json == OPERATOR
    assert world.ledger.balance(acc.operator("op1", Book.RECEIVABLE)).currency == "GBP"
    assert world.ledger.balance(acc.platform(Book.REVENUE)).currency == "GBP"

    assert world.post("/admin/operators", OPERATOR).status == 200  # a retry: the same operator
    other = world.post("/admin/operators", OPERATOR | {"name": "Someone else"})
    assert other.status == 409 and other.code == "already_exists"
    assert world.get("/admin/operators/op1").json["name"] == "Op One"
    # The platform's books hold one money currency: an operator billing in another is refused.
    other_currency = world.post("/admin/operators", OPERATOR | {"operator_id": "op9", "currency": "RUB"})
    assert other_currency.status == 409 and other_currency.code == "currency_conflict"
    assert world.post("/admin/operators", OPERATOR | {"operator_id": "op9", "name": "Op 9"}).status == 201
    assert [op["operator_id"] for op in world.get("/admin/operators").json["items"]] == ["op1", "op9"]
    assert [e["action"] for e in world.audit()] == ["operator.create", "operator.create"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator_id": "op/1"}, "operator_id"),  # not usable in ledger account ids
        ({"currency": "gbp"}, "currency"),
        ({"country_code": "044"}, "country_code"),
        ({"msisdn_prefixes": ["+447"]}, "msisdn_prefixes.0"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_bad_operators_are_refused_with_the_field_at_fault(
    world: AdminWorld, change: dict, field: str
) -> None:
    answer = world.post("/admin/operators", OPERATOR | change)
    assert answer.status == 422, answer
    assert field in [e["field"] for e in answer.json["errors"]]
    assert world.get("/admin/operators").json["items"] == []


def test_an_operator_is_changed_field_by_field_and_its_currency_never(world: AdminWorld) -> None:
    world.post("/admin/operators", OPERATOR)
    changed = world.patch("/admin/operators/op1", {"name": "Op 1", "default_reply": None})
    assert changed.status == 200
    assert changed.json == OPERATOR | {"name": "Op 1", "default_reply": None}
    assert world.patch("/admin/operators/op1", {"currency": "EUR"}).status == 422
    assert world.patch("/admin/operators/op1", {"name": None}).status == 422  # required: cannot clear
    assert world.patch("/admin/operators/nope", {"name": "x"}).status == 404
    assert world.get("/admin/operators/nope").status == 404
    update = world.audit()[-1]
    assert update["action"] == "operator.update" and update["changes"] == {
        "name": "Op 1",
        "default_reply": None,
    }


def test_link_credentials_go_in_and_never_come_out(world: AdminWorld) -> None:
    world.post("/admin/operators", OPERATOR)
    link = {
        "link_id": "op1-http",
        "protocol": "http",
        "http_token": HTTP_TOKEN,
        "mt_url": "https://smsc.example.com/mt",
        "mt_token": MT_TOKEN,
    }
    created = world.post("/admin/operators/op1/links", link)
    assert created.status == 201, created
    view = created.json
    assert view["has_http_token"] and view["has_mt_token"] and not view["has_smpp_password"]
    assert view["operator_id"] == "op1" and view["enabled"] is True
    stored = world.entities.get(OperatorLink, "op1-http")
    assert stored is not None and token_matches(HTTP_TOKEN, stored.http_token_hash or "")
    assert stored.mt_token == MT_TOKEN  # the platform presents it to the operator

    assert world.post("/admin/operators/op1/links", link).status == 200  # same token: same link
    assert (
        world.post("/admin/operators/op1/links", link | {"http_token": "another-token-0123456"}).status == 409
    )

    rotated = world.patch(
        "/admin/links/op1-http", {"http_token": "rotated-token-0123456789", "enabled": False}
    )
    assert rotated.status == 200 and rotated.json["enabled"] is False
    stored = world.entities.get(OperatorLink, "op1-http")
    assert stored is not None and stored.http_token_hash == hash_token("rotated-token-0123456789")
    cleared = world.patch("/admin/links/op1-http", {"mt_token": None})
    assert cleared.json["has_mt_token"] is False

    everything = json.dumps(
        [world.get("/admin/links/op1-http").json, world.get("/admin/operators/op1/links").json, world.audit()]
    )
    for secret in (HTTP_TOKEN, MT_TOKEN, "rotated-token-0123456789", hash_token(HTTP_TOKEN)):
        assert secret not in everything
    assert [e["changes"].get("http_token_hash") for e in world.audit() if e["action"].startswith("link")] == [
        "***",
        "***",
        None,
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"link_id": "l1", "protocol": "http", "operator_id": "op2"},  # server-owned: from the path
        {"link_id": "l1", "protocol": "http", "http_token_hash": "a" * 64},  # stored form: never input
        {"link_id": "l1", "protocol": "http", "http_token": "short"},
        {"link_id": "l1", "protocol": "smpp", "smpp_host": "smsc.example.com", "smpp_port": 2775},
        {"link_id": "l1", "protocol": "http", "smpp_host": "smsc.example.com"},
        {"link_id": "l1", "protocol": "smpp", "mt_url": "https://x.example.com"},
    ],
)
def test_bad_links_are_refused(world: AdminWorld, body: dict) -> None:
    world.post("/admin/operators", OPERATOR)
    answer = world.post("/admin/operators/op1/links", body)
    assert answer.status == 422, answer
    assert world.entities.get(OperatorLink, "l1") is None


def test_an_smpp_link_to_an_smsc_and_its_removal(world: AdminWorld) -> None:
    world.post("/admin/operators", OPERATOR)
    smpp = {
        "link_id": "op1-smpp",
        "protocol": "smpp",
        "smpp_host": "smsc.example.com",
        "smpp_port": 2775,
        "smpp_system_id": "platform",
        "smpp_password": "secret1",
        "granted_tps": 30,
    }
    assert world.post("/admin/operators/nope/links", smpp).status == 404
    created = world.post("/admin/operators/op1/links", smpp)
    assert created.status == 201 and created.json["has_smpp_password"] and "smpp_password" not in created.json
    assert (
        world.patch("/admin/links/op1-smpp", {"smpp_password": None}).status == 422
    )  # needed with smpp_host
    assert [link["link_id"] for link in world.get("/admin/operators/op1/links").json["items"]] == ["op1-smpp"]
    assert world.delete("/admin/links/op1-smpp").status == 200
    assert world.get("/admin/links/op1-smpp").status == 404
    assert world.delete("/admin/links/op1-smpp").status == 404
    assert world.get("/admin/operators/op1/links").json["items"] == []


def test_short_numbers_are_created_listed_paged_and_changed(world: AdminWorld) -> None:
    setup_catalogue(world)
    for number in ("5555", "3333"):
        world.post("/admin/operators/op1/short-numbers", {"number": number, "tariff_plan_id": "plan-a"})
    assert (
        world.post("/admin/operators/op2/short-numbers", {"number": "1", "tariff_plan_id": "p"}).status == 422
    )
    assert (
        world.post("/admin/operators/op2/short-numbers", {"number": "7777", "tariff_plan_id": "p"}).status
        == 404
    )

    first = world.get("/admin/operators/op1/short-numbers?limit=2")
    assert [n["number"] for n in first.json["items"]] == ["3333", "4444"]
    rest = world.get(f"/admin/operators/op1/short-numbers?limit=2&cursor={first.json['next_cursor']}")
    assert [n["number"] for n in rest.json["items"]] == ["5555"] and rest.json["next_cursor"] is None
    assert world.get("/admin/operators/op1/short-numbers?limit=201").status == 422
    assert world.get("/admin/operators/op1/short-numbers?cursor=garbage").code == "invalid_cursor"

    changed = world.patch("/admin/operators/op1/short-numbers/4444", {"billing_model": "mt"})
    assert changed.status == 200 and changed.json["billing_model"] == "mt"
    stored = world.entities.get(ShortNumber, "op1#4444")
    assert stored is not None and stored.billing_model == "mt" and stored.tariff_plan_id == "plan-a"
    assert world.patch("/admin/operators/op1/short-numbers/4444", {"operator_id": "op2"}).status == 422
    assert world.get("/admin/operators/op1/short-numbers/9999").status == 404
    assert (
        world.post("/admin/operators/op1/short-numbers", {"number": "4444", "tariff_plan_id": "b"}).status
        == 409
    )
