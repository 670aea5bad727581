"""Messages, statistics, balance and statements as the partner API function serves them (fakes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import ApiKey
from smsbilling.domain.secrets import hash_token

from .world import KEYS, SHARE, T0, World, all_pages, get


def _traffic(world: World) -> dict[str, str]:
    """p1: 4 MOs (one from another number) and 3 final MTs plus one on its way; p2: 2 MOs, 1 MT."""
    ids = {}
    for i in range(4):
        msisdn = "447700900999" if i == 3 else "447700900123"
        ids[f"mo{i}"] = world.mo(f"ABC {i}", at=T0 + timedelta(minutes=i), msisdn=msisdn).message_id
    world.mt("mt-a", at=T0 + timedelta(minutes=1, seconds=30))
    world.mt("mt-b", at=T0 + timedelta(minutes=5), billed=True)
    world.mt("mt-c", at=T0 + timedelta(minutes=6), final=DlrStatus.UNDELIVERED, test=True)
    world.mt("mt-flying", at=T0 + timedelta(minutes=7), final=None)
    ids["p2-mo0"] = world.mo("XYZ 0", at=T0).message_id
    ids["p2-mo1"] = world.mo("XYZ 1", at=T0 + timedelta(minutes=2)).message_id
    world.mt("p2-mt", partner_id="p2", at=T0 + timedelta(minutes=3))
    return ids


def test_listing_pages_through_mos_and_final_mts_newest_first(world: World) -> None:
    ids = _traffic(world)
    items = all_pages("/v1/messages")
    assert [i["message_id"] for i in items] == [
        "mt-c",
        "mt-b",
        ids["mo3"],
        ids["mo2"],
        "mt-a",
        ids["mo1"],
        ids["mo0"],
    ]  # the MT on its way is not listed yet; p2's are not ours
    first = get("/v1/messages")[1]
    assert len(first["items"]) == world.limits.page_size_default and first["next_cursor"]
    mo = next(i for i in items if i["message_id"] == ids["mo0"])
    assert mo | {"at": None} == mo | {
        "direction": "mo",
        "status": "routed",
        "at": None,
        "msisdn": "447700900123",
        "short_number": "4444",
        "service_id": "s1",
        "text": "ABC 0",
        "keyword": "ABC",
        "billed": True,
        "price": 150,
        "currency": "GBP",
        "test": False,
    }
    assert mo["at"] == "2026-11-22T12:00:00Z"
    mt_c = items[0]
    assert (mt_c["direction"], mt_c["status"], mt_c["test"], mt_c["parts"]) == ("mt", "undelivered", True, 1)


def test_page_size_is_capped_and_chosen(world: World) -> None:
    _traffic(world)
    assert len(get("/v1/messages", {"limit": "2"})[1]["items"]) == 2
    assert len(get("/v1/messages", {"limit": "1000"})[1]["items"]) == world.page_size_max
    assert get("/v1/messages", {"limit": "0"})[0] == 422


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"direction": "mo"}, ["mo3", "mo2", "mo1", "mo0"]),
        ({"direction": "mt", "status": "delivered"}, ["mt-b", "mt-a"]),
        ({"msisdn": "+44 7700 900999"}, ["mo3"]),
        ({"msisdn": "00447700900123", "direction": "mt"}, ["mt-c", "mt-b", "mt-a"]),
        ({"status": "undelivered"}, ["mt-c"]),
        ({"service_id": "s2"}, []),
        ({"from": "2026-11-22T12:01:00Z", "to": "2026-11-22T12:03:00+00:00"}, ["mo2", "mt-a", "mo1"]),
        ({"from": "2026-11-22T15:01:00+03:00", "direction": "mo"}, ["mo3", "mo2", "mo1"]),
        ({"to": "2026-11-22T12:01:00"}, ["mo0"]),  # no offset: UTC
    ],
)
def test_filters(world: World, params: dict[str, str], expected: list[str]) -> None:
    ids = _traffic(world)
    got = [i["message_id"] for i in all_pages("/v1/messages", params)]
    assert got == [ids.get(name, name) for name in expected]


def test_a_cursor_works_only_with_the_filters_and_partner_it_was_made_for(world: World) -> None:
    _traffic(world)
    cursor = get("/v1/messages", {"direction": "mo"})[1]["next_cursor"]
    assert get("/v1/messages", {"direction": "mo", "cursor": cursor})[0] == 200
    for params, key in (
        ({"direction": "mt", "cursor": cursor}, KEYS["p1"]),
        ({"cursor": cursor}, KEYS["p1"]),
        ({"direction": "mo", "cursor": cursor}, KEYS["p2"]),
        ({"direction": "mo", "cursor": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")}, KEYS["p1"]),
        ({"direction": "mo", "cursor": "not-a-cursor"}, KEYS["p1"]),
    ):
        status, body = get("/v1/messages", params, key=key)
        assert (status, body["code"], body["field"]) == (400, "invalid_cursor", "cursor")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"msisdn": "12"}, "msisdn"),
        ({"msisdn": "+44 (0) abc"}, "msisdn"),
        ({"from": "2026-11-22T12:00:00Z", "to": "2026-11-22T12:00:00Z"}, "to"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),  # before the calendar once in UTC
    ],
)
def test_bad_filters_are_422_with_the_field(world: World, params: dict[str, str], field: str) -> None:
    status, body = get("/v1/messages", params)
    assert (status, body["code"]) == (422, "validation_failed")
    assert body["errors"][0]["field"] == field


def test_bad_types_and_unknown_directions_are_422(world: World) -> None:
    for params in ({"direction": "sideways"}, {"from": "yesterday"}, {"limit": "many"}):
        status, body = get("/v1/messages", params)
        assert (status, body["code"]) == (422, "validation_failed")


def test_one_message_by_id_and_another_partners_is_404(world: World) -> None:
    ids = _traffic(world)
    status, body = get(f"/v1/messages/{ids['mo1']}")
    assert status == 200 and body["text"] == "ABC 1"
    status, body = get("/v1/messages/mt-flying")
    assert status == 200 and body["status"] == "queued" and body["final_at"] is None
    for message_id, key in (
        (ids["p2-mo0"], KEYS["p1"]),
        ("p2-mt", KEYS["p1"]),
        (ids["mo1"], KEYS["p2"]),
        ("mt-a", KEYS["p2"]),
        ("no-such-message", KEYS["p1"]),
    ):
        status, body = get(f"/v1/messages/{message_id}", key=key)
        assert (status, body["code"]) == (404, "not_found")


def test_another_partner_sees_none_of_it(world: World) -> None:
    ids = _traffic(world)
    p2 = [i["message_id"] for i in all_pages("/v1/messages", key=KEYS["p2"])]
    assert p2 == ["p2-mt", ids["p2-mo1"], ids["p2-mo0"]]
    assert get("/v1/statistics", key=KEYS["p2"])[1]["totals"][0]["charged"] == 2
    lines = all_pages("/v1/statements", key=KEYS["p2"])
    assert sorted(line["reference"] for line in lines) == sorted([ids["p2-mo0"], ids["p2-mo1"]])


def test_a_key_needs_its_scope_and_a_caller_needs_a_key(world: World) -> None:
    _traffic(world)
    assert get("/v1/messages", key=KEYS["p1-messages"])[0] == 200
    assert get("/v1/statistics", key=KEYS["p1-messages"])[0] == 200
    for path in ("/v1/balance", "/v1/statements"):
        status, body = get(path, key=KEYS["p1-messages"])
        assert (status, body["code"]) == (403, "insufficient_scope")
    for path in ("/v1/messages", "/v1/messages/x", "/v1/statistics", "/v1/balance", "/v1/statements"):
        assert get(path, key=None)[0] == 401
        assert get(path, key="sk_live_unknown_key_0000000000")[0] == 401


# --- statistics --------------------------------------------------------------------------------------


def test_statistics_match_the_ledger(world: World) -> None:
    _traffic(world)
    world.mt("mt-waiting", at=T0 + timedelta(days=1), billed=True, final=None)
    status, body = get(
        "/v1/statistics", {"from": "2026-11-22", "to": "2026-11-23", "group_by": "day,short_number"}
    )
    assert status == 200 and body["from"] == "2026-11-22" and body["group_by"] == ["day", "short_number"]
    assert [(r["day"], r["short_number"], r["charged"], r["income"], r["pending"]) for r in body["rows"]] == [
        ("2026-11-22", "4444", 4, 4 * SHARE, 0),
        ("2026-11-22", "5555", 1, SHARE, 0),
        ("2026-11-23", "5555", 0, 0, 1),
    ]
    assert all(r["service_id"] is None and r["operator_id"] is None for r in body["rows"])
    [total] = body["totals"]
    earned = world.ledger.balance(acc.partner("p1", Book.EARNED_PENDING))
    assert total["income"] == earned.posted == 5 * SHARE and total["currency"] == "GBP"
    assert total["pending_income"] == -earned.pending == SHARE


def test_statistics_default_to_the_last_30_days_by_day(world: World) -> None:
    _traffic(world)
    status, body = get("/v1/statistics")
    assert status == 200 and (body["from"], body["to"]) == ("2026-10-25", "2026-11-23")
    assert [r["day"] for r in body["rows"]] == ["2026-11-22"]
    grouped = get("/v1/statistics", {"group_by": "service,operator", "service_id": "s1"})[1]
    assert [(r["service_id"], r["operator_id"], r["charged"]) for r in grouped["rows"]] == [("s1", "op1", 5)]
    flat = get("/v1/statistics", {"group_by": ""})[1]
    assert flat["rows"][0]["day"] is None and flat["rows"][0]["charged"] == 5


def test_the_calendars_ends_are_answered_not_crashed_on(world: World) -> None:
    _traffic(world)
    assert get("/v1/statistics", {"from": "9999-12-01", "to": "9999-12-31"})[1]["rows"] == []
    assert get("/v1/messages", {"from": "9999-12-31T23:59:59Z"})[1]["items"] == []
    assert get("/v1/statements", {"to": "0001-01-02T00:00:00Z"})[1]["items"] == []
    assert len(get("/v1/statements", {"from": "0001-01-01T00:00:00Z"})[1]["items"]) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "day,week"},
        {"from": "2026-11-22", "to": "2026-11-21"},
        {"from": "2026-01-01", "to": "2026-11-21"},  # more than statistics_days_max
        {"from": "22.11.2026"},
        {"to": "0001-01-05"},  # the default 30 days would start before the calendar
    ],
)
def test_bad_statistics_requests_are_422(world: World, params: dict[str, str]) -> None:
    status, body = get("/v1/statistics", params)
    assert (status, body["code"]) == (422, "validation_failed")


# --- balance and statements -----------------------------------------------------------------------------


def test_balance_and_statement_match_the_charges(world: World) -> None:
    ids = _traffic(world)
    status, body = get("/v1/balance")
    assert status == 200
    assert body["money"] == {
        "currency": "GBP",
        "earned": 5 * SHARE,
        "earned_awaiting_delivery": 0,
        "available": 0,
        "payouts_in_progress": 0,
        "paid_out": 0,
    }
    assert body["credits"] == {"balance": 0, "reserved": 0, "credit_limit": 0, "spendable": 0}
    lines = all_pages("/v1/statements")
    assert [line["reference"] for line in lines] == ["mt-b", ids["mo3"], ids["mo2"], ids["mo1"], ids["mo0"]]
    assert sum(e["amount"] for line in lines for e in line["entries"]) == body["money"]["earned"]
    assert lines[0]["kind"] == "mt_charge" and lines[0]["entries"] == [
        {"account": "earned_pending", "slot": None, "amount": SHARE, "pending": 0}
    ]
    dated = all_pages("/v1/statements", {"from": "2026-11-22T12:02:00Z", "to": "2026-11-22T12:05:00Z"})
    assert [line["reference"] for line in dated] == [ids["mo3"], ids["mo2"]]


def test_a_referrer_sees_its_commission_and_nothing_else(world: World) -> None:
    _traffic(world)
    p3_key = "sk_live_partner_three_012345"
    world.entities.put(ApiKey(key_hash=hash_token(p3_key), key_id="k-p3", partner_id="p3", created_at=T0))
    lines = all_pages("/v1/statements", key=p3_key)
    assert len(lines) == 2 and all(line["kind"] == "mo_charge" for line in lines)  # p2's two MOs
    commission = [{"account": "earned_pending", "slot": None, "amount": 5, "pending": 0}]
    assert all(line["entries"] == commission for line in lines)
    assert get("/v1/messages", key=p3_key)[1]["items"] == []
    assert get("/v1/statistics", key=p3_key)[1]["rows"] == []


def test_statement_cursor_and_dates_are_checked(world: World) -> None:
    _traffic(world)
    cursor = get("/v1/statements", {"limit": "1"})[1]["next_cursor"]
    status, body = get("/v1/statements", {"limit": "1", "cursor": cursor, "from": "2026-11-22T00:00:00Z"})
    assert (status, body["code"]) == (400, "invalid_cursor")
    status, body = get("/v1/statements", {"from": "2026-11-23T00:00:00Z", "to": "2026-11-22T00:00:00Z"})
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "validation_failed", "to")
