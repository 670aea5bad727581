"""The premium-SMS loop end to end on the deployed stack, with an operator and a partner outside it.

An MO enters as the operator sends it (HTTP to the operator link), the MO processor routes and
bills it, partner delivery calls the partner's handler (a signed request to DemoPartner), the reply
goes out as an MT to the operator's HTTP SMSC (DemoOperator), whose delivery receipt comes back
through the operator link, settles the charge, and reaches the partner as a signed status callback.
Nothing in between is stubbed: every hop is a deployed Lambda, queue or table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.demo_peers import DemoOperator, DemoPartner, Received
from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_subscriptions import DynamoSubscriptionStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.contracts import MoReceived, MtPurpose
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import DeliveryRecord, DeliveryState, reply_mt_id
from smsbilling.domain.entities import (
    ApiKey,
    BillingModel,
    BlacklistEntry,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import StoredTransfer, TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.subscriptions import charge_message_id
from smsbilling.ports import MtRecord
from smsbilling.settings import QueueUrls, SubscriptionLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for
from tests.integration.test_subscriptions_schedule import invoke as run_subscriptions_schedule

pytestmark = pytest.mark.localcloud

GBP = "GBP"
PRICE = 150  # minor units, VAT included
MO_NUMBER, MT_NUMBER, SUB_NUMBER = "6001", "6002", "6003"
LINK_TOKEN = "loop-link-token"
MT_TOKEN = "loop-operator-mt-token"
SECRET = "whsec_loop_0123456789abcdef"
API_KEY = "loop-partner-api-key"
TIMEOUT_S = 90.0


def _reply(text: str) -> str:
    return f"Answer to {text}"


def _outcome(mt: dict[str, Any]) -> str:
    """The operator's handset: a text with FAIL in it is never delivered."""
    return "undelivered" if "FAIL" in mt.get("text", "") else "delivered"


class LoopPartner(DemoPartner):
    """The demo partner, plus a handler that is broken the way real ones break (an HTML error page)."""

    def _answer(self, request: Received) -> tuple[int, str, bytes]:
        if request.path == "/broken":
            return 200, "text/html", b"<html><body>Fatal error in sms.php on line 3</body></html>"
        return super()._answer(request)


