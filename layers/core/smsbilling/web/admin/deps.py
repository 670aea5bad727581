"""What the admin routers run against: the entities table, the ledger, the limits and the clock.

Built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher, SqsEventPublisher
from smsbilling.logic.admin_common import AdminStore
from smsbilling.logic.traffic_review import HeldPublisher
from smsbilling.ports import LedgerStore
from smsbilling.settings import AdminLimits, ApiLimits, SmsSendLimits, TrafficLimits, load_settings


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AdminDeps:
    entities: AdminStore
    ledger: LedgerStore
    limits: AdminLimits
    api: ApiLimits
    clock: Callable[[], datetime] = field(default=_utc_now)
    events: HeldPublisher = field(default_factory=MemoryEventPublisher)  # re-queues reviewed messages
    traffic: TrafficLimits = field(default_factory=TrafficLimits)  # e.g. the rows of a blacklist import
    sms: SmsSendLimits = field(default_factory=SmsSendLimits)  # the default partner send limits


_override: list[AdminDeps] = []


def use(deps: AdminDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> AdminDeps:
    settings = load_settings()
    client = aws.dynamodb()
    return AdminDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        ledger=DynamoDbLedgerStore(settings.tables.ledger, client, settings.ledger),
        limits=settings.admin,
        api=settings.api,
        traffic=settings.traffic,
        sms=settings.sms,
        events=SqsEventPublisher(aws.sqs(), settings.queues),
    )


def deps() -> AdminDeps:
    return _override[0] if _override else _deployed()


def entities() -> AdminStore:
    return deps().entities
