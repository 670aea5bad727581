"""Alert records: what a traffic control found, how often, who acknowledged it (docs/traffic/monitoring.md).

The traffic guard raises an :class:`~smsbilling.domain.traffic.AlertEvent` for every finding. The
alert sink keeps **one record per event key** (control, rule and UTC hour), so a pumping run over one
rule is one alert counting its messages, not thousands of alerts:

- the first raise of a key creates the record (``status`` open, ``count`` 1, ``first_at`` and the
  sample message id of that raise) and staff are told (a WARNING log line; the SNS topic in AWS);
- every later raise of the key adds 1 to ``count`` and moves ``last_at``; nothing else changes and
  nobody is told again;
- an admin **acknowledges** it (``acknowledged_by`` the admin key id, ``acknowledged_at``, a note,
  ``count_at_acknowledgement``). Later raises of the same key still count, silently: the
  acknowledgement stands (``count - count_at_acknowledgement`` came after it). The next hour's raises
  are another key, so a run that goes on past the hour opens a new alert and tells staff again.

Records are listed by status, oldest first (``first_at``), through the entities table's ``gsi1``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Final

from pydantic import Field

from smsbilling.domain.entities import Entity
from smsbilling.domain.traffic import REASON_CHARS_MAX, Action, AlertEvent, ControlName, Direction

ALERT_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
NOTE_CHARS_MAX: Final = 500
KEY_CHARS_MAX: Final = 300
RULE_ID_CHARS_MAX: Final = 200


class AlertStatus(StrEnum):
    OPEN = "open"  # nobody has looked at it yet
    ACKNOWLEDGED = "acknowledged"  # an admin has (repeats after that are counted, silently)


def alert_id_of(key: str) -> str:
    """The record id of an event key: 32 hex digits, safe in paths (keys hold rule ids and ``#``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def listing_sort_key(first_at: datetime, alert_id: str) -> str:
    return f"{first_at.astimezone(UTC).isoformat()}#{alert_id}"


class Alert(Entity):
    """One alert: every raise of one event key (control, rule, UTC hour), counted."""

    type_name: ClassVar[str] = "ALERT"
    id_fields: ClassVar[tuple[str, ...]] = ("alert_id",)
    alert_id: str = Field(pattern=ALERT_ID_PATTERN)
    event_key: str = Field(
        min_length=1, max_length=KEY_CHARS_MAX, description="control#rule_id#hour (AlertEvent.key)"
    )
    control: ControlName
    rule_id: str = Field(min_length=1, max_length=RULE_ID_CHARS_MAX)
    action: Action = Field(description="what the finding asked for (alert, hold, reject)")
    reason: str = Field(max_length=REASON_CHARS_MAX, description="the first raise's reason")
    direction: Direction
    first_at: datetime = Field(description="the first raise's message time")
    last_at: datetime = Field(description="the latest raise's message time")
    count: int = Field(ge=1, description="raises of this key (a redelivered message may count again)")
    sample_message_id: str = Field(min_length=1, max_length=64, description="the first raise's message")
    partner_id: str | None = None
    operator_id: str | None = None
    status: AlertStatus = AlertStatus.OPEN
    acknowledged_by: str | None = Field(default=None, max_length=64, description="the admin key id")
    acknowledged_at: datetime | None = None
    count_at_acknowledgement: int | None = Field(default=None, ge=1, description="``count`` as then read")
    note: str = Field(default="", max_length=NOTE_CHARS_MAX, description="the acknowledging admin's note")

    def listing(self) -> tuple[str, str]:
        return f"ALERT#{self.status.value}", listing_sort_key(self.first_at, self.alert_id)


def listing_pk(status: AlertStatus) -> str:
    return f"ALERT#{status.value}"


def new_alert(event: AlertEvent) -> Alert:
    """The record the first raise of ``event.key`` creates (later raises only count and move last_at)."""
    finding, facts = event.finding, event.facts
    return Alert(
        alert_id=alert_id_of(event.key),
        event_key=event.key[:KEY_CHARS_MAX],  # the id is of the whole key
        control=finding.control,
        rule_id=finding.rule_id[:RULE_ID_CHARS_MAX],
        action=finding.action,
        reason=finding.reason[:REASON_CHARS_MAX],
        direction=facts.direction,
        first_at=facts.at,
        last_at=facts.at,
        count=1,
        sample_message_id=facts.message_id,
        partner_id=facts.partner_id,
        operator_id=facts.operator_id,
    )


def repeated(alert: Alert, event: AlertEvent) -> Alert:
    """``alert`` after one more raise of its key (what the stores do atomically)."""
    return alert.model_copy(update={"count": alert.count + 1, "last_at": event.facts.at})


def acknowledged(alert: Alert, *, by: str, at: datetime, note: str) -> Alert:
    """``alert`` acknowledged by admin key ``by`` (an acknowledged alert is returned unchanged)."""
    if alert.status is AlertStatus.ACKNOWLEDGED:
        return alert
    return alert.model_copy(
        update={
            "status": AlertStatus.ACKNOWLEDGED,
            "acknowledged_by": by,
            "acknowledged_at": at,
            "count_at_acknowledgement": alert.count,
            "note": note,
        }
    )


ACKNOWLEDGEMENT_FIELDS: Final = (
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "count_at_acknowledgement",
    "note",
)
"""What acknowledging writes (``count`` and ``last_at`` belong to the sink, and are never written back)."""


__all__ = [
    "ACKNOWLEDGEMENT_FIELDS",
    "ALERT_ID_PATTERN",
    "Alert",
    "AlertStatus",
    "acknowledged",
    "alert_id_of",
    "listing_pk",
    "new_alert",
    "repeated",
]
