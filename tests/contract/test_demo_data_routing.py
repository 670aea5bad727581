"""The demo data routes and bills an MO through the DynamoDB adapters (what `make run` shows)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra import demo_data
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_reassembly import DynamoReassemblyStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import Operator
from smsbilling.domain.inbound import InboundMo, MoState
from smsbilling.domain.mt_encoding import operator_for
from smsbilling.logic.charging import Charger
from smsbilling.logic.mo_intake import accept_mo
from smsbilling.logic.mo_processing import MoProcessor
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.settings import MessageLimits
from tests.contract.stores import fresh_table

pytestmark = pytest.mark.dynamodb_local
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_demo_mo_is_routed_to_the_demo_service_and_charged(dynamodb_local_client) -> None:  # type: ignore[no-untyped-def]
    client = dynamodb_local_client
    entities_table, ledger_table = fresh_table(client, "entities"), fresh_table(client, "ledger")
    messages_table, counters_table = fresh_table(client, "messages"), fresh_table(client, "counters")
    demo = demo_data.load(client, entities_table, ledger_table=ledger_table)
    assert demo_data.load(client, entities_table, ledger_table=ledger_table) == demo  # idempotent

    entities = DynamoEntityStore(client, entities_table)
    ledger = DynamoDbLedgerStore(ledger_table, client)
    store = DynamoInboundStore(client, messages_table)
    events = MemoryEventPublisher()
    processor = MoProcessor(
        store=store,
        entities=entities,
        reassembly=DynamoReassemblyStore(client, messages_table),
        events=events,
        charger=Charger(ledger, EntityPlanSource(entities), DynamoTallyStore(client, counters_table)),
        subscriptions=lambda service, mo, rest, now: None,
        stops=lambda mo, word, now: 0,
        limits=MessageLimits(),
    )
    intake = MemoryEventPublisher()
    mo = InboundMo(operator_message_id="demo-1", source="07700900123", destination="4444", text="abc 1")
    accept_mo(demo.http_link, mo, now=NOW, store=store, events=intake)
    decided = processor.process(intake.mo[0], now=NOW)
    assert decided.state is MoState.ROUTED, decided.reason
    assert (decided.service_id, decided.charged_amount, decided.currency) == ("demo-service", 150, "GBP")
    assert [command.message_id for command, _ in events.delivery] == [decided.message_id]


def test_the_demo_partner_can_send_from_its_prepaid_credits_once_however_often_stored(
    dynamodb_local_client,  # type: ignore[no-untyped-def]
) -> None:
    client = dynamodb_local_client
    entities_table, ledger_table = fresh_table(client, "entities"), fresh_table(client, "ledger")
    demo = demo_data.load(client, entities_table, ledger_table=ledger_table)
    demo_data.load(client, entities_table, ledger_table=ledger_table)  # `make run` again: no second top-up

    ledger = DynamoDbLedgerStore(ledger_table, client)
    credits = ledger.balance(accounts.partner(demo.partner.partner_id, Book.CREDITS))
    assert credits.headroom == demo_data.DEMO_CREDITS
    # the partner API routes a UK mobile to the demo operator (POST /v1/sms needs an operator)
    operator = DynamoEntityStore(client, entities_table).get(Operator, demo.operator.operator_id)
    assert operator is not None and operator_for("447700900555", [operator]) == operator.operator_id
