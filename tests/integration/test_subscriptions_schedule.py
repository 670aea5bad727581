"""MT-subscriptions on the local cloud: the deployed schedule function charges due subscriptions once.

The test invokes the function the schedule invokes (``SubscriptionsFunctionName``) with the
scheduled event's shape rather than waiting for the rule. ministack fires the deployed rule too
(every minute), so a run of its own may do the charging first: the assertions are on the MTs and
the subscription, never on which run charged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.demo_peers import DemoOperator
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore, from_item
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_subscriptions import DynamoSubscriptionStore
from smsbilling.contracts import MtPurpose
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
    Subscription,
    SubscriptionState,
    SubscriptionTerms,
)
from smsbilling.logic.subscriptions import charge_message_id
from smsbilling.ports import MtRecord
from smsbilling.settings import SubscriptionLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers

pytestmark = pytest.mark.localcloud

SCHEDULED_EVENT = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def seen_mts(stack: Stack, message_ids: set[str], timeout_s: float = 30.0) -> dict[str, MtRecord]:
    """The MT records the MT consumer made of the schedule's commands, among ``message_ids``."""
    store = DynamoMtStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])
    found: dict[str, MtRecord] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and set(found) != message_ids:
        for message_id in message_ids - set(found):
            if (record := store.get(message_id)) is not None:
                found[message_id] = record
        time.sleep(0.5)
    return found


def invoke(stack: Stack) -> dict[str, int]:
    answer = stack.client("lambda").invoke(
        FunctionName=stack.outputs["SubscriptionsFunctionName"], Payload=json.dumps(SCHEDULED_EVENT).encode()
    )
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload  # type: ignore[no-any-return]


MT_TOKEN = "facts-operator-token"


@pytest.fixture
def silent_operator() -> Iterator[DemoOperator]:
    operator = DemoOperator(MT_TOKEN)
    yield operator
    operator.close()


def test_schedule_charges_a_due_subscription_once_and_never_a_cancelled_one(
    stack: Stack, silent_operator: DemoOperator
) -> None:
    suffix = uuid.uuid4().hex[:8]
    client = stack.client("dynamodb")
    table = stack.outputs["EntitiesTableName"]
    limits = SubscriptionLimits()  # the deployed function's defaults: the same due-index shards
    store = DynamoSubscriptionStore(
        client, table, shards=limits.due_shards_count, page_size=limits.due_page_size_max
    )
    terms = SubscriptionTerms(interval_s=3600, content_text=f"Daily fact {suffix}")
    operator_id, partner_id, plan_id = f"op-{suffix}", f"p-{suffix}", f"plan-{suffix}"
    number = ShortNumber(
        operator_id=operator_id, number="4444", billing_model=BillingModel.MT, tariff_plan_id=plan_id
    )
    service = PartnerService(
        service_id=f"sub-{suffix}",
        partner_id=partner_id,
        name="Facts",
        prefix="FACTS",
        short_numbers=(number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="http://127.0.0.1:9/mo",
        status=ServiceStatus.ACTIVE,
        subscription=terms,
    )
    # Everything a billed MT needs, so the MT consumer charges and sends what the schedule queues:
    # the partner, its plan and ledger accounts, and an operator link taking MTs (never reporting).
    entities = DynamoEntityStore(client, table)
    for entity in (
        service,
        number,
        Operator(operator_id=operator_id, name="Op", country_code="44", currency="GBP"),
        OperatorLink(
            link_id=f"l-{suffix}",
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            mt_url=f"{silent_operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        Partner(
            partner_id=partner_id,
            name="Facts Ltd",
            email="facts@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=datetime.now(UTC),
        ),
    ):
        entities.put(entity)
    price_numbers(
        stack, plan_id=plan_id, partner_id=partner_id, operator_id=operator_id, numbers=["4444"], price=100
    )
    now = datetime.now(UTC)

    def subscription(msisdn: str, **changes: object) -> Subscription:
        values: dict[str, object] = {
            "service_id": service.service_id,
            "msisdn": msisdn,
            "partner_id": service.partner_id,
            "operator_id": f"op-{suffix}",
            "short_number": "4444",
            "link_id": f"l-{suffix}",
            "started_at": now - timedelta(minutes=5),
            "next_charge_at": now - timedelta(minutes=1),
        }
        return Subscription.model_validate(values | changes)

    due, cancelled, later = (subscription(f"4477009{n:05d}") for n in range(3))
    later = later.model_copy(update={"next_charge_at": now + timedelta(hours=1)})
    for s in (due, cancelled, later):
        assert store.activate(s, previous=None)
    gone = cancelled.model_copy(update={"state": SubscriptionState.CANCELLED, "cancelled_at": now})
    assert store.cancel(gone, previous=cancelled)

    invoke(stack)
    wanted = {charge_message_id(service.service_id, s.msisdn, 0) for s in (due, cancelled, later)}
    found = seen_mts(stack, wanted, timeout_s=20)
    charge_id = charge_message_id(service.service_id, due.msisdn, 0)
    assert set(found) == {charge_id}, found  # only the due one: not the cancelled, not the later one
    record = found[charge_id]
    assert (record.purpose, record.billed, record.destination, record.source, record.text) == (
        MtPurpose.SUBSCRIPTION,
        True,
        due.msisdn,
        "4444",
        terms.content_text,
    )

    after = store.get(service.service_id, due.msisdn)
    assert after is not None and after.charges_count == 1
    assert now + timedelta(minutes=59) < after.next_charge_at <= datetime.now(UTC) + timedelta(hours=1)

    invoke(stack)  # a second run inside the hour charges nothing more
    second = charge_message_id(service.service_id, due.msisdn, 1)
    assert seen_mts(stack, {second}, timeout_s=5) == {}
    again = store.get(service.service_id, due.msisdn)
    assert again is not None and again.charges_count == 1
    raw = client.get_item(TableName=table, Key={"pk": {"S": gone.key()[0]}, "sk": {"S": "META"}})["Item"]
    assert (
        "gsi1pk" not in raw
        and from_item(Subscription, raw, skip=("pk", "sk", "entity_type")).charges_count == 0
    )
