"""Fraud limits: a message count or a total price per UTC window, per scope (docs/traffic/fraud-limits.md).

An admin sets a :class:`FraudLimit` ("at most 100 MOs per hour from any one subscriber", "at most
500.00 GBP per day on short number 6001", "at most 50 messages per minute from the number range
4477009001"); the fraud-limit control (logic/fraud_limits.py) counts every message a limit applies
to in that limit's window and acts (alert, hold, reject) on the first message over the threshold
and every one after it in the window. The platform's per-subscriber MO flood limit
(``settings.traffic``) is counted the same way (:func:`flood_counts`).

What a limit counts is described here, purely: which limits apply to a message and under which
counter key (:func:`counted_by`); the logic counts them and compares (:meth:`Counted.finding`).

- ``scope_value`` None means *every value separately*: scope ``subscriber`` without a value is one
  counter per subscriber; ``number_range`` without a value is one counter per block of numbers
  sharing all but their last ``range_suffix_digits`` digits (2: blocks of 100). With a value the
  limit covers that one operator, partner, service, short number, subscriber, or every number
  starting with that range prefix.
- ``metric`` ``amount`` sums :attr:`MessageFacts.price` (minor units) and needs a ``currency``; any
  limit with a ``currency`` only counts messages in that currency. A message without a price adds
  nothing to an amount limit and is not judged by it.
- Attempts are counted, not successes: a rejected or held message counts too, so a pumping run
  stays blocked for the rest of the window instead of letting every other message through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Final

from pydantic import Field

from smsbilling.domain.entities import Entity
from smsbilling.domain.money import Money
from smsbilling.domain.traffic import (
    REASON_CHARS_MAX,
    Action,
    ControlName,
    Direction,
    Finding,
    MessageFacts,
    Window,
)

LISTING: Final = "FRAUDLIMIT"
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_DIGITS: Final = re.compile(r"^[0-9]+$")
_ID: Final = re.compile(ID_PATTERN)
_SUBSCRIBER: Final = re.compile(r"^[1-9][0-9]{6,14}$")
_RANGE: Final = re.compile(r"^[1-9][0-9]{0,14}$")
_SHORT_NUMBER: Final = re.compile(r"^[0-9]{3,15}$")


class LimitDirection(StrEnum):
    MO = "mo"
    MT = "mt"
    ANY = "any"


class LimitScope(StrEnum):
    OPERATOR = "operator"
    PARTNER = "partner"
    SERVICE = "service"
    SHORT_NUMBER = "short_number"
    SUBSCRIBER = "subscriber"
    NUMBER_RANGE = "number_range"
    PLATFORM = "platform"


HOT_SCOPES: Final = frozenset({LimitScope.PLATFORM, LimitScope.OPERATOR, LimitScope.SHORT_NUMBER})
"""Scopes whose one counter may see a large share of all traffic: spread over several items."""


class LimitMetric(StrEnum):
    COUNT = "count"  # messages
    AMOUNT = "amount"  # the subscriber's price, minor units of ``currency``


class FraudLimit(Entity):
    """One admin-set limit (listed by id under ``FRAUDLIMIT``)."""

    type_name: ClassVar[str] = "FRAUDLIMIT"
    id_fields: ClassVar[tuple[str, ...]] = ("limit_id",)
    limit_id: str = Field(pattern=ID_PATTERN)
    direction: LimitDirection = LimitDirection.ANY
    scope: LimitScope
    scope_value: str | None = Field(default=None, min_length=1, max_length=64)
    metric: LimitMetric = LimitMetric.COUNT
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    window: Window
    threshold: int = Field(gt=0, description="messages, or minor units of currency; over it the action")
    action: Action
    enabled: bool = True
    note: str = Field(default="", max_length=200)
    created_at: datetime
    updated_at: datetime | None = None

    def listing(self) -> tuple[str, str]:
        return LISTING, self.limit_id


def limit_problem(limit: FraudLimit) -> tuple[str, str] | None:
    """``(field, reason)`` when the limit cannot be counted as written, else None."""
    if limit.metric is LimitMetric.AMOUNT and limit.currency is None:
        return "currency", "an amount limit needs the currency its threshold is in"
    value = limit.scope_value
    if limit.scope is LimitScope.PLATFORM:
        return None if value is None else ("scope_value", "the platform scope takes no value")
    if value is None:
        return None
    pattern, what = {
        LimitScope.SUBSCRIBER: (_SUBSCRIBER, "E.164 digits without '+'"),
        LimitScope.NUMBER_RANGE: (_RANGE, "the leading E.164 digits of the range"),
        LimitScope.SHORT_NUMBER: (_SHORT_NUMBER, "3-15 digits"),
    }.get(limit.scope, (_ID, "an id"))
    return None if pattern.match(value) else ("scope_value", f"not {what}")


_WHO: Final = {
    LimitScope.OPERATOR: "operator",
    LimitScope.PARTNER: "partner",
    LimitScope.SERVICE: "service",
    LimitScope.SHORT_NUMBER: "short number",
    LimitScope.SUBSCRIBER: "subscriber",
    LimitScope.NUMBER_RANGE: "number range",
}


@dataclass(frozen=True, slots=True)
class Counted:
    """One counter a message adds to, and what to do when its window's total passes ``threshold``."""

    control: ControlName
    rule_id: str
    key: str
    window: Window
    amount: int
    threshold: int
    action: Action
    hot: bool
    reason: str

    def finding(self, total: int) -> Finding | None:
        """A finding when the window's total (this message included) is over the threshold."""
        if total <= self.threshold:
            return None
        return Finding(self.control, self.rule_id, self.action, self.reason[:REASON_CHARS_MAX])


