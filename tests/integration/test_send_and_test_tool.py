"""Sending from credits and the test tool on the deployed stack, with an operator and a partner outside it.

Sending: ``POST /v1/sms`` and ``/v1/sms/batch`` reserve the partner's credits and queue MTs; the
MT processor hands them to the operator's HTTP SMSC (DemoOperator), its receipts come back
through the operator link, and the MT's end settles the reservation: consumed when the operator
took it, refunded when it was refused before sending. A request the credits do not cover is
refused and queues nothing.

The test tool: ``POST /v1/services/{id}/test-mo`` goes through the deployed MO processor and
partner delivery to the partner's handler (DemoPartner), whose answer shows in the test log; no
charge is posted for the MO (on an MO-billed, priced number) and the reply never reaches the
operator. Nothing in between is stubbed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.entities import BlacklistEntry
from smsbilling.domain.handler_testing import SIMULATED_REASON
from smsbilling.domain.inbound import MoState
from smsbilling.domain.ledger import TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from tests.conftest import Stack
from tests.integration.billing_world import TIMEOUT_S, PartnerWorld, partner_world
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

CREDITS = 5
NUMBER = "7071"
PRICE = 150
LONG_TEXT = "x" * 400  # three GSM 7-bit parts


class SendWorld(PartnerWorld):
    @property
    def blacklisted(self) -> str:
        """A subscriber on the partner's blacklist."""
        return f"{self.msisdn_range}999"

    def post(self, path: str, body: Any) -> Any:
        return self.partner_api("POST", path, json=body)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[SendWorld]:
    # A priced, MO-billed number: a test MO that were billed would post a charge here.
    with partner_world(
        stack,
        SendWorld,
        tag="send",
        numbers=[NUMBER],
        price=PRICE,
        credits=CREDITS,
        demo_partner=True,
        default_reply="Unknown keyword.",
    ) as world:
        world.add_service()
        world.entities.put(
            BlacklistEntry(
                scope=world.partner_id,
                msisdn=world.blacklisted,
                reason="asked us to stop",
                created_at=datetime.now(UTC),
            )
        )
        yield world


def test_send_one_and_a_batch_reserve_then_consume_or_refund(world: SendWorld) -> None:
    assert world.spendable() == CREDITS
    one = world.post(
        "/v1/sms",
        {"service_id": world.service_id, "destination": f"+{world.subscriber(1)}", "text": "Hello"},
    )
    assert one.status_code == 202, one.text
    sent = one.json()
    assert (sent["destination"], sent["parts"], sent["credits"], sent["status"]) == (
        world.subscriber(1),
        1,
        1,
        "queued",
    )

    batch = world.post(
        "/v1/sms/batch",
        {
            "service_id": world.service_id,
            "messages": [
                {"destination": world.subscriber(2), "text": "Hi from the batch"},
                {"destination": world.blacklisted, "text": "never sent"},
            ],
        },
    )
    assert batch.status_code == 202, batch.text
    delivered_id, refused_id = (m["message_id"] for m in batch.json()["messages"])
    assert batch.json()["credits"] == 2

    # the operator took the first two; their receipts came back and the credits are consumed
    for message_id in (sent["message_id"], delivered_id):
        mt = world.final_mt(message_id)
        assert (mt.mt.state, mt.purpose.value if mt.purpose else None, mt.billed) == (
            MtState.DELIVERED,
            "api",
            False,
        )
        assert world.settled(message_id).state is TransferState.POSTED
    got = {json.loads(r.body)["message_id"] for r in world.operator.received}
    assert {sent["message_id"], delivered_id} <= got
    # the blacklisted subscriber's message was refused before sending: refunded
    refused = world.final_mt(refused_id)
    assert refused.mt.state is MtState.REJECTED and refused_id not in got
    assert world.settled(refused_id).state is TransferState.VOIDED
    assert world.spendable() == CREDITS - 2

    callback = world.partner.wait_for(
        lambda r: r.path == "/status" and r.json()["message_id"] == sent["message_id"], timeout_s=TIMEOUT_S
    )
    assert (
        callback.signature_ok
        and callback.json()["status"] == "delivered"
        and callback.json()["purpose"] == "api"
    )


