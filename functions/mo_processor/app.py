"""MO processor: consumes ``mo.received`` events (SQS, partial batch failures).

Each record is decided on its own by :class:`~smsbilling.logic.mo_processing.MoProcessor`
(decode, reassemble, route, blacklist, bill, hand on; the decision written last). A record that
fails (bad contract, missing configuration, a store unavailable) is reported back to SQS for
redelivery and, past the redrive limit, lands in the DLQ with its body; the rest of the batch is
deleted. Processing is idempotent, so redeliveries are harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_reassembly import DynamoReassemblyStore
from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.adapters.dynamodb_subscriptions import DynamoSubscriptionStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.adapters.traffic_guard import build_guard
from smsbilling.contracts import MoReceived
from smsbilling.domain.entities import PartnerService
from smsbilling.domain.inbound import StoredMo
from smsbilling.logic.blacklists import StopList
from smsbilling.logic.charging import Charger
from smsbilling.logic.mo_processing import MoProcessor
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.logic.subscriptions import on_mo, on_stop
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _mo_processor() -> MoProcessor:
    settings = load_settings()
    client = aws.dynamodb()
    tables = settings.tables
    entities = DynamoEntityStore(client, tables.entities)
    events = SqsEventPublisher(aws.sqs(), settings.queues)
    subscriptions = DynamoSubscriptionStore(
        client, tables.entities, shards=settings.subscriptions.due_shards_count
    )

    stops = StopList(entities)  # a stop word also puts the subscriber on the partner's blacklist

    def subscribe(service: PartnerService, mo: StoredMo, keyword_rest: str, now: datetime) -> None:
        on_mo(
            service,
            mo=mo,
            keyword_rest=keyword_rest,
            now=now,
            store=subscriptions,
            events=events,
            opt_outs=stops,
        )

    def stop(mo: StoredMo, word: str, now: datetime) -> int:
        services = partial(entities.get, PartnerService)
        return on_stop(
            mo, word=word, now=now, store=subscriptions, events=events, services=services, opt_outs=stops
        )

    charger = Charger(
        DynamoDbLedgerStore(tables.ledger, client, settings.ledger),
        EntityPlanSource(entities, cache_s=settings.messages.tariff_plans_cache_s),
        DynamoTallyStore(
            client,
            tables.counters,
            conflict_retries_max=settings.ledger.conflict_retries_max,
            backoff_base_ms=settings.ledger.conflict_backoff_base_ms,
        ),
        DynamoStatisticsStore.deployed(client, settings),  # partner statistics, counted with the charge
    )
    return MoProcessor(
        store=DynamoInboundStore(client, tables.messages),
        entities=entities,
        reassembly=DynamoReassemblyStore(client, tables.messages),
        events=events,
        charger=charger,
        subscriptions=subscribe,
        stops=stop,
        limits=settings.messages,
        guard=build_guard(settings, client, entities, metrics),
        held_text_chars=settings.traffic.held_text_chars_max,
    )


def record_handler(record: SQSRecord) -> None:
    event = MoReceived.model_validate_json(record.body)
    mo = _mo_processor().process(event, now=datetime.now(UTC))
    logger.info(
        "mo decided",
        extra={
            "message_id": mo.message_id,
            "state": mo.state.value,
            "service_id": mo.service_id,
            "charged_amount": mo.charged_amount,
            "reason": mo.reason,
            "risk_score": mo.risk_score,
            "controls": mo.controls,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