def _value_of(limit: FraudLimit, facts: MessageFacts, range_suffix_digits: int) -> str | None:
    """The scope value the message counts under (None: the limit does not cover the message)."""
    scope, wanted = limit.scope, limit.scope_value
    if scope is LimitScope.PLATFORM:
        return "*"
    if scope is LimitScope.NUMBER_RANGE:
        if wanted is not None:
            return wanted if facts.msisdn.startswith(wanted) else None
        if len(facts.msisdn) <= range_suffix_digits:
            return None
        return facts.msisdn[:-range_suffix_digits]
    actual = {
        LimitScope.OPERATOR: facts.operator_id,
        LimitScope.PARTNER: facts.partner_id,
        LimitScope.SERVICE: facts.service_id,
        LimitScope.SHORT_NUMBER: facts.short_number,
        LimitScope.SUBSCRIBER: facts.msisdn,
    }[scope]
    if actual is None or (wanted is not None and actual != wanted):
        return None
    return actual


def _reason(limit: FraudLimit, value: str, range_suffix_digits: int) -> str:
    if limit.metric is LimitMetric.AMOUNT and limit.currency is not None:
        over = str(Money(limit.threshold, limit.currency))
    else:
        noun = {LimitDirection.MO: "MOs", LimitDirection.MT: "MTs"}.get(limit.direction, "messages")
        over = f"{limit.threshold} {noun}"
    if limit.scope is LimitScope.PLATFORM:
        where = "the platform"
    elif limit.scope is LimitScope.NUMBER_RANGE and limit.scope_value is None:
        where = f"number range {value}{'x' * range_suffix_digits}"
    else:
        where = f"{_WHO[limit.scope]} {value}"
    return f"over {over} per {limit.window.value} for {where}"


def counted_by(limit: FraudLimit, facts: MessageFacts, *, range_suffix_digits: int = 2) -> Counted | None:
    """The counter ``facts`` adds to under ``limit``, or None when the limit does not cover it."""
    if not limit.enabled:
        return None
    if limit.direction is not LimitDirection.ANY and limit.direction.value != facts.direction.value:
        return None
    if limit.currency is not None and facts.currency != limit.currency:
        return None
    amount = 1
    if limit.metric is LimitMetric.AMOUNT:
        if limit.currency is None or facts.price <= 0:
            return None
        amount = facts.price
    value = _value_of(limit, facts, range_suffix_digits)
    if value is None:
        return None
    return Counted(
        control=ControlName.FRAUD_LIMIT,
        rule_id=limit.limit_id,
        key=f"FL#{limit.limit_id}#{limit.metric.value}#{limit.scope.value}={value}",
        window=limit.window,
        amount=amount,
        threshold=limit.threshold,
        action=limit.action,
        hot=limit.scope in HOT_SCOPES,
        reason=_reason(limit, value, range_suffix_digits),
    )


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """The platform's per-subscriber MO flood limit (settings.traffic; 0 turns a window off)."""

    per_minute_max: int = 0
    per_hour_max: int = 0
    action: Action = Action.REJECT


def flood_counts(flood: FloodLimits, facts: MessageFacts) -> list[Counted]:
    """The subscriber's MO counters ``facts`` adds to (none for an MT or with the limit off)."""
    if facts.direction is not Direction.MO:
        return []
    windows = ((Window.MINUTE, flood.per_minute_max), (Window.HOUR, flood.per_hour_max))
    return [
        Counted(
            control=ControlName.FLOOD,
            rule_id=f"mo_per_subscriber_per_{window.value}",
            key=f"FLOOD#mo#{facts.msisdn}",
            window=window,
            amount=1,
            threshold=most,
            action=flood.action,
            hot=False,
            reason=f"over {most} MOs per {window.value} from subscriber {facts.msisdn}",
        )
        for window, most in windows
        if most > 0
    ]


def all_counted(
    limits: Iterable[FraudLimit], flood: FloodLimits, facts: MessageFacts, *, range_suffix_digits: int
) -> list[Counted]:
    """Every counter ``facts`` adds to: the flood limit's first, then each limit that covers it."""
    counted = flood_counts(flood, facts)
    for limit in limits:
        one = counted_by(limit, facts, range_suffix_digits=range_suffix_digits)
        if one is not None:
            counted.append(one)
    return counted


__all__ = [
    "HOT_SCOPES",
    "LISTING",
    "Counted",
    "FloodLimits",
    "FraudLimit",
    "LimitDirection",
    "LimitMetric",
    "LimitScope",
    "all_counted",
    "counted_by",
    "flood_counts",
    "limit_problem",
]
