"""The online risk score: explainable signals, weighted, summed into 0..100 (docs/traffic/risk-score.md).

Every message the traffic guard sees gets a score. Each signal is a small function of counts the
control read (:mod:`smsbilling.logic.risk`) that answers a :class:`Signal`: how many points, and a
sentence a reviewer understands ("40 messages to range 4477009001xx this hour"). A signal's
*strength* is 0 at or below its normal level and 1 at its high level, linear between
(:func:`ramp`); its points are ``round(weight * strength)`` with the weight from the admin's
:class:`RiskPolicy`. The score is the sum, capped at 100; the policy's thresholds turn a score
into an action (alert, hold, reject), exactly like a fraud limit.

The signals (levels in ``settings.traffic.risk``, :class:`~smsbilling.settings.RiskLimits`):

- **subscriber velocity**: messages from (MO) or to (MT) this MSISDN for this partner in the current
  UTC minute and hour; the stronger of the two counts.
- **range velocity**: the same for the MSISDN's number range (its digits without the last N):
  pumping walks sequential numbers, so each number is quiet and the range is not.
- **new partner**: full weight on the day the partner was created, fading linearly to nothing at
  ``new_partner_days``.
- **unusual operator mix**: this operator's share of the partner's messages today against its
  share earlier this month (the partner's own normal, not the platform's: a partner whose only
  short number is at one operator is 100 % that operator every day); points for the excess in
  share points once both today and the baseline have a meaningful volume.
- **OTP conversion**: on the partner's OTP messages, codes verified today against codes sent today;
  a low ratio over a minimum volume is the classic SMS-pumping sign (nobody types the codes in).

Counter keys live here so that every writer (the control, the OTP verify path) names them alike.
Counters are per partner: pumping is always through one partner's service or form, and a partner's
own velocities are what its reviewer can judge.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from smsbilling.domain.entities import Entity
from smsbilling.domain.traffic import REASON_CHARS_MAX, Action, Direction
from smsbilling.settings import RiskLimits

SCORE_MAX: Final = 100
THRESHOLDS_MAX: Final = 10
WEIGHT_MAX: Final = 1000
EXPLAINED_SIGNALS_MAX: Final = 3
NO_PARTNER: Final = "-"  # the counter scope of a message without a partner


class RiskSignal(StrEnum):
    SUBSCRIBER_VELOCITY = "subscriber_velocity"
    RANGE_VELOCITY = "range_velocity"
    NEW_PARTNER = "new_partner"
    OPERATOR_MIX = "operator_mix"
    OTP_CONVERSION = "otp_conversion"


# --- the admin's policy ---------------------------------------------------------------------------


class RiskWeights(BaseModel):
    """Points a signal gives at full strength (the defaults are argued in docs/traffic/risk-score.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriber_velocity: int = Field(default=30, ge=0, le=WEIGHT_MAX)
    range_velocity: int = Field(default=60, ge=0, le=WEIGHT_MAX)
    new_partner: int = Field(default=25, ge=0, le=WEIGHT_MAX)
    operator_mix: int = Field(default=25, ge=0, le=WEIGHT_MAX)
    otp_conversion: int = Field(default=45, ge=0, le=WEIGHT_MAX)

    def of(self, signal: RiskSignal) -> int:
        weight: int = getattr(self, signal.value)
        return weight


class RiskThreshold(BaseModel):
    """From ``score_min`` up, ``action``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_min: int = Field(ge=1, le=SCORE_MAX)
    action: Action

    @property
    def rule_id(self) -> str:
        return f"score{self.score_min}"


DEFAULT_THRESHOLDS: Final = (
    RiskThreshold(score_min=60, action=Action.ALERT),
    RiskThreshold(score_min=80, action=Action.HOLD),
    RiskThreshold(score_min=95, action=Action.REJECT),
)


class RiskPolicyError(ValueError):
    """Thresholds out of order (a pydantic validation error when raised inside the model)."""


def check_thresholds(thresholds: Sequence[RiskThreshold]) -> None:
    """Ascending ``score_min``, no two alike, and a higher score never asks for a milder action."""
    for lower, higher in itertools.pairwise(thresholds):
        if higher.score_min <= lower.score_min:
            raise RiskPolicyError("thresholds must be sorted by score_min, each higher than the one before")
        if higher.action.severity < lower.action.severity:
            raise RiskPolicyError(
                f"a higher score may not ask for a milder action ({lower.score_min}: {lower.action.value}, "
                f"{higher.score_min}: {higher.action.value})"
            )


class RiskPolicy(Entity):
    """The admin's risk policy (one item, id ``default``; none stored: these defaults).

    ``enabled`` false: messages get no score and no finding. No thresholds: every message is scored
    and the score stored, nothing acts on it (watch before you enforce).
    """

    type_name: ClassVar[str] = "RISKPOLICY"
    id_fields: ClassVar[tuple[str, ...]] = ("policy_id",)
    policy_id: Literal["default"] = "default"
    enabled: bool = True
    weights: RiskWeights = RiskWeights()
    thresholds: tuple[RiskThreshold, ...] = Field(default=DEFAULT_THRESHOLDS, max_length=THRESHOLDS_MAX)
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        check_thresholds(self.thresholds)
        return self

    def threshold_for(self, score: int) -> RiskThreshold | None:
        """The highest threshold ``score`` reaches, or None."""
        reached = [t for t in self.thresholds if score >= t.score_min]
        return reached[-1] if reached else None


# --- signals --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    signal: RiskSignal
    points: int
    explanation: str


def ramp(value: float, normal: float, high: float) -> float:
    """0 at or below ``normal``, 1 at or above ``high``, linear between (a step when high <= normal)."""
    if value <= normal:
        return 0.0
    if value >= high:
        return 1.0
    return (value - normal) / (high - normal)


def _points(weight: int, strength: float) -> int:
    return round(weight * strength)


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


def _preposition(direction: Direction) -> str:
    return "from" if direction is Direction.MO else "to"


@dataclass(frozen=True, slots=True)
class Velocity:
    """Messages counted in the current UTC minute and hour (this one included)."""

    per_minute: int
    per_hour: int


def _velocity(
    signal: RiskSignal,
    what: str,
    direction: Direction,
    counts: Velocity,
    *,
    levels: tuple[int, int, int, int],
    weight: int,
) -> Signal:
    minute_normal, minute_high, hour_normal, hour_high = levels
    by_minute = ramp(counts.per_minute, minute_normal, minute_high)
    by_hour = ramp(counts.per_hour, hour_normal, hour_high)
    count, window = (counts.per_minute, "minute") if by_minute > by_hour else (counts.per_hour, "hour")
    return Signal(
        signal,
        _points(weight, max(by_minute, by_hour)),
        f"{_messages(count)} {_preposition(direction)} {what} this {window}",
    )


def subscriber_velocity(
    msisdn: str, direction: Direction, counts: Velocity, *, weight: int, limits: RiskLimits
) -> Signal:
    """Messages from/to one subscriber (for this partner) in the current minute and hour."""
    levels = (
        limits.subscriber_per_minute_normal,
        limits.subscriber_per_minute_high,
        limits.subscriber_per_hour_normal,
        limits.subscriber_per_hour_high,
    )
    return _velocity(RiskSignal.SUBSCRIBER_VELOCITY, msisdn, direction, counts, levels=levels, weight=weight)


def number_range(msisdn: str, suffix_digits: int) -> str:
    """The MSISDN's range: its digits without the last ``suffix_digits`` (never shorter than 4)."""
    keep = max(4, len(msisdn) - suffix_digits)
    return msisdn[:keep]


def range_label(msisdn: str, suffix_digits: int) -> str:
    """The range as a reviewer reads it: ``4477009001xx``."""
    prefix = number_range(msisdn, suffix_digits)
    return prefix + "x" * (len(msisdn) - len(prefix))


def range_velocity(
    msisdn: str, direction: Direction, counts: Velocity, *, weight: int, limits: RiskLimits
) -> Signal:
    """Messages from/to the subscriber's number range (for this partner) this minute and hour."""
    levels = (
        limits.range_per_minute_normal,
        limits.range_per_minute_high,
        limits.range_per_hour_normal,
        limits.range_per_hour_high,
    )
    label = f"range {range_label(msisdn, limits.range_suffix_digits)}"
    return _velocity(RiskSignal.RANGE_VELOCITY, label, direction, counts, levels=levels, weight=weight)


def new_partner(age: timedelta | None, weight: int, limits: RiskLimits) -> Signal:
    """Full weight for a partner created today, fading to nothing at ``new_partner_days``."""
    if age is None:
        return Signal(RiskSignal.NEW_PARTNER, 0, "no partner")
    span = timedelta(days=limits.new_partner_days)
    strength = 1.0 - ramp(max(age, timedelta(0)) / span, 0.0, 1.0)
    days = max(0, age.days)
    told = "new partner (created today)" if days == 0 else f"new partner ({days} days old)"
    return Signal(RiskSignal.NEW_PARTNER, _points(weight, strength), told)


@dataclass(frozen=True, slots=True)
class MixCounts:
    """A partner's messages (one direction): all of them and this operator's, today and this month.

    ``month_*`` include today. ``previous_*`` are last month's, read only when this month holds no
    baseline yet (its first day); 0 otherwise.
    """

    today_operator: int
    today_all: int
    month_operator: int
    month_all: int
    previous_operator: int = 0
    previous_all: int = 0

    @property
    def baseline(self) -> tuple[int, int]:
        """(this operator's, all) before today: earlier this month, else last month."""
        operator, total = self.month_operator - self.today_operator, self.month_all - self.today_all
        if total <= 0:
            return self.previous_operator, self.previous_all
        return operator, total


def operator_mix(operator_id: str, counts: MixCounts, weight: int, limits: RiskLimits) -> Signal:
    """This operator's share of the partner's messages today, in share points above its normal share.

    Judged only once today has ``mix_today_min`` messages and the baseline ``mix_baseline_min``: a
    handful of messages has no mix to speak of.
    """
    base_operator, base_all = counts.baseline
    if counts.today_all < limits.mix_today_min or base_all < limits.mix_baseline_min:
        return Signal(RiskSignal.OPERATOR_MIX, 0, "too little traffic to judge the operator mix")
    today_pct = 100 * counts.today_operator / counts.today_all
    normal_pct = 100 * base_operator / base_all
    strength = ramp(today_pct - normal_pct, limits.mix_excess_normal_pct, limits.mix_excess_high_pct)
    return Signal(
        RiskSignal.OPERATOR_MIX,
        _points(weight, strength),
        f"operator {operator_id} has {today_pct:.0f}% of the partner's messages today"
        f" (normally {normal_pct:.0f}%)",
    )


def otp_conversion(sent: int, verified: int, weight: int, limits: RiskLimits) -> Signal:
    """Codes verified against codes sent today (the partner's): low conversion over a volume is pumping."""
    if sent < limits.otp_sent_min:
        return Signal(RiskSignal.OTP_CONVERSION, 0, f"only {sent} OTP codes sent today")
    verified_pct = 100 * min(verified, sent) / sent
    strength = ramp(
        limits.otp_verified_normal_pct - verified_pct,
        0,
        limits.otp_verified_normal_pct - limits.otp_verified_low_pct,
    )
    return Signal(
        RiskSignal.OTP_CONVERSION,
        _points(weight, strength),
        f"OTP conversion {verified_pct:.0f}% ({verified} of {sent} codes verified today)",
    )


# --- the score ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiskScore:
    score: int
    signals: tuple[Signal, ...]  # those that gave points, most first

    def reason(self) -> str:
        """``risk 87: 40 messages to range 4477009001xx this hour; new partner (created today)``.

        The strongest signals, as many as fit the reason shown on a message (``risk: `` goes before it).
        """
        room = REASON_CHARS_MAX - len("risk: ")
        text = f"risk {self.score}"
        for told, signal in enumerate(self.signals[:EXPLAINED_SIGNALS_MAX]):
            part = ("; " if told else ": ") + signal.explanation
            if len(text) + len(part) > room:
                break
            text += part
        return text


def combine(signals: Iterable[Signal]) -> RiskScore:
    """The sum of the signals' points, capped at 100, with the contributing signals strongest first."""
    contributing = sorted((s for s in signals if s.points > 0), key=lambda s: -s.points)
    return RiskScore(min(SCORE_MAX, sum(s.points for s in contributing)), tuple(contributing))


# --- counter keys (one name for every writer) ------------------------------------------------------


def scope(partner_id: str | None) -> str:
    return partner_id or NO_PARTNER


def subscriber_key(direction: Direction, partner_id: str | None, msisdn: str) -> str:
    return f"RISK#sub#{direction.value}#{scope(partner_id)}#{msisdn}"


def range_key(direction: Direction, partner_id: str | None, msisdn: str, suffix_digits: int) -> str:
    return f"RISK#rng#{direction.value}#{scope(partner_id)}#{number_range(msisdn, suffix_digits)}"


def partner_key(direction: Direction, partner_id: str) -> str:
    return f"RISK#ptn#{direction.value}#{partner_id}"


def partner_operator_key(direction: Direction, partner_id: str, operator_id: str) -> str:
    return f"RISK#pop#{direction.value}#{partner_id}#{operator_id}"


def otp_sent_key(partner_id: str) -> str:
    return f"RISK#otp_sent#{partner_id}"


def otp_verified_key(partner_id: str) -> str:
    return f"RISK#otp_ok#{partner_id}"


__all__ = [
    "DEFAULT_THRESHOLDS",
    "MixCounts",
    "RiskPolicy",
    "RiskPolicyError",
    "RiskScore",
    "RiskSignal",
    "RiskThreshold",
    "RiskWeights",
    "Signal",
    "Velocity",
    "check_thresholds",
    "combine",
    "new_partner",
    "number_range",
    "operator_mix",
    "otp_conversion",
    "otp_sent_key",
    "otp_verified_key",
    "partner_key",
    "partner_operator_key",
    "ramp",
    "range_key",
    "range_label",
    "range_velocity",
    "subscriber_key",
    "subscriber_velocity",
]
