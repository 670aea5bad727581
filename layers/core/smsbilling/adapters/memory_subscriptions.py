"""In-memory subscription store: the fake of DynamoSubscriptionStore (same contract tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from smsbilling.contracts import MtRequested
from smsbilling.domain.entities import Subscription, SubscriptionState


def _as_read(subscription: Subscription) -> tuple[object, ...]:
    return (
        subscription.state,
        subscription.charges_count,
        subscription.next_charge_at,
        subscription.started_at,
    )


class MemorySubscriptionStore:
    def __init__(self) -> None:
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self.unsent: dict[str, MtRequested] = {}  # insertion order = claim order
        self.fail_next_claim = False  # tests: make the next claim lose a race

    def get(self, service_id: str, msisdn: str) -> Subscription | None:
        return self.subscriptions.get((service_id, msisdn))

    def on_short_number(self, msisdn: str, short_number: str) -> list[Subscription]:
        return [
            s for s in self.subscriptions.values() if s.msisdn == msisdn and s.short_number == short_number
        ]

    def due(self, now: datetime) -> Iterator[Subscription]:
        found = [
            s
            for s in self.subscriptions.values()
            if s.state is SubscriptionState.ACTIVE and s.next_charge_at <= now
        ]
        return iter(sorted(found, key=lambda s: s.next_charge_at))

    def unsent_charges(self, limit: int) -> list[MtRequested]:
        return list(self.unsent.values())[:limit]

    def activate(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        if subscription.state is not SubscriptionState.ACTIVE:
            raise ValueError("activate stores an active subscription")
        return self._write(subscription, previous)

    def cancel(self, subscription: Subscription, *, previous: Subscription) -> bool:
        if subscription.state is not SubscriptionState.CANCELLED:
            raise ValueError("cancel stores a cancelled subscription")
        return self._write(subscription, previous)

    def reschedule(self, updated: Subscription, *, previous: Subscription) -> bool:
        return self._write(updated, previous)

    def claim_charge(self, command: MtRequested, *, updated: Subscription, previous: Subscription) -> bool:
        if self.fail_next_claim:
            self.fail_next_claim = False
            return False
        if not self._write(updated, previous):
            return False
        self.unsent[command.message_id] = command
        return True

    def charge_sent(self, message_id: str) -> None:
        self.unsent.pop(message_id, None)

    def _write(self, subscription: Subscription, previous: Subscription | None) -> bool:
        key = (subscription.service_id, subscription.msisdn)
        stored = self.subscriptions.get(key)
        if (stored is None) != (previous is None):
            return False
        if stored is not None and previous is not None and _as_read(stored) != _as_read(previous):
            return False
        self.subscriptions[key] = subscription
        return True
