"""Traffic control: what a control sees of a message, what it finds, the verdict (docs/traffic-control.md).

Every message the platform carries for a partner passes the **traffic guard**
(:mod:`smsbilling.logic.traffic_control`) once before anything is charged or sent: a routed MO
after routing, an MT when its record is created. Each control (fraud limits, the risk score,
anti-spam, duplicates, allowed countries, the subscriber flood limit, the HLR check) looks at the
same :class:`MessageFacts` and returns :class:`Finding` s; the most severe action wins:

=========  ==========================================================================================
action     what happens to the message
=========  ==========================================================================================
alert      goes on; an alert record is raised (and mailed to staff through SNS in AWS)
hold       waits for an admin: MO state ``held`` / MT ``queued`` with ``held_reason``; released, it
           goes on as if no control had spoken; rejected, it ends ``rejected`` and is never charged
reject     ends at once: MO ``rejected``, MT ``rejected`` (never sent, never charged), the reason on it
=========  ==========================================================================================

Counting windows are fixed and aligned on UTC (minute, hour, day, calendar month): a window's
counter item is keyed by its start, so every consumer counts into the same one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import Entity

REASON_CHARS_MAX: Final = 200


class Direction(StrEnum):
    MO = "mo"  # subscriber -> platform (premium traffic: the subscriber is charged)
    MT = "mt"  # platform -> subscriber (replies, bulk, subscriptions, OTP)


class Action(StrEnum):
    """What a finding asks for, least severe first."""

    ALERT = "alert"
    HOLD = "hold"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY: Final = {Action.ALERT: 1, Action.HOLD: 2, Action.REJECT: 3}


class ControlName(StrEnum):
    FRAUD_LIMIT = "fraud_limit"
    RISK = "risk"
    SPAM = "spam"
    DUPLICATE = "duplicate"
    COUNTRY = "country"
    FLOOD = "flood"  # per-subscriber MO flood limit
    HLR = "hlr"


class Window(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_FIXED_S: Final = {Window.MINUTE: 60, Window.HOUR: 3600, Window.DAY: 86_400}


def window_start(window: Window, at_s: int) -> int:
    """The epoch second the UTC window holding ``at_s`` starts at."""
    fixed = _FIXED_S.get(window)
    if fixed is not None:
        return at_s - at_s % fixed
    at = datetime.fromtimestamp(at_s, UTC)
    return int(datetime(at.year, at.month, 1, tzinfo=UTC).timestamp())


def window_end(window: Window, at_s: int) -> int:
    """The epoch second the UTC window holding ``at_s`` ends at (the next one's start)."""
    fixed = _FIXED_S.get(window)
    if fixed is not None:
        return window_start(window, at_s) + fixed
    at = datetime.fromtimestamp(at_s, UTC)
    days = calendar.monthrange(at.year, at.month)[1]
    return window_start(window, at_s) + days * 86_400


class MessageFacts(BaseModel):
    """What every control may look at. ``msisdn`` is the subscriber (MO source, MT destination)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Direction
    message_id: str = Field(min_length=1, max_length=64)
    at: datetime
    msisdn: str = Field(description="E.164 digits without '+'")
    text: str = ""
    operator_id: str | None = None
    partner_id: str | None = None
    service_id: str | None = None
    short_number: str | None = Field(default=None, description="MO: the number; MT: the source")
    price: int = Field(default=0, ge=0, description="what the subscriber pays, minor units")
    currency: str | None = None
    purpose: str | None = Field(default=None, description="MT: MtPurpose value (api, reply, otp, ...)")
    operator_message_id: str | None = Field(default=None, description="MO: the operator's id")
    link_id: str | None = None
    repeat_ok: bool = Field(default=False, description="the partner marked a legitimate repeat")

    @property
    def at_s(self) -> int:
        return int(self.at.timestamp())


@dataclass(frozen=True, slots=True)
class Finding:
    """One control's word on one message: which rule, what to do, and why (shown on the message)."""

    control: ControlName
    rule_id: str
    action: Action
    reason: str

    def label(self) -> str:
        """``control:rule_id:action`` as stored with the message."""
        return f"{self.control.value}:{self.rule_id}:{self.action.value}"


@dataclass(frozen=True, slots=True)
class Verdict:
    findings: tuple[Finding, ...] = ()
    risk_score: int | None = None

    @property
    def strongest(self) -> Finding | None:
        """The most severe finding (the first of equals)."""
        best: Finding | None = None
        for finding in self.findings:
            if best is None or finding.action.severity > best.action.severity:
                best = finding
        return best

    @property
    def action(self) -> Action | None:
        best = self.strongest
        return None if best is None else best.action

    @property
    def reason(self) -> str:
        best = self.strongest
        return "" if best is None else f"{best.control.value}: {best.reason}"[:REASON_CHARS_MAX]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(finding.label() for finding in self.findings)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A finding worth telling staff about, as the guard raises it (one per finding).

    ``key`` groups repeats: the alert sink keeps one alert record per key (counting repeats), so a
    pumping run raises one alert per rule and hour, not one per message.
    """

    key: str
    finding: Finding
    facts: MessageFacts

    @staticmethod
    def of(finding: Finding, facts: MessageFacts) -> AlertEvent:
        hour = window_start(Window.HOUR, facts.at_s)
        return AlertEvent(f"{finding.control.value}#{finding.rule_id}#{hour}", finding, facts)


class HeldStatus(StrEnum):
    HELD = "held"  # waiting for an admin
    RELEASED = "released"  # an admin let it go on (no control speaks again)
    REJECTED = "rejected"  # an admin refused it: it ends rejected, never charged


class HeldMessage(Entity):
    """A message a control held, waiting for an admin (listed by status, oldest first).

    ``command_json`` is the queue message to publish again when an admin decides (the ``mo.received``
    event of an MO, the ``mt.requested`` / ``mt.send`` command of an MT): the processor then reads
    the decision here and goes on or rejects.
    """

    type_name: ClassVar[str] = "HELD"
    id_fields: ClassVar[tuple[str, ...]] = ("message_id",)
    message_id: str = Field(min_length=1, max_length=64)
    direction: Direction
    status: HeldStatus = HeldStatus.HELD
    reason: str = Field(max_length=REASON_CHARS_MAX)
    labels: tuple[str, ...] = ()
    risk_score: int | None = None
    partner_id: str | None = None
    operator_id: str | None = None
    msisdn: str
    text: str = Field(default="", max_length=480, description="the start of the text, for the reviewer")
    held_at: datetime
    command_json: str = Field(max_length=200_000, description="the queue message that carries it on")
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=64, description="the admin key id")
    decision_note: str = Field(default="", max_length=REASON_CHARS_MAX)

    def listing(self) -> tuple[str, str]:
        return f"HELD#{self.status.value}", f"{self.held_at.astimezone(UTC).isoformat()}#{self.message_id}"


class PartnerTrafficSettings(Entity):
    """A partner's traffic-control switches, set by the admin (none stored: the platform defaults)."""

    type_name: ClassVar[str] = "PTRAFFIC"
    id_fields: ClassVar[tuple[str, ...]] = ("partner_id",)
    partner_id: str = Field(min_length=1, max_length=64)
    allowed_countries: tuple[str, ...] | None = Field(
        default=None, description="E.164 country codes MTs may go to; None: the operators' countries"
    )
    premium_ranges_allowed: tuple[str, ...] = Field(
        default=(), description="premium-rate prefixes (PremiumRange) this partner may send to anyway"
    )
    hlr_check: bool = Field(default=False, description="look subscribers up before sending (HLR)")
    updated_at: datetime | None = None


_ActionName = Literal["alert", "hold", "reject"]


class TrafficOverrides(BaseModel):
    """What an admin may set; a field left out (None) keeps the settings' value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mo_per_subscriber_per_minute_max: int | None = Field(default=None, ge=0, le=1_000_000)
    mo_per_subscriber_per_hour_max: int | None = Field(default=None, ge=0, le=1_000_000)
    mo_flood_action: _ActionName | None = None
    duplicate_window_s: int | None = Field(default=None, ge=0, le=7 * 86_400)
    duplicate_action: _ActionName | None = None
    duplicate_mt_purposes: tuple[str, ...] | None = Field(default=None, max_length=10)


class TrafficDefaults(Entity):
    """The admin's overrides of the traffic settings (one item, id ``default``)."""

    type_name: ClassVar[str] = "TRAFFICDEFAULTS"
    id_fields: ClassVar[tuple[str, ...]] = ("defaults_id",)
    defaults_id: Literal["default"] = "default"
    overrides: TrafficOverrides = TrafficOverrides()


__all__ = [
    "Action",
    "AlertEvent",
    "ControlName",
    "Direction",
    "Finding",
    "HeldMessage",
    "HeldStatus",
    "MessageFacts",
    "PartnerTrafficSettings",
    "TrafficDefaults",
    "TrafficOverrides",
    "Verdict",
    "Window",
    "window_end",
    "window_start",
]
