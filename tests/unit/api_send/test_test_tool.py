"""The test tool over the fakes: a test MO goes the real way to the handler, costs nothing, sends nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from smsbilling.contracts import MoReceived
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.entities import SubscriptionTerms
from smsbilling.domain.handler_protocol import RawResponse
from smsbilling.domain.handler_testing import SIMULATED_REASON, TEST_LINK_ID
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import TransferKind
from smsbilling.domain.mt import MtState
from smsbilling.domain.signing import verify
from smsbilling.logic.charging import period_of
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.reconcile import reconcile

from .world import KEYS, SECRET, T0, World, call, handler_reply


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.install()
    yield w
    World.uninstall()


def send_test_mo(
    world: World, text: str = "ABC 42", service_id: str = "s1", **extra: object
) -> dict[str, object]:
    status, _, body = call("POST", f"/v1/services/{service_id}/test-mo", {"text": text, **extra})
    assert status == 202, body
    return body  # type: ignore[no-any-return]


def no_money_moved(world: World) -> None:
    kinds = {t.transfer.kind for t in world.ledger.journal()}
    assert kinds <= {TransferKind.CREDIT_TOPUP}, kinds  # only the world's own top-up
    assert world.tally.get("p1", period_of(int(T0.timestamp() * 1000))) is None
    assert world.ledger.balance(acc.partner("p1", Book.EARNED_PENDING)).net == 0
    assert reconcile(world.ledger).ok


def test_a_test_mo_reaches_the_handler_and_its_reply_is_recorded_not_sent(world: World) -> None:
    body = send_test_mo(world, msisdn="+447700900555")
    assert body == {
        "message_id": body["message_id"],
        "service_id": "s1",
        "short_number": "4444",
        "msisdn": "447700900555",
        "text": "ABC 42",
        "is_test": True,
    }
    mo_id = str(body["message_id"])
    stored = world.mos.get(mo_id)
    assert stored is not None and stored.is_test and stored.link_id == TEST_LINK_ID
    assert world.intake.published == [MoReceived(message_id=mo_id, link_id=TEST_LINK_ID, received_at=T0)]

    world.handler.script.append(handler_reply("You are a tester"))
    world.run_mos()
    decided = world.mos.get(mo_id)
    assert decided is not None and decided.state is MoState.ROUTED and decided.charged_amount is None
    (request,) = world.handler.sent
    handler_body = json.loads(request.body)
    assert handler_body["test"] is True and handler_body["message_id"] == mo_id
    verify(request.body, request.headers["X-Smsbilling-Signature"], [SECRET], now=int(T0.timestamp()))

    world.run_mts()
    mt = world.mts.get(reply_mt_id(mo_id))
    assert mt is not None and mt.is_test and not mt.billed and mt.text == "You are a tester"
    assert (mt.mt.state, mt.mt.reason, mt.link_id, mt.handed_parts) == (
        MtState.DELIVERED,
        SIMULATED_REASON,
        None,
        (),
    )
    assert world.operator.received == [] and world.events.outbound == []  # no operator saw it
    assert world.status_endpoint.received == [] and world.events.notify == []
    no_money_moved(world)

    status, _, log = call("GET", "/v1/services/s1/test-log")
    assert status == 200 and log["next_cursor"] is None
    (item,) = log["items"]
    assert (item["message_id"], item["state"], item["msisdn"], item["short_number"], item["text"]) == (
        mo_id,
        "routed",
        "447700900555",
        "4444",
        "ABC 42",
    )
    assert item["delivery"]["state"] == "delivered" and item["delivery"]["http_status"] == 200
    assert item["reply"] == {
        "message_id": reply_mt_id(mo_id),
        "text": "You are a tester",
        "state": "delivered",
        "reason": SIMULATED_REASON,
    }


def test_an_mt_billed_number_bills_nothing_for_a_test(world: World) -> None:
    mo_id = str(send_test_mo(world, "game 1", service_id="s-mt")["message_id"])
    world.handler.script.append(handler_reply("Level up"))
    world.run_mos()
    world.run_mts()
    mt = world.mts.get(reply_mt_id(mo_id))
    assert mt is not None and mt.is_test and not mt.billed and mt.mt.state is MtState.DELIVERED
    assert world.operator.received == []
    no_money_moved(world)


def test_the_log_shows_a_failing_handler_and_a_reply_not_yet_recorded(world: World) -> None:
    failing = str(send_test_mo(world, "ABC fail")["message_id"])
    world.handler.script.append(RawResponse(500, {}, b"oops"))
    world.run_mos()
    world.clock.advance(1)
    answered = str(send_test_mo(world, "ABC ok")["message_id"])
    world.handler.script.append(handler_reply("fine"))
    world.run_mos()  # the MT processor has not run yet
    items = call("GET", "/v1/services/s1/test-log")[2]["items"]
    assert [i["message_id"] for i in items] == [answered, failing]  # newest first
    assert items[0]["reply"] == {
        "message_id": reply_mt_id(answered),
        "text": None,
        "state": "requested",
        "reason": "",
    }
    assert items[1]["delivery"]["state"] == "retrying" and items[1]["delivery"]["http_status"] == 500
    assert items[1]["reply"] is None
    assert world.events.delivery  # the real retry is scheduled, as for any MO


def test_the_prefix_is_added_when_missing_and_kept_when_typed(world: World) -> None:
    world.handler.script.extend(handler_reply("ok") for _ in range(4))
    assert send_test_mo(world, "just testing")["text"] == "ABC just testing"
    assert send_test_mo(world, "abc lower case")["text"] == "abc lower case"
    assert send_test_mo(world, "ABC")["text"] == "ABC"
    assert send_test_mo(world, "hi", short_number="6060")["short_number"] == "6060"
    world.run_mos()
    assert all(mo.state is MoState.ROUTED for mo in world.mos.messages.values())


def test_a_subscription_service_is_tested_without_subscribing_anyone(world: World) -> None:
    news = world.services["s1"].model_copy(
        update={"service_id": "s-news", "prefix": "NEWS", "subscription": SubscriptionTerms()}
    )
    world.entities.put(news)
    claim_prefix(world.entities, news, "op1#4444")
    send_test_mo(world, "NEWS", service_id="s-news")
    world.handler.script.append(handler_reply("hello"))
    world.run_mos()  # the world's subscription handlers fail the test if they are called
    (mo,) = world.mos.messages.values()
    assert mo.state is MoState.ROUTED and len(world.handler.sent) == 1
    no_money_moved(world)


def test_unrouted_and_stop_test_mos_get_no_default_reply_and_stop_nothing(world: World) -> None:
    for word in ("UNKNOWN 1", "STOP"):
        mo = StoredMo(
            message_id=f"t-{word[:4]}",
            link_id=TEST_LINK_ID,
            operator_id="op1",
            operator_message_id="x",
            source="+447700900000",
            destination="4444",
            text=word,
            state=MoState.RECEIVED,
            received_at=T0,
            is_test=True,
        )
        world.mos.put_if_absent(mo)
        decided = world.mo_processor().process(
            MoReceived(message_id=mo.message_id, link_id=TEST_LINK_ID, received_at=T0), now=T0
        )
        assert decided.state is MoState.UNROUTED and decided.reason.startswith("test:")
    assert world.events.mt == [] and world.events.delivery == []


def test_the_log_pages_with_signed_cursors(world: World) -> None:
    ids = []
    for n in range(3):
        ids.append(send_test_mo(world, f"ABC {n}")["message_id"])
        world.clock.advance(1)
    first = call("GET", "/v1/services/s1/test-log", query={"limit": "2"})[2]
    assert [i["message_id"] for i in first["items"]] == [ids[2], ids[1]] and first["next_cursor"]
    second = call("GET", "/v1/services/s1/test-log", query={"limit": "2", "cursor": first["next_cursor"]})[2]
    assert [i["message_id"] for i in second["items"]] == [ids[0]] and second["next_cursor"] is None
    elsewhere = call("GET", "/v1/services/s-mt/test-log", query={"cursor": first["next_cursor"]})
    assert (elsewhere[0], elsewhere[2]["code"]) == (400, "invalid_cursor")
    forged = call("GET", "/v1/services/s1/test-log", query={"cursor": "eyJiIjoieiJ9.AAAAAAAAAAAAAAAAAAAAAA"})
    assert forged[0] == 400


def test_an_idempotency_key_makes_one_test_mo(world: World) -> None:
    headers = {"Idempotency-Key": "test-1"}
    first = call("POST", "/v1/services/s1/test-mo", {"text": "ABC 1"}, headers=headers)
    again = call("POST", "/v1/services/s1/test-mo", {"text": "ABC 1"}, headers=headers)
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert len(world.mos.messages) == 1 and len(world.intake.published) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "key", "status", "code"),
    [
        ("POST", "/v1/services/s2/test-mo", {"text": "XYZ"}, KEYS["p1"], 404, "not_found"),
        ("GET", "/v1/services/s2/test-log", None, KEYS["p1"], 404, "not_found"),
        ("POST", "/v1/services/nope/test-mo", {"text": "x"}, KEYS["p1"], 404, "not_found"),
        ("GET", "/v1/services/nope/test-log", None, KEYS["p1"], 404, "not_found"),
        ("POST", "/v1/services/s-off/test-mo", {"text": "x"}, KEYS["p1"], 409, "service_not_active"),
        (
            "POST",
            "/v1/services/s1/test-mo",
            {"text": "x", "short_number": "9999"},
            KEYS["p1"],
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/v1/services/s1/test-mo",
            {"text": "x", "msisdn": "07700 900123"},
            KEYS["p1"],
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/v1/services/s1/test-mo",
            {"text": "x", "is_test": False},
            KEYS["p1"],
            422,
            "validation_failed",
        ),
        ("POST", "/v1/services/s1/test-mo", {"text": "   "}, KEYS["p1"], 422, "validation_failed"),
        ("POST", "/v1/services/s1/test-mo", {"text": "x"}, None, 401, "unauthenticated"),
        ("POST", "/v1/services/s1/test-mo", {"text": "x"}, KEYS["p1-read"], 403, "insufficient_scope"),
    ],
)
def test_refusals_change_nothing(
    world: World, method: str, path: str, body: object, key: str | None, status: int, code: str
) -> None:
    answer = call(method, path, body, key=key)
    assert (answer[0], answer[2]["code"]) == (status, code)
    assert world.mos.messages == {} and world.intake.published == [] and world.test_log.entries == {}


def test_another_partners_log_never_shows_and_read_scope_suffices(world: World) -> None:
    send_test_mo(world)
    other = call("POST", "/v1/services/s2/test-mo", {"text": "XYZ 1"}, key=KEYS["p2"])
    assert other[0] == 202
    assert len(call("GET", "/v1/services/s1/test-log", key=KEYS["p1-read"])[2]["items"]) == 1
    (theirs,) = call("GET", "/v1/services/s2/test-log", key=KEYS["p2"])[2]["items"]
    assert theirs["message_id"] == other[2]["message_id"]


def test_entries_expire_with_the_log(world: World) -> None:
    mo_id = str(send_test_mo(world)["message_id"])
    keep = world.handler_limits.log_keep_s
    assert world.test_log.expiry[mo_id] == int((T0 + timedelta(seconds=keep)).timestamp())
