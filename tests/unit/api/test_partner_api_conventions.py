"""The conventions as the partner API installs them (functions/partner_api/app.py), on POST /v1/otp."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.settings import ApiLimits
from smsbilling.web import otp as otp_web
from smsbilling.web.conventions import ConventionDeps, partner_caller
from tests.unit.otp.test_otp_api import call
from tests.unit.otp.world import KEYS, OtpWorld

partner_api = importlib.import_module("functions.partner_api.app")
LIMITS = ApiLimits(api_key_requests_per_s_max=4, api_key_requests_per_min_max=100)


class Setup:
    def __init__(self) -> None:
        self.world = OtpWorld()
        self.store = MemoryIdempotencyStore()
        self.counter = MemoryRateCounter()


@pytest.fixture
def setup() -> Iterator[Setup]:
    s = Setup()
    w = s.world
    otp_web.use(
        otp_web.OtpDeps(
            entities=w.entities,
            store=w.store,
            limiter=w.limiter,
            events=w.events,
            limits=w.limits,
            clock=w.clock,
        )
    )
    partner_api.conventions.use(
        ConventionDeps(idempotency=s.store, counter=s.counter, limits=LIMITS, clock=w.clock),
        caller=partner_caller(lambda: w.entities),
    )
    yield s
    partner_api.conventions.use(None)
    otp_web.use(None)


def test_replay_conflict_and_scope_on_the_partner_api(setup: Setup) -> None:
    request = {"service_id": "otp1", "msisdn": "447700900123"}
    first = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "order-1"})
    again = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "order-1"})
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert again[1]["idempotent-replayed"] == "true" and "idempotent-replayed" not in first[1]
    assert len(setup.world.events.mt) == 1
    other = call("POST", "/v1/otp", request | {"length": 8}, headers={"Idempotency-Key": "order-1"})
    assert (other[0], other[2]["code"]) == (422, "idempotency_key_reused")
    assert len(setup.world.events.mt) == 1
    (record,) = setup.store.records.values()
    assert record.scope == "partner:p1" and record.response is not None and record.response.status == 202
    too_long = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "k" * 256})
    assert (too_long[0], too_long[2]["code"]) == (400, "invalid_idempotency_key")


def test_rate_limit_per_api_key_on_the_partner_api(setup: Setup) -> None:
    setup.world.clock.now = setup.world.clock.now.replace(second=10, microsecond=0)
    for _ in range(LIMITS.api_key_requests_per_s_max):
        assert call("POST", "/v1/otp/" + "0" * 32 + "/verify", {"code": "1"})[0] == 404
    status, headers, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert (status, body["code"], headers["retry-after"]) == (429, "rate_limited", "1")
    assert not setup.world.events.mt
    assert call("POST", "/v1/otp", {"service_id": "otp2", "msisdn": "447700900123"}, key=KEYS["p2"])[0] == 202
    wrong = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"}, key="sk_wrong")
    assert wrong[0] == 401  # the route's answer: neither counted nor limited
    setup.world.clock.advance(1)
    assert call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})[0] == 202


def test_the_route_reuses_the_key_the_conventions_found(setup: Setup) -> None:
    w = setup.world
    reads: list[str] = []
    get = w.entities.get

    def counted(kind, entity_id):  # type: ignore[no-untyped-def]
        reads.append(kind.__name__)
        return get(kind, entity_id)

    w.entities.get = counted  # type: ignore[method-assign]
    status, _, _ = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert status == 202
    assert reads.count("ApiKey") == 1  # found once, for the rate limit, and reused by the route


def test_invalid_requests_count_against_the_rate_limit_too(setup: Setup) -> None:
    """Powertools refuses an invalid body before any middleware runs: the refusal is still counted."""
    setup.world.clock.now = setup.world.clock.now.replace(second=10, microsecond=0)
    for _ in range(LIMITS.api_key_requests_per_s_max):
        status, _, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123", "x": 1})
        assert (status, body["code"]) == (422, "validation_failed")
    status, headers, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123", "x": 1})
    assert (status, body["code"], headers["retry-after"]) == (429, "rate_limited", "1")
    malformed = call("POST", "/v1/otp", "{not json")
    assert (malformed[0], malformed[2]["code"]) == (429, "rate_limited")
    valid = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert valid[0] == 429 and not setup.world.events.mt
    other = call("POST", "/v1/otp", {"service_id": "otp2", "msisdn": "4477", "x": 1}, key=KEYS["p2"])
    assert other[0] == 422  # another partner's key has its own windows
    anonymous = call("POST", "/v1/otp", {"x": 1}, key="sk_wrong")
    assert anonymous[0] == 422  # no caller: nothing to count, the usual answer
    setup.world.clock.advance(1)
    assert call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123", "x": 1})[0] == 422
