"""MT expiry sweep (every five minutes): MTs past their final wait become ``expired``.

:meth:`~smsbilling.logic.mt_events.MtEventsProcessor.expire_due` settles each one as any other
end (a billed MT's pending charge is voided) and queues its partner callback on the DLR queue.
Logs and emits counts only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.logic.charging import Charger
from smsbilling.logic.mt_events import MtEventsProcessor
from smsbilling.logic.plans import EntityPlanSource
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = load_settings()
    client, tables, limits = aws.dynamodb(), settings.tables, settings.messages
    entities = DynamoEntityStore(client, tables.entities)
    charger = Charger(
        DynamoDbLedgerStore(tables.ledger, client, settings.ledger),
        EntityPlanSource(entities, cache_s=limits.tariff_plans_cache_s),
        DynamoTallyStore(
            client,
            tables.counters,
            conflict_retries_max=settings.ledger.conflict_retries_max,
            backoff_base_ms=settings.ledger.conflict_backoff_base_ms,
        ),
        DynamoStatisticsStore.deployed(client, settings),  # partner statistics, counted with the charge
    )
    sweep = MtEventsProcessor(
        store=DynamoMtStore(client, tables.messages, shards=limits.mt_due_shards_count),
        entities=entities,
        billing=charger,
        callbacks=UrllibHandlerClient(),
        outbox=DynamoOutboxStore(client, tables.messages),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=limits,
        delivery=settings.partner_delivery,
    ).expire_due(now=datetime.now(UTC), limit=limits.mt_expiry_per_run_max)
    metrics.add_metric(name="MtExpired", unit=MetricUnit.Count, value=sweep.expired)
    metrics.add_metric(name="MtExpiryFailed", unit=MetricUnit.Count, value=sweep.failed)
    logger.info("mt expiry sweep finished", extra={"expired": sweep.expired, "failed": sweep.failed})
    return {"expired": sweep.expired, "failed": sweep.failed}
