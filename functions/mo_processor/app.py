"""MO processor: consumes ``mo.received`` events (SQS, partial batch failures).

Each record is handled on its own: a record that fails (bad contract, store unavailable) is
reported back to SQS for redelivery and, past the redrive limit, lands in the DLQ with its body;
the rest of the batch is deleted. Handling is idempotent, so redeliveries are harmless.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.contracts import MoReceived
from smsbilling.logic.mo_intake import pick_up_mo
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    event = MoReceived.model_validate_json(record.body)
    store = DynamoInboundStore(aws.dynamodb(), load_settings().tables.messages)
    mo = pick_up_mo(event, store=store)
    logger.info("mo picked up", extra={"message_id": mo.message_id, "state": mo.state.value})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
