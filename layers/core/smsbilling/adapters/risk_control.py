"""The deployed risk score: its control (traffic guard slot 5) and the OTP verify path's counter.

Both count into the counters table through :class:`DynamoTrafficCounters`, keeping items
``risk.counters_keep_after_window_s`` past their window so that last month's operator mix is still
there on the first day of the next (docs/traffic/risk-score.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.adapters.dynamodb_traffic_counters import DynamoTrafficCounters
from smsbilling.logic.risk import EntityReader, OtpVerifications, RiskControl
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def risk_counters(settings: Settings, client: DynamoDBClient) -> DynamoTrafficCounters:
    keep_s = settings.traffic.risk.counters_keep_after_window_s
    return DynamoTrafficCounters(client, settings.tables.counters, keep_after_window_s=keep_s)


def build_risk_control(settings: Settings, client: DynamoDBClient, entities: EntityReader) -> RiskControl:
    """The risk-score control over the counters and entities tables (adapters/traffic_guard.py)."""
    return RiskControl(
        risk_counters(settings, client),
        entities,
        settings.traffic.risk,
        cache_s=settings.traffic.rules_cache_s,
    )


def build_otp_verifications(settings: Settings, client: DynamoDBClient) -> OtpVerifications:
    """What web/otp.py's verify route counts verified codes with."""
    return OtpVerifications(risk_counters(settings, client), settings.traffic.risk)
