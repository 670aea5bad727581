"""Scheduled ledger reconciliation (R12): stored balances against a replay of the journal.

Emits ``LedgerDiscrepancies`` (EMF metric); the template alarms on any value above zero and
notifies staff. Each discrepancy is logged with the account and the two amounts.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.logic.reconcile import reconcile
from smsbilling.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="smsbilling")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings()
    report = reconcile(DynamoDbLedgerStore(settings.tables.ledger, aws.dynamodb(), settings.ledger))
    metrics.add_metric(name="LedgerDiscrepancies", unit=MetricUnit.Count, value=len(report.discrepancies))
    for found in report.discrepancies:
        logger.error(
            "ledger discrepancy",
            extra={
                "account": str(found.account) if found.account else None,
                "field": found.field,
                "stored": found.stored,
                "replayed": found.replayed,
            },
        )
    summary = {
        "ok": report.ok,
        "accounts_checked": report.accounts_checked,
        "transfers_replayed": report.transfers_replayed,
        "discrepancies": len(report.discrepancies),
    }
    logger.info("reconciliation finished", extra=summary)
    return summary
