"""POST /v1/sms and /v1/sms/batch over the fakes: priced, reserved, queued, then settled by the MT's end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsbilling.adapters.sqs_events import PublishFailed
from smsbilling.contracts import MtPurpose
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import BlacklistEntry
from smsbilling.domain.ledger import StoredTransfer, TransferKind, TransferState
from smsbilling.domain.mt import MtState
from smsbilling.domain.sms_credits import CreditRate, CreditRates, reservation_id
from smsbilling.logic import api_send
from smsbilling.logic.reconcile import reconcile
from smsbilling.ports import OperatorAnswer

from .world import CREDITS_TOPPED_UP, KEYS, LEDGER_LIMITS, PT, SMS_LIMITS, T0, UK, World, call

LONG_GSM = "x" * 200  # two GSM 7-bit parts (153 + 47)
UCS2 = "Привет! " * 10  # 80 UCS-2 characters: two parts (67 + 13)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.install()
    yield w
    World.uninstall()


def reservation(world: World, message_id: str) -> StoredTransfer | None:
    return world.ledger.get_transfer(reservation_id(message_id))


def held(world: World, message_id: str) -> StoredTransfer:
    stored = reservation(world, message_id)
    assert stored is not None, f"no reservation for {message_id}"
    return stored


def test_one_sms_is_priced_reserved_and_queued(world: World) -> None:
    status, _, body = call(
        "POST", "/v1/sms", {"service_id": "s1", "destination": "+44 7700 900123", "text": "Hi"}
    )
    assert status == 202, body
    assert set(body) == {"message_id", "destination", "parts", "credits", "status"}
    assert (body["destination"], body["parts"], body["credits"], body["status"]) == (UK, 1, 1, "queued")
    (command,) = world.events.mt
    assert command.message_id == body["message_id"]
    assert (command.purpose, command.billed, command.partner_id, command.service_id) == (
        MtPurpose.API,
        False,
        "p1",
        "s1",
    )
    assert (command.operator_id, command.source, command.destination, command.text) == (
        "op1",
        "4444",
        UK,
        "Hi",
    )
    held = reservation(world, body["message_id"])
    assert (
        held is not None
        and held.state is TransferState.PENDING
        and held.transfer.kind is TransferKind.SMS_CREDITS
    )
    assert world.spendable() == CREDITS_TOPPED_UP - 1
    assert world.consumed() == 0  # held, not yet consumed


def test_parts_and_route_prices(world: World) -> None:
    world.entities.put(
        CreditRates(
            rates=(
                CreditRate(route="op2", credits_per_part=3),
                CreditRate(route="op1", partner_id="p2", credits_per_part=5),  # not p1's price
            )
        )
    )
    long_uk = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": LONG_GSM})[2]
    ucs2_pt = call("POST", "/v1/sms", {"service_id": "s1", "destination": PT, "text": UCS2})[2]
    assert (long_uk["parts"], long_uk["credits"]) == (2, 2)
    assert (ucs2_pt["parts"], ucs2_pt["credits"]) == (2, 6)
    pt_command = world.events.mt[-1]
    assert (pt_command.operator_id, pt_command.source) == ("op2", "6060")  # the service's number there
    assert world.spendable() == CREDITS_TOPPED_UP - 8


def test_partner_specific_route_price_wins(world: World) -> None:
    world.entities.put(
        CreditRates(
            outbound_default=2,
            rates=(CreditRate(route="*", partner_id="p1", credits_per_part=0),),
        )
    )
    status, _, body = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "free for p1"})
    assert (status, body["credits"]) == (202, 0)
    assert reservation(world, body["message_id"]) is None  # nothing to hold
    assert world.spendable() == CREDITS_TOPPED_UP


def test_batch_reserves_every_message_with_one_block_refill(world: World) -> None:
    messages = [{"destination": UK, "text": f"hello {n}"} for n in range(3)]
    messages += [{"destination": PT, "text": "olá"}, {"destination": UK, "text": LONG_GSM}]
    status, _, body = call("POST", "/v1/sms/batch", {"service_id": "s1", "messages": messages})
    assert status == 202, body
    assert body["credits"] == 6 and [m["credits"] for m in body["messages"]] == [1, 1, 1, 1, 2]
    assert [c.message_id for c in world.events.mt] == [m["message_id"] for m in body["messages"]]
    refills = [t for t in world.ledger.journal() if t.transfer.kind is TransferKind.CREDIT_BLOCK_RESERVE]
    # one write to the partner's main balance for the whole batch, though it is larger than a block
    assert len(refills) == 1 and LEDGER_LIMITS.credit_block_size_credits < 6
    assert world.spendable() == CREDITS_TOPPED_UP - 6


def test_insufficient_credits_refuses_the_whole_batch_and_queues_nothing(world: World) -> None:
    messages = [{"destination": UK, "text": LONG_GSM} for _ in range(5)]  # 10 parts... plus one more
    messages[-1] = {"destination": UK, "text": LONG_GSM + "y" * 200}  # 3 parts: 11 credits in all
    status, _, body = call("POST", "/v1/sms/batch", {"service_id": "s1", "messages": messages})
    assert (status, body["code"]) == (402, "insufficient_credits")
    assert (body["credits_needed"], body["credits_available"]) == (11, CREDITS_TOPPED_UP)
    assert world.events.mt == []
    assert world.spendable() == CREDITS_TOPPED_UP
    assert not [t for t in world.ledger.journal() if t.state is TransferState.PENDING]
    assert reconcile(world.ledger).ok


def test_the_last_credits_can_be_spent_and_then_none(world: World) -> None:
    sent = [
        call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": f"m{n}"}) for n in range(10)
    ]
    assert [s[0] for s in sent] == [202] * 10
    assert world.spendable() == 0
    refused = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "one too many"})
    assert (refused[0], refused[2]["code"], refused[2]["credits_available"]) == (
        402,
        "insufficient_credits",
        0,
    )
    assert len(world.events.mt) == 10


def test_a_credit_limit_lets_a_partner_go_below_zero(world: World) -> None:
    world.ledger.set_overdraft_max(acc.partner("p2", Book.CREDITS), 3)
    ok = call("POST", "/v1/sms", {"service_id": "s2", "destination": UK, "text": "x" * 400}, key=KEYS["p2"])
    assert (ok[0], ok[2]["credits"]) == (202, 3)
    refused = call("POST", "/v1/sms", {"service_id": "s2", "destination": UK, "text": "x"}, key=KEYS["p2"])
    assert refused[0] == 402


def test_invalid_messages_name_every_field_and_reserve_nothing(world: World) -> None:
    messages = [
        {"destination": UK, "text": "fine"},
        {"destination": "07700 900123", "text": "national number"},
        {"destination": "+12025550123", "text": "no operator for the US"},
        {"destination": UK, "text": "x" * 1600},
        {"destination": UK, "text": "   "},
    ]
    status, _, body = call("POST", "/v1/sms/batch", {"service_id": "s1", "messages": messages})
    assert (status, body["code"]) == (422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == [
        "messages.1.destination",
        "messages.2.destination",
        "messages.3.text",
        "messages.4.text",
    ]
    assert world.events.mt == [] and world.spendable() == CREDITS_TOPPED_UP
    single = call("POST", "/v1/sms", {"service_id": "s1", "destination": "+12025550123", "text": "x"})
    assert (single[0], single[2]["errors"][0]["field"]) == (422, "destination")


def test_batch_limit_unknown_fields_and_server_owned_fields_are_refused(world: World) -> None:
    too_many = [{"destination": UK, "text": "x"}] * (SMS_LIMITS.batch_messages_max + 1)
    status, _, body = call("POST", "/v1/sms/batch", {"service_id": "s1", "messages": too_many})
    assert (status, body["errors"][0]["field"]) == (422, "messages")
    for extra in ({"billed": True}, {"credits": 0}, {"message_id": "mine"}, {"source": "BANK"}):
        answer = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "x"} | extra)
        assert answer[0] == 422, extra
    assert world.events.mt == []


@pytest.mark.parametrize(
    ("service_id", "key", "status", "code"),
    [
        ("s2", KEYS["p1"], 404, "not_found"),  # another partner's service
        ("nope", KEYS["p1"], 404, "not_found"),
        ("s-off", KEYS["p1"], 409, "service_not_active"),
        ("s1", None, 401, "unauthenticated"),
        ("s1", KEYS["p1-read"], 403, "insufficient_scope"),
    ],
)
def test_refusals(world: World, service_id: str, key: str | None, status: int, code: str) -> None:
    answer = call("POST", "/v1/sms", {"service_id": service_id, "destination": UK, "text": "x"}, key=key)
    assert (answer[0], answer[2]["code"]) == (status, code)
    assert world.events.mt == [] and world.spendable() == CREDITS_TOPPED_UP


def send(
    world: World, *messages: api_send.SmsToSend, key: str | None = None
) -> tuple[api_send.QueuedSms, ...]:
    return api_send.send_sms(
        api_send.SendRequest("p1", "s1", tuple(messages), batch=True, idempotency_key=key),
        now=world.clock(),
        entities=world.entities,
        ledger=world.ledger,
        events=world.events,
        limits=api_send.SendLimits(messages=world.messages, sms=SMS_LIMITS, ledger=LEDGER_LIMITS),
    )


def test_an_idempotency_key_repeat_after_a_crash_reserves_once_and_makes_one_mt(world: World) -> None:
    batch = (api_send.SmsToSend(UK, "one"), api_send.SmsToSend(UK, LONG_GSM))
    first = send(world, *batch, key="order-7")
    world.clock.advance(30)  # a later retry: the transfer would differ in time, the reservation stands
    again = send(world, *batch, key="order-7")
    assert [s.message_id for s in again] == [s.message_id for s in first]
    assert world.spendable() == CREDITS_TOPPED_UP - 3
    world.run_mts()
    assert len(world.mts.records) == 2 and len(world.operator.received) == 3  # 1 + 2 parts, once
    other = send(world, *batch, key="order-8")
    assert {s.message_id for s in other}.isdisjoint(s.message_id for s in first)


def test_queue_failure_releases_what_was_not_queued_unless_a_key_can_retry_it(world: World) -> None:
    world.events.fail = True
    with pytest.raises(PublishFailed):
        send(world, api_send.SmsToSend(UK, "a"), api_send.SmsToSend(UK, "b"))
    assert world.spendable() == CREDITS_TOPPED_UP
    with pytest.raises(PublishFailed):
        send(world, api_send.SmsToSend(UK, "a"), key="retry-me")
    assert world.spendable() == CREDITS_TOPPED_UP - 1  # held for the retry with the same key
    world.events.fail = False
    (sent,) = send(world, api_send.SmsToSend(UK, "a"), key="retry-me")
    assert [c.message_id for c in world.events.mt] == [sent.message_id]
    assert world.spendable() == CREDITS_TOPPED_UP - 1
    status, _, body = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "x"})
    assert status == 202, body  # the route answers problems, not exceptions, when the queue is back


def test_a_route_answers_503_when_the_queue_is_down(world: World) -> None:
    world.events.fail = True
    status, _, body = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "x"})
    assert (status, body["code"]) == (503, "temporarily_unavailable")
    assert world.spendable() == CREDITS_TOPPED_UP


# --- settling on the MT's end ----------------------------------------------------------------------


def sent_one(world: World, text: str = "hello", destination: str = UK) -> str:
    status, _, body = call("POST", "/v1/sms", {"service_id": "s1", "destination": destination, "text": text})
    assert status == 202, body
    world.run_mts()
    return str(body["message_id"])


def test_delivered_consumes_the_credits_and_the_partner_is_called_back(world: World) -> None:
    message_id = sent_one(world)
    assert world.mts.get(message_id).mt.state is MtState.ACCEPTED  # type: ignore[union-attr]
    world.receipt("op1", DlrStatus.DELIVERED)
    world.drain_dlr()
    assert held(world, message_id).state is TransferState.POSTED
    assert world.consumed() == 1 and world.spendable() == CREDITS_TOPPED_UP - 1
    (callback,) = world.status_endpoint.received
    assert b'"status":"delivered"' in callback[3] and b'"purpose":"api"' in callback[3]
    assert reconcile(world.ledger).ok


def test_accepted_but_undelivered_is_still_consumed(world: World) -> None:
    message_id = sent_one(world)
    world.receipt("op1", DlrStatus.UNDELIVERED)
    assert world.mts.get(message_id).mt.state is MtState.UNDELIVERED  # type: ignore[union-attr]
    assert held(world, message_id).state is TransferState.POSTED
    assert world.consumed() == 1


def test_refused_by_the_operator_is_refunded(world: World) -> None:
    world.operator.script.append(OperatorAnswer(accepted=False, error="http:400 bad number"))
    message_id = sent_one(world)
    assert world.mts.get(message_id).mt.state is MtState.REJECTED  # type: ignore[union-attr]
    assert held(world, message_id).state is TransferState.VOIDED
    assert world.consumed() == 0 and world.spendable() == CREDITS_TOPPED_UP
    assert reconcile(world.ledger).ok


def test_a_long_message_refused_after_its_first_part_consumes_that_part_only(world: World) -> None:
    world.operator.script.extend(
        [
            OperatorAnswer(accepted=True, operator_message_id="p-1"),
            OperatorAnswer(accepted=False, error="full"),
        ]
    )
    message_id = sent_one(world, LONG_GSM)
    assert held(world, message_id).state is TransferState.PENDING
    world.receipt("p-1", DlrStatus.DELIVERED)  # the first part reached the handset
    record = world.mts.get(message_id)
    assert record is not None and record.mt.state is MtState.REJECTED
    stored = reservation(world, message_id)
    assert stored is not None and stored.state is TransferState.POSTED
    assert sum(leg.amount for leg in stored.final_legs or () if leg.amount > 0) == 1
    assert world.consumed() == 1 and world.spendable() == CREDITS_TOPPED_UP - 1
    assert reconcile(world.ledger).ok


def test_refused_before_sending_is_refunded(world: World) -> None:
    world.entities.put(BlacklistEntry(scope="p1", msisdn=UK, reason="complained", created_at=T0))
    message_id = sent_one(world)
    assert world.operator.received == []
    record = world.mts.get(message_id)
    assert record is not None and record.mt.state is MtState.REJECTED and record.billing_done
    assert held(world, message_id).state is TransferState.VOIDED
    assert world.spendable() == CREDITS_TOPPED_UP


def test_no_submit_response_before_the_deadline_is_refunded(world: World) -> None:
    status, _, body = call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "lost"})
    assert status == 202
    world.sender().process(world.events.mt.pop(0), now=world.clock())
    world.events.dlr.clear()  # the submit result never arrives
    world.clock.advance(world.messages.mt_final_wait_s + 1)
    sweep = world.mt_events().expire_due(now=world.clock(), limit=10)
    assert sweep.expired == 1
    assert held(world, body["message_id"]).state is TransferState.VOIDED
    assert world.spendable() == CREDITS_TOPPED_UP
    assert reconcile(world.ledger).ok


def test_settling_again_changes_nothing(world: World) -> None:
    message_id = sent_one(world)
    world.receipt("op1", DlrStatus.DELIVERED)
    again = world.charger.settle_credits(message_id, parts=1, accepted=1)
    assert again is not None and again.already  # the same end, settled the same way before
    assert world.consumed() == 1