def test_insufficient_credits_are_refused_and_nothing_is_queued(world: SendWorld) -> None:
    before_credits, before = world.spendable(), {t.transfer.id for t in world.credit_reservations()}
    messages = [{"destination": world.subscriber(10 + n), "text": LONG_TEXT} for n in range(3)]  # 9 credits
    answer = world.post("/v1/sms/batch", {"service_id": world.service_id, "messages": messages})
    assert answer.status_code == 402, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["credits_needed"], problem["credits_available"]) == (
        "insufficient_credits",
        9,
        before_credits,
    )
    new = [t for t in world.credit_reservations() if t.transfer.id not in before]
    assert all(t.state is TransferState.VOIDED for t in new)  # held for a moment, then released
    time.sleep(3)  # had anything been queued, the MT processor would have created it by now
    assert all(world.mts.get(t.transfer.ref) is None for t in new)
    assert world.spendable() == before_credits
    assert not [r for r in world.operator.received if LONG_TEXT[:50] in r.body.decode()]


def test_the_test_tool_reaches_the_handler_and_logs_its_answer_without_billing_or_sending(
    world: SendWorld,
) -> None:
    earned_before = world.ledger.balance(acc.partner(world.partner_id, Book.EARNED_PENDING)).net
    answer = world.post(f"/v1/services/{world.service_id}/test-mo", {"text": "42", "msisdn": "+447700900555"})
    assert answer.status_code == 202, answer.text
    test_mo = answer.json()
    mo_id = test_mo["message_id"]
    assert (
        test_mo["is_test"] is True and test_mo["short_number"] == NUMBER and test_mo["text"].endswith(" 42")
    )

    call = world.partner.wait_for(
        lambda r: r.path == "/mo" and r.json()["message_id"] == mo_id, timeout_s=TIMEOUT_S
    )
    assert call.signature_ok and call.json()["test"] is True and call.json()["msisdn"] == "+447700900555"

    def logged() -> dict[str, Any] | None:
        page = world.stack.api.get(
            f"/v1/services/{world.service_id}/test-log", headers={"Authorization": f"Bearer {world.key}"}
        ).json()
        item = next((i for i in page["items"] if i["message_id"] == mo_id), None)
        return item if item and item["reply"] and item["reply"]["state"] == "delivered" else None

    item = wait_for(logged, TIMEOUT_S)
    assert item["state"] == "routed" and item["delivery"]["state"] == "delivered"
    assert item["delivery"]["http_status"] == 200
    assert item["reply"] == {
        "message_id": reply_mt_id(mo_id),
        "text": f"Thank you! We got: {test_mo['text']}",
        "state": "delivered",
        "reason": SIMULATED_REASON,
    }

    mo = world.mos.get(mo_id)
    assert mo is not None and mo.is_test and mo.state is MoState.ROUTED and mo.charged_amount is None
    assert world.ledger.get_transfer(transfer_id(mo_id, str(TransferKind.MO_CHARGE))) is None
    assert world.ledger.balance(acc.partner(world.partner_id, Book.EARNED_PENDING)).net == earned_before
    reply = world.mts.get(reply_mt_id(mo_id))
    assert reply is not None and reply.is_test and not reply.billed and reply.handed_parts == ()
    time.sleep(2)  # an MT sent to the operator would reach it within this
    assert not [r for r in world.operator.received if reply_mt_id(mo_id) in r.body.decode()]
    assert not [
        r for r in world.partner.received if r.path == "/status" and reply_mt_id(mo_id) in r.body.decode()
    ]

    other = world.stack.api.get(
        "/v1/services/svc-of-nobody/test-log", headers={"Authorization": f"Bearer {world.key}"}
    )
    assert other.status_code == 404
