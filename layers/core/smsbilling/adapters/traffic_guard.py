"""The deployed traffic guard: every control over the entities and counters tables, in order.

The MO and MT processors build it once per process (docs/traffic-control.md). The order is the
cheapest and most decisive first; the first reject ends the run, so the paid HLR lookup is last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.adapters.dynamodb_alerts import deployed_alert_sink
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_fingerprints import build_duplicate_control
from smsbilling.adapters.dynamodb_traffic_counters import build_fraud_limit_control
from smsbilling.adapters.hlr import build_hlr_control
from smsbilling.adapters.risk_control import build_risk_control
from smsbilling.adapters.traffic_metrics import MetricsSink, record_verdict
from smsbilling.logic.countries import CountryControl, DestinationRulesCache
from smsbilling.logic.spam import SpamControl
from smsbilling.logic.traffic_control import TrafficControl, TrafficGuard
from smsbilling.logic.traffic_defaults import LiveTrafficLimits, PartnerSettingsCache
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def build_guard(
    settings: Settings, client: DynamoDBClient, entities: DynamoEntityStore, metrics: MetricsSink
) -> TrafficGuard:
    """The MO and MT processors' guard; ``metrics`` counts its verdicts (adapters/traffic_metrics.py)."""
    controls: list[TrafficControl] = []
    live = LiveTrafficLimits(entities, settings.traffic)  # the admin's traffic defaults, one cache
    partners = PartnerSettingsCache(entities, settings.traffic.rules_cache_s)  # each partner's, one cache
    # 1. duplicates
    controls.append(build_duplicate_control(settings, client, live))
    # 2. allowed countries and premium ranges
    rules = DestinationRulesCache(entities, ttl_s=settings.traffic.rules_cache_s, partners=partners)
    controls.append(CountryControl(rules))
    # 3. anti-spam
    controls.append(SpamControl.from_settings(entities, settings.traffic))
    # 4. subscriber flood and fraud limits
    controls.append(build_fraud_limit_control(settings, client, entities, live))
    # 5. risk score
    controls.append(build_risk_control(settings, client, entities))
    # 6. HLR (paid: last)
    controls.append(build_hlr_control(settings, client, entities, partners))
    return TrafficGuard(
        controls=controls,
        alerts=deployed_alert_sink(settings, client),  # ALERT# records; new ones logged and sent to SNS
        exempt_purposes=frozenset(settings.traffic.exempt_purposes),
        observe=lambda facts, verdict: record_verdict(metrics, verdict, facts.direction),
    )
