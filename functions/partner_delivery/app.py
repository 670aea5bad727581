"""Partner delivery: consumes ``mo.routed`` commands (SQS, one per invocation, partial batch failures).

Each command is handled by :class:`~smsbilling.logic.partner_dispatch.PartnerDispatcher`: one signed
HTTP attempt (or an SMPP outbox item), then the reply MT, the delayed retry or the dead letter, and
the outcome recorded last. The event source hands over one record at a time, so a slow handler
(up to ``request_timeout_s``) holds only its own message and never another partner's.

An MO the MO processor has routed but not yet written (it publishes first) fails the record with
a short visibility timeout, so it is looked at again in ``undecided_retry_s``; past the redrive
limit it waits in the DLQ, and the MO processor's own redelivery publishes it again anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.adapters.sqs_dead_letters import SqsDeliveryDeadLetters
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.contracts import MoRouted
from smsbilling.logic.partner_dispatch import MoNotDecided, PartnerDispatcher
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _dispatcher() -> PartnerDispatcher:
    settings = load_settings()
    dynamodb, sqs = aws.dynamodb(), aws.sqs()
    messages = settings.tables.messages
    return PartnerDispatcher(
        mos=DynamoInboundStore(dynamodb, messages),
        entities=DynamoEntityStore(dynamodb, settings.tables.entities),
        log=DynamoDeliveryLog(dynamodb, messages),
        outbox=DynamoOutboxStore(dynamodb, messages),
        events=SqsEventPublisher(sqs, settings.queues),
        dead_letters=SqsDeliveryDeadLetters(sqs, settings.queues.delivery_dead_letter),
        client=UrllibHandlerClient(),
        limits=settings.partner_delivery,
    )


def _look_again_soon(record: SQSRecord) -> None:
    settings = load_settings()
    aws.sqs().change_message_visibility(
        QueueUrl=settings.queues.delivery,
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=settings.partner_delivery.undecided_retry_s,
    )


def record_handler(record: SQSRecord) -> None:
    command = MoRouted.model_validate_json(record.body)
    try:
        result = _dispatcher().dispatch(command, now=datetime.now(UTC))
    except MoNotDecided:
        logger.info("mo not decided yet", extra={"message_id": command.message_id})
        _look_again_soon(record)
        raise
    logger.info(
        "mo delivery",
        extra={
            "message_id": command.message_id,
            "service_id": command.service_id,
            "attempt": command.attempt,
            "disposition": result.disposition.value,
            "reason": result.reason,
            "reply_mt_id": result.reply_mt_id,
            "retry_in_s": result.delay_s,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
