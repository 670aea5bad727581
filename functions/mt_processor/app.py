"""MT processor: consumes the ``mt`` queue (``mt.requested`` and ``mt.send``; partial batch failures).

Each record is handled on its own by :class:`~smsbilling.logic.mt_sending.MtSender` (create the
``MT#`` record, charge a billed MT, hand the parts to the operator link). A record that fails (a
bad contract, missing configuration, an operator link that cannot take it now, a store
unavailable) is reported back to SQS for redelivery and, past the redrive limit, lands in the DLQ
with its body; the rest of the batch is deleted. Handling is idempotent on the MT id. No POST to an
HTTP operator starts unless the function has the request's timeout (plus a margin) left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, RootModel

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.http_operator import HttpOperatorClient
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.adapters.traffic_guard import build_guard
from smsbilling.contracts import MtRequested, SendMt
from smsbilling.logic.charging import Charger
from smsbilling.logic.mt_sending import MtSender
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")
processor = BatchProcessor(event_type=EventType.SQS)


class MtCommand(RootModel[Annotated[MtRequested | SendMt, Field(discriminator="kind")]]):
    """What the mt queue carries, told apart by ``kind``."""


@cache
def _sender() -> MtSender:
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
    return MtSender(
        store=DynamoMtStore(client, tables.messages, shards=settings.messages.mt_due_shards_count),
        entities=entities,
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        charger=charger,
        operators=HttpOperatorClient(settings.operator_mt),
        limits=settings.messages,
        http=settings.operator_mt,
        guard=build_guard(settings, client, entities, metrics),
        held_text_chars=settings.traffic.held_text_chars_max,
        guard_time_s=settings.traffic.hlr_timeout_s,  # the guard's one network call
    )


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    command = MtCommand.model_validate_json(record.body).root
    mt = _sender().process(
        command,
        now=datetime.now(UTC),
        time_left_s=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
    )
    logger.info(
        "mt processed",
        extra={
            "message_id": mt.message_id,
            "kind": command.kind,
            "state": mt.mt.state.value,
            "parts": len(mt.mt.parts),
            "link_id": mt.link_id,
            "billed": mt.billed,
            "reason": mt.mt.reason,
            "held_reason": mt.held_reason,
            "risk_score": mt.risk_score,
            "controls": mt.controls,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
