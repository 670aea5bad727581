"""A partner's own API request limits, set by the admin, on the partner API.

The partner API's conventions (web/conventions.py) count every request of a partner over all its
keys; the limits are the settings' defaults unless the admin stored others for the partner
(``PartnerSendLimits.requests_per_*``), read through a per-process cache (logic/partner_limits.py)
of ``TTL_S``. The requests here are sends to a country the partners may not send to: the route
answers 422 and spends nothing, and every one of them is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.domain.send_limits import PartnerSendLimits
from smsbilling.logic.partner_limits import PartnerLimitsCache
from smsbilling.settings import ApiLimits
from smsbilling.web.conventions import ConventionDeps, partner_caller

from .world import KEYS, UK, World, call, partner_api

TTL_S = 30.0
LIMITS = ApiLimits(
    api_key_requests_per_s_max=50,
    api_key_requests_per_min_max=1000,
    partner_requests_per_s_max=4,
    partner_requests_per_min_max=100,
)
REFUSED = {"service_id": "s1", "destination": "4915112345678", "text": "Hi"}  # Germany: 422, counted
P2_REFUSED = REFUSED | {"service_id": "s2"}


class Reads:
    """The entities, counting the reads of PartnerSendLimits (the cache must not read per request)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.count = 0

    def get(self, model: type[Any], entity_id: str) -> Any:
        if model is PartnerSendLimits:
            self.count += 1
        return self.world.entities.get(model, entity_id)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.install()
    yield w
    World.uninstall()


@pytest.fixture
def reads(world: World) -> Reads:
    reads = Reads(world)

    def seconds() -> float:  # the cache's monotonic clock, moved with the world's
        return world.clock.now.timestamp()

    cache = PartnerLimitsCache(reads, ttl_s=TTL_S, clock=seconds)
    partner_api.conventions.use(
        ConventionDeps(
            idempotency=MemoryIdempotencyStore(),
            counter=MemoryRateCounter(),
            limits=LIMITS,
            clock=world.clock,
            partner_limits=cache,
        ),
        caller=partner_caller(lambda: world.entities),
    )
    return reads


def statuses(count: int, body: dict[str, str] = REFUSED, key: str = KEYS["p1"]) -> list[int]:
    return [call("POST", "/v1/sms", body, key=key)[0] for _ in range(count)]


def test_a_partner_with_lower_stored_limits_is_refused_sooner_and_others_are_not(
    world: World, reads: Reads
) -> None:
    world.entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=2))
    assert call("POST", "/v1/sms", {"service_id": "s1", "destination": UK, "text": "Hi"})[0] == 202
    assert statuses(1) == [422]
    status, headers, body = call("POST", "/v1/sms", REFUSED, key=KEYS["p1-read"])  # its other key
    assert (status, headers["retry-after"], body["code"]) == (429, "1", "rate_limited")
    assert "all its API keys" in body["detail"] and body["detail"].endswith("one second; retry later.")
    assert len(world.events.mt) == 1  # the one accepted before the limit

    # p2 has no limits of its own: the default (4 a second) is in force for it, on the same clock
    assert statuses(4, P2_REFUSED, KEYS["p2"]) == [422] * 4
    assert statuses(1, P2_REFUSED, KEYS["p2"]) == [429]

    world.clock.advance(1)
    assert statuses(3) == [422, 422, 429]
    assert reads.count == 2  # once for p1 and once for p2, not once per request


def test_a_stored_per_minute_limit_answers_the_seconds_to_the_minutes_end(world: World, reads: Reads) -> None:
    world.entities.put(PartnerSendLimits(partner_id="p1", requests_per_min_max=5))
    world.clock.advance(15)  # 12:00:15
    for _ in range(5):
        assert statuses(1) == [422]
        world.clock.advance(1)
    status, headers, body = call("POST", "/v1/sms", REFUSED)  # 12:00:20, the sixth in this minute
    assert (status, headers["retry-after"]) == (429, "40")
    assert body["detail"].endswith("one minute; retry later.")
    # the default minute is 100 and the default second 4: p2 is nowhere near either
    assert statuses(4, P2_REFUSED, KEYS["p2"]) == [422] * 4
    world.clock.advance(40)  # 12:01:00: a new minute
    assert statuses(1) == [422]


def test_an_admins_change_is_in_force_after_the_cache_time(world: World, reads: Reads) -> None:
    assert statuses(5) == [422] * 4 + [429]  # the default: 4 a second
    assert reads.count == 1

    world.clock.advance(1)  # 12:00:01: the admin lowers p1's limit (PUT .../send-limits stores this)
    world.entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=1))
    assert statuses(5) == [422] * 4 + [429]  # still the cached default

    world.clock.advance(TTL_S - 1)  # 12:00:30: the cache time since the first read
    assert statuses(2) == [422, 429]  # the stored limit now
    assert reads.count == 2

    world.clock.advance(1)  # back to the default (null): again after the cache time
    world.entities.put(PartnerSendLimits(partner_id="p1"))
    assert statuses(2) == [422, 429]
    world.clock.advance(TTL_S)
    assert statuses(5) == [422] * 4 + [429]
    assert reads.count == 3


def test_without_a_limits_cache_every_partner_has_the_settings_limits(world: World) -> None:
    # ConventionDeps.partner_limits left out (the other unit worlds): the stored limits are not read
    partner_api.conventions.use(
        ConventionDeps(
            idempotency=MemoryIdempotencyStore(),
            counter=MemoryRateCounter(),
            limits=LIMITS,
            clock=world.clock,
        ),
        caller=partner_caller(lambda: world.entities),
    )
    world.entities.put(PartnerSendLimits(partner_id="p1", requests_per_s_max=1))
    assert statuses(5) == [422] * 4 + [429]
