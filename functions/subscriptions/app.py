"""MT-subscriptions schedule (every minute): charge the due subscriptions (logic/subscriptions.py).

Re-queues the billed MTs an earlier run claimed but could not queue, then claims and queues one
billed ``MtRequested`` per due subscription. Logs counts only (never subscriber numbers) and
emits them as metrics.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_subscriptions import DynamoSubscriptionStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.domain.entities import PartnerService
from smsbilling.logic.subscriptions import run_due
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings()
    limits = settings.subscriptions
    entities = DynamoEntityStore(aws.dynamodb(), settings.tables.entities)
    report = run_due(
        datetime.now(UTC),
        store=DynamoSubscriptionStore(
            aws.dynamodb(),
            settings.tables.entities,
            shards=limits.due_shards_count,
            page_size=limits.due_page_size_max,
        ),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        services=lambda service_id: entities.get(PartnerService, service_id),
        limits=limits,
        time_left_s=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    summary = asdict(report)
    for name, value in summary.items():
        metrics.add_metric(name=f"Subscriptions_{name}", unit=MetricUnit.Count, value=value)
    logger.info("subscriptions run finished", extra=summary)
    return summary