@dataclass
class Loop:
    stack: Stack
    partner: LoopPartner
    operator: DemoOperator
    suffix: str
    operator_id: str
    link_id: str
    partner_id: str
    services: dict[str, PartnerService]

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self._dynamodb, self.stack.outputs["EntitiesTableName"])

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)

    def send_mo(
        self, text: str, *, number: str = MO_NUMBER, msisdn: str = "447700900777", op_id: str = ""
    ) -> str:
        answer = self.stack.api.post(
            f"/operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": op_id or uuid.uuid4().hex,
                "source": f"+{msisdn}",
                "destination": number,
                "text": text,
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        message_id: str = answer.json()["message_id"]
        return message_id

    def decided(self, message_id: str) -> StoredMo:
        store = DynamoInboundStore(self._dynamodb, self.stack.outputs["MessagesTableName"])
        mo: StoredMo = wait_for(
            lambda: (m := store.get(message_id)) is not None and m.state.is_final and m, TIMEOUT_S
        )
        return mo

    def delivery(self, message_id: str) -> DeliveryRecord:
        """The partner-delivery record of an MO once final (delivered, queued for a bind, dead)."""
        log = DynamoDeliveryLog(self._dynamodb, self.stack.outputs["MessagesTableName"])
        try:
            record: DeliveryRecord = wait_for(
                lambda: (r := log.get(message_id)) is not None and r.state.is_final and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"delivery of {message_id} not final: {log.get(message_id)!r}") from error
        return record

    def final_mt(self, mt_id: str) -> MtRecord:
        store = DynamoMtStore(self._dynamodb, self.stack.outputs["MessagesTableName"])
        try:
            record: MtRecord = wait_for(
                lambda: (r := store.get(mt_id)) is not None and r.mt.state.is_final and r, TIMEOUT_S
            )
        except AssertionError as error:  # say where it stopped
            raise AssertionError(f"MT {mt_id} not final: {store.get(mt_id)!r}") from error
        return record

    def handler_calls(self, message_id: str) -> list[Received]:
        """The handler requests about ``message_id`` (not the status callbacks of its reply)."""
        return [
            r
            for r in self.partner.received
            if r.path != "/status" and message_id in (r.body.decode() + json.dumps(r.query))
        ]

    def status_callback(self, mt_id: str) -> Received:
        return self.partner.wait_for(
            lambda r: r.path == "/status" and r.json()["message_id"] == mt_id, timeout_s=TIMEOUT_S
        )

    def operator_got(self, mt_id: str) -> Received:
        return self.operator.wait_for(lambda r: r.json().get("message_id") == mt_id, timeout_s=TIMEOUT_S)

    def transfer(self, message_id: str, kind: TransferKind) -> StoredTransfer | None:
        return self.ledger.get_transfer(transfer_id(message_id, str(kind)))


@pytest.fixture(scope="module")
def loop(stack: Stack) -> Iterator[Loop]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-loop-{suffix}", f"l-loop-{suffix}", f"p-loop-{suffix}"
    plan_id = f"plan-loop-{suffix}"
    partner = LoopPartner(secrets=[SECRET], reply=_reply)
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
        outcome=_outcome,
    )
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    numbers = {
        MO_NUMBER: ShortNumber(
            operator_id=operator_id, number=MO_NUMBER, billing_model=BillingModel.MO, tariff_plan_id=plan_id
        ),
        MT_NUMBER: ShortNumber(
            operator_id=operator_id, number=MT_NUMBER, billing_model=BillingModel.MT, tariff_plan_id=plan_id
        ),
        SUB_NUMBER: ShortNumber(
            operator_id=operator_id, number=SUB_NUMBER, billing_model=BillingModel.MT, tariff_plan_id=plan_id
        ),
    }

    def service(
        prefix: str, number: str, kind: HandlerKind, path: str | None, **extra: Any
    ) -> PartnerService:
        return PartnerService(
            service_id=f"svc-{prefix.lower()}-{suffix}",
            partner_id=partner_id,
            name=f"{prefix} service",
            prefix=prefix,
            short_numbers=(numbers[number].entity_id,),
            handler_kind=kind,
            handler_url=f"{partner.url}{path}" if path else None,
            status_url=f"{partner.url}/status",
            status=ServiceStatus.ACTIVE,
            **extra,
        )

    services = {
        "QUIZ": service("QUIZ", MO_NUMBER, HandlerKind.HTTP_POST_SYNC, "/mo"),
        "POLL": service("POLL", MO_NUMBER, HandlerKind.HTTP_GET, "/mo"),
        "LATER": service("LATER", MO_NUMBER, HandlerKind.HTTP_POST_ASYNC, "/async"),
        "BIND": service("BIND", MO_NUMBER, HandlerKind.SMPP, None, smpp_system_id="loopbind"),
        "BROKEN": service("BROKEN", MO_NUMBER, HandlerKind.HTTP_POST_SYNC, "/broken"),
        "GAME": service("GAME", MT_NUMBER, HandlerKind.HTTP_POST_SYNC, "/mo"),
        "NEWS": service(
            "NEWS",
            SUB_NUMBER,
            HandlerKind.HTTP_POST_SYNC,
            "/mo",
            subscription=SubscriptionTerms(interval_s=3_600, content_text="Today's news"),
        ),
    }
    now = datetime.now(UTC)
    for entity in (
        Operator(
            operator_id=operator_id,
            name="Loop Mobile",
            country_code="44",
            currency=GBP,
            default_reply="Unknown.",
        ),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
            mt_url=f"{operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        *numbers.values(),
        Partner(
            partner_id=partner_id,
            name="Loop partner",
            email="loop@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
            callback_secrets=(SECRET,),
        ),
        *services.values(),
        BlacklistEntry(scope=partner_id, msisdn="447700900666", reason="complained", created_at=now),
    ):
        entities.put(entity)
    for svc in services.values():
        claim_prefix(entities, svc, svc.short_numbers[0])
    price_numbers(
        stack,
        plan_id=plan_id,
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=list(numbers),
        price=PRICE,
    )
    try:
        yield Loop(stack, partner, operator, suffix, operator_id, link_id, partner_id, services)
    finally:
        partner.close()
        operator.close()


