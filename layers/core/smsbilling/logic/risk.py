"""The risk-score control: counts a message's velocities, scores it, acts on the policy's thresholds.

One :meth:`TrafficCounters.count` per message adds it to every counter the signals read (minute
and hour for its subscriber and number range, day and month for its partner and the partner's
traffic on its operator, and an OTP message to the partner's codes sent today), once per message
id, and returns the totals; an OTP message also reads the codes verified today (the OTP verify path
counts those, :func:`smsbilling.logic.otp.verify_code`). The partner (its age) and the
:class:`~smsbilling.domain.risk.RiskPolicy` come from the entities table, cached for
``rules_cache_s`` (a policy change reaches every processor within that time).

The result always carries the score (stored with the message); a finding only when the score
reaches a threshold, its reason naming the strongest signals. Store errors propagate: the
processor retries the message rather than pass it unscored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

from smsbilling.contracts import MtPurpose
from smsbilling.domain import risk
from smsbilling.domain.entities import Entity, Partner
from smsbilling.domain.ids import derived_id
from smsbilling.domain.risk import MixCounts, RiskPolicy, RiskSignal, Signal, Velocity
from smsbilling.domain.traffic import (
    ControlName,
    Direction,
    Finding,
    MessageFacts,
    Window,
    window_start,
)
from smsbilling.logic.traffic_control import ControlResult, CounterHit, TrafficCounters
from smsbilling.settings import RiskLimits

PARTNERS_CACHED_MAX: Final = 10_000

logger = logging.getLogger(__name__)


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class RiskControl:
    """The online risk score (docs/traffic/risk-score.md)."""

    name: ControlName = ControlName.RISK

    def __init__(
        self,
        counters: TrafficCounters,
        entities: EntityReader,
        limits: RiskLimits,
        *,
        cache_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counters = counters
        self._entities = entities
        self._limits = limits
        self._cache_s = cache_s
        self._clock = clock
        self._policy: tuple[float, RiskPolicy] | None = None
        self._partners: dict[str, tuple[float, Partner]] = {}

    def check(self, facts: MessageFacts) -> ControlResult:
        policy = self.policy()
        if not policy.enabled:
            return ControlResult()
        scored = risk.combine(self.signals(facts, policy))
        threshold = policy.threshold_for(scored.score)
        if threshold is None:
            return ControlResult(risk_score=scored.score)
        finding = Finding(ControlName.RISK, threshold.rule_id, threshold.action, scored.reason())
        return ControlResult((finding,), risk_score=scored.score)

    # --- reading and counting ------------------------------------------------------------------------

    def signals(self, facts: MessageFacts, policy: RiskPolicy) -> list[Signal]:
        """Count ``facts`` (once per message id) and answer every signal over the totals."""
        limits, weights = self._limits, policy.weights
        hits = _hits(facts, limits)
        counted = self._counters.count(facts.message_id, list(hits.values()), at_s=facts.at_s) if hits else []
        totals = dict(zip(hits, counted, strict=True))
        signals: list[Signal] = []
        if "sub_minute" in totals:  # a message without an MSISDN has no velocities
            signals += self._velocities(facts, totals, policy)
        partner_id = facts.partner_id
        if partner_id is None:
            return signals
        partner = self._partner(partner_id)
        age = None if partner is None else facts.at - partner.created_at
        signals.append(risk.new_partner(age, weights.of(RiskSignal.NEW_PARTNER), limits))
        if facts.operator_id is not None:
            counts = self._mix(facts, partner_id, facts.operator_id, totals)
            weight = weights.of(RiskSignal.OPERATOR_MIX)
            signals.append(risk.operator_mix(facts.operator_id, counts, weight, limits))
        if "otp_sent" in totals:
            (verified,) = self._counters.totals([otp_verified_hit(partner_id, limits)], at_s=facts.at_s)
            weight = weights.of(RiskSignal.OTP_CONVERSION)
            signals.append(risk.otp_conversion(totals["otp_sent"], verified, weight, limits))
        return signals

    def _velocities(self, facts: MessageFacts, totals: dict[str, int], policy: RiskPolicy) -> list[Signal]:
        weights, limits = policy.weights, self._limits
        return [
            risk.subscriber_velocity(
                facts.msisdn,
                facts.direction,
                Velocity(totals["sub_minute"], totals["sub_hour"]),
                weight=weights.of(RiskSignal.SUBSCRIBER_VELOCITY),
                limits=limits,
            ),
            risk.range_velocity(
                facts.msisdn,
                facts.direction,
                Velocity(totals["range_minute"], totals["range_hour"]),
                weight=weights.of(RiskSignal.RANGE_VELOCITY),
                limits=limits,
            ),
        ]

    def _mix(
        self, facts: MessageFacts, partner_id: str, operator_id: str, totals: dict[str, int]
    ) -> MixCounts:
        counts = MixCounts(
            today_operator=totals["op_day"],
            today_all=totals["all_day"],
            month_operator=totals["op_month"],
            month_all=totals["all_month"],
        )
        if counts.month_all > counts.today_all or counts.today_all < self._limits.mix_today_min:
            return counts
        # No traffic earlier this month (its first day, or a partner quiet until today): last
        # month's mix is the normal one.
        month = _mix_hits(facts.direction, partner_id, operator_id, self._limits)
        operator, total = self._counters.totals(
            [month["op_month"], month["all_month"]], at_s=window_start(Window.MONTH, facts.at_s) - 1
        )
        return MixCounts(
            counts.today_operator, counts.today_all, counts.month_operator, counts.month_all, operator, total
        )

    # --- cached entities -----------------------------------------------------------------------------

    def policy(self) -> RiskPolicy:
        """The stored policy (the defaults when none is stored), cached for ``cache_s``."""
        now = self._clock()
        if self._policy is not None and now - self._policy[0] < self._cache_s:
            return self._policy[1]
        policy = self._entities.get(RiskPolicy, "default") or RiskPolicy()
        self._policy = (now, policy)
        return policy

    def _partner(self, partner_id: str) -> Partner | None:
        now = self._clock()
        cached = self._partners.get(partner_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        partner = self._entities.get(Partner, partner_id)
        if partner is not None:
            if len(self._partners) >= PARTNERS_CACHED_MAX:
                self._partners.clear()
            self._partners[partner_id] = (now, partner)
        return partner


def _hits(facts: MessageFacts, limits: RiskLimits) -> dict[str, CounterHit]:
    """Every counter one message adds to, by the name the signals read its total under."""
    direction, partner_id, msisdn = facts.direction, facts.partner_id, facts.msisdn
    hits: dict[str, CounterHit] = {}
    if msisdn:
        subscriber = risk.subscriber_key(direction, partner_id, msisdn)
        number_range = risk.range_key(direction, partner_id, msisdn, limits.range_suffix_digits)
        hits |= {
            "sub_minute": CounterHit(subscriber, Window.MINUTE),
            "sub_hour": CounterHit(subscriber, Window.HOUR),
            "range_minute": CounterHit(number_range, Window.MINUTE),
            "range_hour": CounterHit(number_range, Window.HOUR),
        }
    if partner_id is None:
        return hits
    if facts.operator_id is not None:
        hits |= _mix_hits(direction, partner_id, facts.operator_id, limits)
    if direction is Direction.MT and facts.purpose == MtPurpose.OTP.value:
        hits["otp_sent"] = CounterHit(
            risk.otp_sent_key(partner_id), Window.DAY, shards=limits.partner_counter_shards
        )
    return hits


def _mix_hits(
    direction: Direction, partner_id: str, operator_id: str, limits: RiskLimits
) -> dict[str, CounterHit]:
    """The partner's messages in one direction, all and this operator's, today and this month.

    Sharded: a busy partner's counters are the hottest items of all.
    """
    shards = limits.partner_counter_shards
    everything = risk.partner_key(direction, partner_id)
    operator = risk.partner_operator_key(direction, partner_id, operator_id)
    return {
        "all_day": CounterHit(everything, Window.DAY, shards=shards),
        "all_month": CounterHit(everything, Window.MONTH, shards=shards),
        "op_day": CounterHit(operator, Window.DAY, shards=shards),
        "op_month": CounterHit(operator, Window.MONTH, shards=shards),
    }


def otp_verified_hit(partner_id: str, limits: RiskLimits) -> CounterHit:
    """The counter the OTP verify path adds a verified code to (and this control reads)."""
    return CounterHit(risk.otp_verified_key(partner_id), Window.DAY, shards=limits.partner_counter_shards)


class OtpVerifications:
    """The OTP verify path's :class:`~smsbilling.logic.otp.VerifiedCounter`: a verified code counts
    once (by OTP id) into the partner's codes verified today, which the conversion signal reads.

    A failure to count is logged and swallowed: the code is already used, so failing the verify
    answer would lock the subscriber out; the signal under-counts by one (it errs towards risk).
    """

    def __init__(self, counters: TrafficCounters, limits: RiskLimits) -> None:
        self._counters = counters
        self._limits = limits

    def count_verified(self, partner_id: str, otp_id: str, at: datetime) -> None:
        hit = otp_verified_hit(partner_id, self._limits)
        try:
            self._counters.count(derived_id("otp-verified", otp_id), [hit], at_s=int(at.timestamp()))
        except Exception:
            logger.warning("a verified OTP code was not counted for the risk score", exc_info=True)


__all__ = ["OtpVerifications", "RiskControl", "otp_verified_hit"]
