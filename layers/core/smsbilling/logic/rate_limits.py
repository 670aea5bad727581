"""Request rate limits per API key (docs/api-conventions.md).

Two fixed windows per key, aligned on UTC seconds and minutes: at most
``api_key_requests_per_s_max`` requests in one second and ``api_key_requests_per_min_max`` in
one minute. Every request is counted (also the refused ones, so a client that keeps hammering
stays refused until the window ends); a request over either limit gets 429 ``rate_limited`` with
``Retry-After`` = the seconds until the exceeded window ends. A fixed window lets a client send
up to twice a limit across a window boundary; API Gateway's own throttling (template ``Api``)
bounds the whole stage.

A partner's requests over all its keys have their own two windows (:func:`check_partner_rate`),
counted for each request its key's limits let through: ``partner_requests_per_s_max`` /
``partner_requests_per_min_max``, or the partner's own limits where the admin set them
(``PartnerSendLimits.requests_per_s_max`` / ``_per_min_max``, read through
logic/partner_limits.py; docs/traffic/rate-limits-and-countries.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from smsbilling.domain.send_limits import Rates
from smsbilling.settings import ApiLimits


class WindowCounts(NamedTuple):
    second: int  # requests of the key in this second, this one included
    minute: int  # requests of the key in this minute, this one included


class RateCounter(Protocol):
    """Atomic per-key counters. Implementations: adapters.memory_rate_counter,
    .dynamodb_rate_counter; one suite: tests/contract/test_rate_counter_contract.py."""

    def hit(self, key: str, at_s: int) -> WindowCounts:
        """Count one request of ``key`` at epoch second ``at_s``, in that second and in its UTC
        minute (``at_s - at_s % 60``); the counts after counting it. Windows expire on their own."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_s: int = 0  # when refused: until the exceeded window ends (>= 1)
    window: str = ""  # when refused: "second" or "minute"


def check_rate(counter: RateCounter, key: str, *, now: datetime, limits: ApiLimits) -> RateDecision:
    return _check(counter, key, now, limits.api_key_requests_per_s_max, limits.api_key_requests_per_min_max)


def check_partner_rate(counter: RateCounter, partner_id: str, *, now: datetime, rates: Rates) -> RateDecision:
    """The partner's windows over all its keys (counter key ``partner:<id>``), at ``rates``: the
    limits in force for it (domain/send_limits.py :func:`~smsbilling.domain.send_limits.request_rates`)."""
    return _check(counter, f"partner:{partner_id}", now, rates.per_s_max, rates.per_min_max)


def _check(counter: RateCounter, key: str, now: datetime, per_s_max: int, per_min_max: int) -> RateDecision:
    at_s = int(now.timestamp())
    counts = counter.hit(key, at_s)
    if counts.minute > per_min_max:
        return RateDecision(False, retry_after_s=60 - at_s % 60, window="minute")
    if counts.second > per_s_max:
        return RateDecision(False, retry_after_s=1, window="second")
    return RateDecision(True)