def test_mo_billed_sync_post_round_trip_is_charged_answered_delivered_and_called_back(loop: Loop) -> None:
    op_id = uuid.uuid4().hex
    mo_id = loop.send_mo("quiz 42", op_id=op_id)
    assert loop.send_mo("quiz 42", op_id=op_id) == mo_id  # the operator retried: the same message

    mo = loop.decided(mo_id)
    assert (mo.state, mo.service_id, mo.msisdn, mo.charged_amount) == (
        MoState.ROUTED,
        loop.services["QUIZ"].service_id,
        "447700900777",
        PRICE,
    )
    mt = loop.final_mt(reply_mt_id(mo_id))
    assert (mt.mt.state, mt.text, mt.destination, mt.source, mt.billed) == (
        MtState.DELIVERED,
        "Answer to quiz 42",
        "447700900777",
        MO_NUMBER,
        False,
    )
    sent = loop.operator_got(mt.message_id)
    assert sent.headers["authorization"] == f"Bearer {MT_TOKEN}"
    assert sent.json()["text"] == "Answer to quiz 42"

    callback = loop.status_callback(mt.message_id)
    assert callback.signature_ok
    assert (callback.json()["status"], callback.json()["in_reply_to"], callback.json()["billed"]) == (
        "delivered",
        mo_id,
        False,
    )
    # SQS delivers mo.received a second time (at-least-once): still one handler call, one charge.
    queues = QueueUrls(mo=loop.stack.outputs["MoQueueUrl"])
    SqsEventPublisher(loop.stack.client("sqs"), queues).publish_mo_received(
        MoReceived(message_id=mo_id, link_id=loop.link_id, received_at=mo.received_at)
    )
    wait_for(lambda: _queue_drained(loop.stack, loop.stack.outputs["MoQueueUrl"]), TIMEOUT_S)
    [call] = loop.handler_calls(mo_id)
    assert call.signature_ok and call.method == "POST"
    charge = loop.transfer(mo_id, TransferKind.MO_CHARGE)
    assert charge is not None and charge.state is TransferState.POSTED
    # 1.50 incl. 20 % VAT: VAT 0.25; of the 1.25 net the operator keeps 40 % (0.50) and owes us 1.00;
    # the platform takes 30 % of the remaining 0.75 (0.22, rounded down for the partner's 0.53).
    legs = {leg.account: leg.amount for leg in charge.transfer.legs}
    assert legs == {
        accounts.operator(loop.operator_id, Book.RECEIVABLE): 100,
        accounts.platform(Book.VAT_PAYABLE): -25,
        accounts.platform(Book.REVENUE): -22,
        accounts.partner(loop.partner_id, Book.EARNED_PENDING): -53,
    }


def test_get_handler_reply_goes_out(loop: Loop) -> None:
    mo_id = loop.send_mo("POLL yes")
    mt = loop.final_mt(reply_mt_id(mo_id))
    assert (mt.mt.state, mt.text) == (MtState.DELIVERED, "Answer to POLL yes")
    [call] = loop.handler_calls(mo_id)
    assert call.method == "GET" and call.signature_ok and call.query["text"] == "POLL yes"


