"""Per-partner limits and allowed destinations on the partner API's sends.

Over the partner's messages per second or minute the whole request is refused with 429 and
``Retry-After``, and nothing is reserved or queued; a partner's requests over all its keys have
their own limit; a destination in a country the partner may not send to, or in a premium range
it was not allowed, is refused with 422 before anything is reserved.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.adapters.memory_send_quota import MemorySendQuota
from smsbilling.domain.countries import PremiumRange
from smsbilling.domain.send_limits import PartnerSendLimits
from smsbilling.domain.traffic import PartnerTrafficSettings
from smsbilling.logic.send_limits import send_rules
from smsbilling.settings import ApiLimits
from smsbilling.web import sms as sms_web
from smsbilling.web.conventions import ConventionDeps, partner_caller

from .world import CREDITS_TOPPED_UP, KEYS, PT, SMS_LIMITS, T0, UK, World, call, partner_api

LONG_GSM = "x" * 400  # three GSM 7-bit parts: three credits


@pytest.fixture
def quota() -> MemorySendQuota:
    return MemorySendQuota()


@pytest.fixture
def world(quota: MemorySendQuota) -> Iterator[World]:
    w = World()
    w.install()
    sms_web.use(dataclasses.replace(sms_web._deps(), quota=quota))
    yield w
    World.uninstall()


def sms(destination: str, text: str = "Hi") -> dict[str, str]:
    return {"service_id": "s1", "destination": destination, "text": text}


def batch(count: int, text: str = "Hi") -> dict[str, object]:
    return {
        "service_id": "s1",
        "messages": [{"destination": f"44770090{n:04d}", "text": text} for n in range(count)],
    }


def test_a_burst_over_the_partners_message_limit_gets_429_and_nothing_beyond_it(world: World) -> None:
    world.entities.put(PartnerSendLimits(partner_id="p1", messages_per_s_max=3, messages_per_min_max=5))
    assert call("POST", "/v1/sms/batch", batch(2))[0] == 202
    status, headers, body = call("POST", "/v1/sms/batch", batch(2))  # 4 > 3 in this second
    assert status == 429, body
    assert headers["retry-after"] == "1" and headers["content-type"] == "application/problem+json"
    assert (body["code"], body["window"], body["limit"]) == ("rate_limited", "second", 3)
    assert len(world.events.mt) == 2 and world.spendable() == CREDITS_TOPPED_UP - 2  # nothing for it
    assert call("POST", "/v1/sms", sms(UK))[0] == 202  # what was refused took none of the quota: 3 now

    world.clock.advance(1)  # 12:00:01
    assert call("POST", "/v1/sms/batch", batch(2))[0] == 202  # 5 in this minute
    status, headers, body = call("POST", "/v1/sms", sms(UK))
    assert status == 429 and body["window"] == "minute" and headers["retry-after"] == "59"
    assert len(world.events.mt) == 5 and world.spendable() == CREDITS_TOPPED_UP - 5

    world.clock.advance(59)  # the next minute
    assert call("POST", "/v1/sms", sms(UK))[0] == 202
    assert call("POST", "/v1/sms", sms(UK, "again"))[0] == 202
    # p2 has a quota of its own (and no credits: it gets as far as them)
    assert call("POST", "/v1/sms", {**sms(UK), "service_id": "s2"}, key=KEYS["p2"])[0] == 402


def test_a_request_refused_for_its_credits_gives_its_quota_back(world: World, quota: MemorySendQuota) -> None:
    world.entities.put(PartnerSendLimits(partner_id="p1", messages_per_s_max=5, messages_per_min_max=5))
    status, _, body = call("POST", "/v1/sms/batch", batch(4, LONG_GSM))  # 12 credits > 10
    assert status == 402, body
    assert quota.used("partner:p1", int(T0.timestamp())) == (0, 0)
    assert call("POST", "/v1/sms/batch", batch(5))[0] == 202


def test_more_messages_in_one_request_than_a_second_allows_is_a_validation_error(world: World) -> None:
    world.entities.put(PartnerSendLimits(partner_id="p1", messages_per_s_max=2))
    status, _, body = call("POST", "/v1/sms/batch", batch(3))
    assert status == 422 and body["errors"] == [
        {"field": "messages", "reason": "more than the 2 messages allowed in one second"}
    ]
    assert world.events.mt == [] and world.spendable() == CREDITS_TOPPED_UP


def test_the_platform_defaults_apply_without_a_partner_setting(world: World, quota: MemorySendQuota) -> None:
    for _ in range(10):
        assert call("POST", "/v1/sms", sms(UK))[0] == 202
    assert quota.used("partner:p1", int(T0.timestamp())) == (10, 10)


def test_a_destination_outside_the_partners_countries_is_refused_before_anything_is_reserved(
    world: World, quota: MemorySendQuota
) -> None:
    assert call("POST", "/v1/sms", sms(PT))[0] == 202  # PT: an operator's country, allowed by default
    world.entities.put(PartnerTrafficSettings(partner_id="p1", allowed_countries=("44",)))
    status, _, body = call("POST", "/v1/sms", sms(f"+{PT}"))
    assert status == 422, body
    assert body["code"] == "destination_not_allowed"
    assert body["errors"] == [
        {"field": "destination", "reason": "destination country +351 is not allowed for this partner"}
    ]
    assert len(world.events.mt) == 1 and world.spendable() == CREDITS_TOPPED_UP - 1
    assert quota.used("partner:p1", int(T0.timestamp())) == (1, 1)
    # the other partner is not concerned
    assert call("POST", "/v1/sms", {**sms(PT), "service_id": "s2"}, key=KEYS["p2"])[0] == 402


def test_a_premium_range_is_refused_unless_the_partner_is_allowed_it(world: World) -> None:
    world.entities.put(PremiumRange(prefix="4477009", note="premium rate", created_at=T0))
    status, _, body = call("POST", "/v1/sms/batch", batch(2))
    assert status == 422 and body["code"] == "destination_not_allowed"
    assert [e["field"] for e in body["errors"]] == ["messages.0.destination", "messages.1.destination"]
    assert "premium-rate range +4477009 (premium rate)" in body["errors"][0]["reason"]
    assert world.events.mt == [] and world.spendable() == CREDITS_TOPPED_UP
    # an invalid field and a refused destination together: every one of them, as a validation error
    mixed = {
        "service_id": "s1",
        "messages": [{"destination": "447700900001", "text": "Hi"}, {"destination": "x", "text": "Hi"}],
    }
    status, _, body = call("POST", "/v1/sms/batch", mixed)
    assert status == 422 and body["code"] == "validation_failed"
    assert {e["field"] for e in body["errors"]} == {"messages.0.destination", "messages.1.destination"}

    world.entities.put(PartnerTrafficSettings(partner_id="p1", premium_ranges_allowed=("4477009",)))
    assert call("POST", "/v1/sms/batch", batch(2))[0] == 202
    assert len(world.events.mt) == 2


def test_a_partners_requests_over_all_its_keys_have_a_limit_of_their_own(world: World) -> None:
    limits = ApiLimits(api_key_requests_per_s_max=50, partner_requests_per_s_max=3)
    partner_api.conventions.use(
        ConventionDeps(
            idempotency=MemoryIdempotencyStore(),
            counter=MemoryRateCounter(),
            limits=limits,
            clock=world.clock,
        ),
        caller=partner_caller(lambda: world.entities),
    )
    # p1's two keys: one may send, the other only read (403, but counted: the limits run first)
    assert call("POST", "/v1/sms", sms(UK), key=KEYS["p1"])[0] == 202
    assert call("POST", "/v1/sms", sms(UK), key=KEYS["p1-read"])[0] == 403
    assert call("POST", "/v1/sms", sms(UK), key=KEYS["p1"])[0] == 202
    status, headers, body = call("POST", "/v1/sms", sms(UK), key=KEYS["p1-read"])  # the partner's 4th
    assert status == 429 and headers["retry-after"] == "1"
    assert body["code"] == "rate_limited" and "all its API keys" in body["detail"]
    assert call("POST", "/v1/sms", {**sms(UK), "service_id": "s2"}, key=KEYS["p2"])[0] == 402  # not p1's
    assert call("POST", "/v1/sms", sms(UK), key=KEYS["p1"])[0] == 429
    assert len(world.events.mt) == 2
    world.clock.advance(1)
    assert call("POST", "/v1/sms", sms(UK), key=KEYS["p1"])[0] == 202


class CountingReads:
    """The entities store, counting its reads by entity type."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get(self, model: type[Any], entity_id: str) -> Any:
        self.reads[model.__name__] += 1
        return self._store.get(model, entity_id)


def test_deployed_sends_read_the_partners_rules_once_per_cache_period_not_per_request(world: World) -> None:
    world.entities.put(PartnerTrafficSettings(partner_id="p1", allowed_countries=("44",)))
    entities = CountingReads(world.entities)
    sms_web.use(dataclasses.replace(sms_web._deps(), rules=send_rules(entities, SMS_LIMITS, ttl_s=60)))
    for _ in range(3):
        assert call("POST", "/v1/sms", sms(UK))[0] == 202
    assert call("POST", "/v1/sms", sms(PT))[0] == 422  # the cached rules are the ones checked
    assert entities.reads["PartnerTrafficSettings"] == 1 and entities.reads["PartnerSendLimits"] == 1
