"""The retry schedule: exponential backoff with full jitter, Retry-After honoured, capped, then DLQ."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.handler_protocol import (
    DeadLetter,
    DeliveryResult,
    Finished,
    Outcome,
    Reason,
    RetryLater,
    next_attempt_delay_s,
    plan_next,
)
from smsbilling.settings import PartnerDeliveryLimits

LIMITS = PartnerDeliveryLimits()
draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(
    attempt=st.integers(1, 10**6),
    draw=draws,
    base=st.floats(0.001, 100.0),
    cap=st.floats(0.001, 900.0),
    retry_after=st.none() | st.integers(-10, 10**6),
)
def test_delay_stays_within_the_jitter_window_and_honours_retry_after(
    attempt: int, draw: float, base: float, cap: float, retry_after: int | None
) -> None:
    delay = next_attempt_delay_s(attempt, retry_after, base_s=base, max_s=cap, random=lambda: draw)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    assert 0.0 <= delay <= cap
    if retry_after is None:
        assert delay == draw * ceiling
    else:
        assert delay >= min(max(retry_after, 0), cap)


def test_full_jitter_spans_zero_to_the_exponential_ceiling() -> None:
    def delay(attempt: int, draw: float) -> float:
        return next_attempt_delay_s(attempt, base_s=5, max_s=900, random=lambda: draw)

    assert [delay(n, 0.0) for n in (1, 5)] == [0.0, 0.0]
    assert [round(delay(n, 0.9999999), 2) for n in (1, 2, 3, 8, 9, 50)] == [
        5.0,
        10.0,
        20.0,
        640.0,
        900.0,
        900.0,
    ]


def test_seeded_source_gives_a_reproducible_schedule() -> None:
    def schedule(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [next_attempt_delay_s(n, base_s=5, max_s=900, random=rng.random) for n in range(1, 8)]

    assert schedule(7) == schedule(7) != schedule(8)


@pytest.mark.parametrize("draw", [-0.1, 1.0, 2.0, float("nan")])
def test_a_broken_random_source_is_refused(draw: float) -> None:
    with pytest.raises(ValueError, match="random source"):
        next_attempt_delay_s(1, base_s=1, max_s=10, random=lambda: draw)


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_attempt_delay_s(0, base_s=1, max_s=10, random=lambda: 0.5)


def result(outcome: Outcome, reason: Reason, retry_after_s: int | None = None) -> DeliveryResult:
    return DeliveryResult(
        outcome, reason, 503 if outcome is Outcome.RETRYABLE else None, retry_after_s=retry_after_s
    )


def test_plan_next_success_finishes() -> None:
    done = result(Outcome.SUCCESS, Reason.OK)
    assert plan_next(done, 3, limits=LIMITS, random=lambda: 0.5) == Finished(done)


def test_plan_next_permanent_failure_is_dead_lettered_at_once() -> None:
    failed = result(Outcome.PERMANENT, Reason.UNREADABLE_REPLY)
    assert plan_next(failed, 1, limits=LIMITS, random=lambda: 0.5) == DeadLetter(
        1, Reason.UNREADABLE_REPLY, failed
    )


def test_plan_next_retries_until_attempts_max_then_dead_letters_with_the_last_reason() -> None:
    limits = PartnerDeliveryLimits(attempts_max=4, retry_backoff_base_s=2, retry_backoff_max_s=900)
    steps = [
        plan_next(result(Outcome.RETRYABLE, Reason.TIMEOUT), n, limits=limits, random=lambda: 0.75)
        for n in (1, 2, 3)
    ]
    assert steps == [
        RetryLater(n + 1, delay, result(Outcome.RETRYABLE, Reason.TIMEOUT))
        for n, delay in ((1, 2), (2, 3), (3, 6))
    ]
    last = result(Outcome.RETRYABLE, Reason.SERVER_ERROR)
    assert plan_next(last, 4, limits=limits, random=lambda: 0.75) == DeadLetter(4, Reason.SERVER_ERROR, last)


def test_plan_next_waits_at_least_retry_after_but_never_past_the_cap() -> None:
    limited = result(Outcome.RETRYABLE, Reason.RATE_LIMITED, retry_after_s=120)
    step = plan_next(limited, 1, limits=LIMITS, random=lambda: 0.0)
    assert isinstance(step, RetryLater) and step.delay_s == 120
    very_limited = result(Outcome.RETRYABLE, Reason.RATE_LIMITED, retry_after_s=86_400)
    step = plan_next(very_limited, 1, limits=LIMITS, random=lambda: 0.0)
    assert isinstance(step, RetryLater) and step.delay_s == 900


def test_default_worst_case_retry_window() -> None:
    """Documented in docs/partner-callbacks.md: 8 attempts, at most 635 s of waiting in total."""
    worst = sum(
        next_attempt_delay_s(
            n, base_s=LIMITS.retry_backoff_base_s, max_s=LIMITS.retry_backoff_max_s, random=lambda: 0.999999
        )
        for n in range(1, LIMITS.attempts_max)
    )
    assert round(worst) == 635