def test_async_handler_answers_later_through_the_api(loop: Loop) -> None:
    mo_id = loop.send_mo("LATER please")
    loop.partner.wait_for(lambda r: r.path == "/async" and mo_id in r.body.decode(), timeout_s=TIMEOUT_S)
    record = loop.delivery(mo_id)
    assert record.state is DeliveryState.DELIVERED and record.reply_mt_id is None
    loop.entities.put(
        ApiKey(
            key_hash=hash_token(API_KEY),
            key_id=f"k-{loop.suffix}",
            partner_id=loop.partner_id,
            created_at=datetime.now(UTC),
        )
    )
    answer = loop.stack.api.post(
        f"/v1/messages/{mo_id}/reply",
        json={"text": "Your late answer"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code in (200, 201, 202), answer.text
    mt = loop.final_mt(reply_mt_id(mo_id))
    assert (mt.mt.state, mt.text) == (MtState.DELIVERED, "Your late answer")


def test_smpp_service_waits_in_the_partner_outbox(loop: Loop) -> None:
    mo_id = loop.send_mo("BIND me")
    assert loop.delivery(mo_id).state is DeliveryState.QUEUED


def test_failing_handler_is_dead_lettered_with_its_reason_and_the_loop_goes_on(loop: Loop) -> None:
    mo_id = loop.send_mo("BROKEN 1")
    record = loop.delivery(mo_id)
    assert record.state is DeliveryState.DEAD and "html" in record.reason.lower(), record.reason


def test_mt_billed_charge_is_final_only_when_the_reply_is_delivered(loop: Loop) -> None:
    good = loop.send_mo("GAME 1", number=MT_NUMBER)
    bad = loop.send_mo("GAME FAIL", number=MT_NUMBER)
    mo = loop.decided(good)
    assert (mo.state, mo.billing_model, mo.charged_amount) == (MoState.ROUTED, BillingModel.MT, None), (
        mo.reason
    )
    assert loop.delivery(good).reply_mt_id == reply_mt_id(good)

    delivered, failed = loop.final_mt(reply_mt_id(good)), loop.final_mt(reply_mt_id(bad))
    assert (delivered.mt.state, delivered.billed) == (MtState.DELIVERED, True)
    assert (failed.mt.state, failed.billed) == (MtState.UNDELIVERED, True)
    posted = wait_for(
        lambda: (
            (t := loop.transfer(delivered.message_id, TransferKind.MT_CHARGE))
            and t.state is TransferState.POSTED
            and t
        ),
        TIMEOUT_S,
    )
    voided = wait_for(
        lambda: (
            (t := loop.transfer(failed.message_id, TransferKind.MT_CHARGE))
            and t.state is TransferState.VOIDED
            and t
        ),
        TIMEOUT_S,
    )
    assert posted.transfer.pending and voided.transfer.pending
    assert loop.status_callback(failed.message_id).json()["status"] == "undelivered"
    assert loop.transfer(good, TransferKind.MO_CHARGE) is None


def test_subscription_bills_on_schedule_and_stops_on_stop(loop: Loop) -> None:
    msisdn = "447700900888"
    service = loop.services["NEWS"]
    subscribe = loop.send_mo("news", number=SUB_NUMBER, msisdn=msisdn)
    assert loop.decided(subscribe).state is MoState.ROUTED
    limits = SubscriptionLimits()  # the deployed function's: the same due-index shards
    store = DynamoSubscriptionStore(
        loop.stack.client("dynamodb"), loop.stack.outputs["EntitiesTableName"], shards=limits.due_shards_count
    )
    active = wait_for(
        lambda: (s := store.get(service.service_id, msisdn)) and s.state is SubscriptionState.ACTIVE and s,
        TIMEOUT_S,
    )
    assert active.charges_count == 0

    run_subscriptions_schedule(loop.stack)  # or ministack's own firing of the rule gets there first
    charge_id = charge_message_id(service.service_id, msisdn, 0)
    charged = loop.final_mt(charge_id)
    assert (charged.purpose, charged.billed, charged.mt.state, charged.text) == (
        MtPurpose.SUBSCRIPTION,
        True,
        MtState.DELIVERED,
        "Today's news",
    )
    wait_for(
        lambda: (t := loop.transfer(charge_id, TransferKind.MT_CHARGE)) and t.state is TransferState.POSTED,
        TIMEOUT_S,
    )

    stop = loop.send_mo("STOP", number=SUB_NUMBER, msisdn=msisdn)
    assert loop.decided(stop).state is MoState.UNROUTED
    wait_for(
        lambda: (s := store.get(service.service_id, msisdn)) and s.state is SubscriptionState.CANCELLED,
        TIMEOUT_S,
    )
    run_subscriptions_schedule(loop.stack)
    assert loop.transfer(charge_message_id(service.service_id, msisdn, 1), TransferKind.MT_CHARGE) is None
    assert store.get(service.service_id, msisdn).charges_count == 1  # type: ignore[union-attr]


def test_unknown_prefix_gets_the_default_reply_and_no_charge(loop: Loop) -> None:
    mo_id = loop.send_mo("WHAT is this")
    mo = loop.decided(mo_id)
    assert (mo.state, mo.charged_amount, mo.service_id) == (MoState.UNROUTED, None, None)
    mt = loop.final_mt(derived_id("mt", mo_id, MtPurpose.DEFAULT_REPLY.value))
    assert (mt.text, mt.billed, mt.mt.state) == ("Unknown.", False, MtState.DELIVERED)
    assert loop.transfer(mo_id, TransferKind.MO_CHARGE) is None


def test_blacklisted_subscriber_is_neither_served_nor_charged(loop: Loop) -> None:
    mo_id = loop.send_mo("QUIZ 7", msisdn="447700900666")
    mo = loop.decided(mo_id)
    assert (mo.state, mo.charged_amount) == (MoState.BLACKLISTED, None)
    assert loop.transfer(mo_id, TransferKind.MO_CHARGE) is None
    assert loop.handler_calls(mo_id) == []


def _queue_drained(stack: Stack, queue_url: str) -> bool:
    counts = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(value) == 0 for value in counts.values())
