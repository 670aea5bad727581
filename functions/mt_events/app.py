"""MT-events processor: consumes the ``dlr`` queue (submit results, receipts, status-callback retries).

Each record is handled on its own by :class:`~smsbilling.logic.mt_events.MtEventsProcessor`
(apply to the ``MT#`` record, correlate operator ids, settle billing, tell the partner). A record
that fails (a bad contract, an unknown MT or link, a receipt that cannot wait for its submit
result, a store unavailable) goes back to SQS and, past the redrive limit, to the DLQ with its
body. Handling is idempotent: repeats are ``duplicate`` outcomes. Subscriber numbers are never
logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import RootModel

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.contracts import MtEvent
from smsbilling.logic.charging import Charger
from smsbilling.logic.mt_events import MtEventsProcessor
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")
processor = BatchProcessor(event_type=EventType.SQS)


class DlrQueueMessage(RootModel[MtEvent]):
    """What the dlr queue carries, told apart by ``kind``."""


WAITING = "waiting_for_submit_result"


@cache
def _processor() -> MtEventsProcessor:
    settings = load_settings()
    client = aws.dynamodb()
    tables = settings.tables
    entities = DynamoEntityStore(client, tables.entities)
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
    return MtEventsProcessor(
        store=DynamoMtStore(client, tables.messages, shards=settings.messages.mt_due_shards_count),
        entities=entities,
        billing=charger,
        callbacks=UrllibHandlerClient(),
        outbox=DynamoOutboxStore(client, tables.messages),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=settings.messages,
        delivery=settings.partner_delivery,
    )


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    event = DlrQueueMessage.model_validate_json(record.body).root
    handled = _processor().handle(
        event,
        now=datetime.now(UTC),
        time_left_s=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
    )
    if WAITING in handled.outcomes or "unlinked_intermediate_dropped" in handled.outcomes:
        metrics.add_metric(name="UnmatchedReceipts", unit=MetricUnit.Count, value=1)
    logger.info(
        "mt event handled",
        extra={
            "kind": event.kind,
            "message_id": handled.message_id,
            "outcomes": list(handled.outcomes),
            "state": handled.state,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
