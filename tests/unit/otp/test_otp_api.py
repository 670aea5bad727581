"""The OTP routes as the partner API serves them (functions/partner_api/app.py), over the fakes."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.web import otp as otp_web

from .world import KEYS, OtpWorld

partner_api = importlib.import_module("functions.partner_api.app")


class Context:
    function_name = "partner-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:partner-api"
    aws_request_id = "req-1"


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = KEYS["p1"],
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    all_headers = {"Content-Type": "application/json"} | (headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": method, "path": path},
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    answer = partner_api.app.resolve(event, Context())
    text = answer["body"]
    out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    out |= {k.lower(): v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    return answer["statusCode"], out, json.loads(text) if text else None


@pytest.fixture
def world() -> Iterator[OtpWorld]:
    w = OtpWorld()
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
    yield w
    otp_web.use(None)


def test_send_then_verify(world: OtpWorld) -> None:
    status, _, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert status == 202 and set(body) == {"otp_id", "expires_at"}
    code = world.code_of(body["otp_id"])
    status, _, result = call("POST", f"/v1/otp/{body['otp_id']}/verify", {"code": "x" + code})
    assert status == 200 and result == {"valid": False, "reason": "mismatch", "attempts_left": 4}
    status, _, result = call("POST", f"/v1/otp/{body['otp_id']}/verify", {"code": code})
    assert status == 200 and result == {"valid": True, "reason": None, "attempts_left": 3}
    status, _, result = call("POST", f"/v1/otp/{body['otp_id']}/verify", {"code": code})
    assert result == {"valid": False, "reason": "used", "attempts_left": 0}


def test_without_a_valid_key_nothing_happens(world: OtpWorld) -> None:
    for key in (None, "sk_wrong"):
        status, headers, body = call(
            "POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"}, key=key
        )
        assert status == 401 and body["code"] == "unauthenticated" and "www-authenticate" in headers
    assert not world.events.mt


def test_other_partners_service_and_otp_are_404(world: OtpWorld) -> None:
    status, _, body = call("POST", "/v1/otp", {"service_id": "otp2", "msisdn": "447700900123"})
    assert (status, body["code"]) == (404, "not_found")
    status, _, sent = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    status, _, body = call("POST", f"/v1/otp/{sent['otp_id']}/verify", {"code": "123456"}, key=KEYS["p2"])
    assert (status, body["code"]) == (404, "not_found")
    status, _, body = call("POST", f"/v1/otp/{'0' * 32}/verify", {"code": "123456"})
    assert status == 404
    assert world.store.get(sent["otp_id"]).attempts_left == 5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        {"service_id": "otp1"},
        {"service_id": "otp1", "msisdn": "447700900123", "otp_id": "0" * 32},  # a server-owned field
        {"service_id": "otp1", "msisdn": "447700900123", "length": 2},
        {"service_id": "otp1", "msisdn": "447700900123", "ttl_s": "forever"},
        {"service_id": "otp1", "msisdn": "not a number"},
        "not json",
    ],
)
def test_bad_send_requests_are_problems_and_send_nothing(world: OtpWorld, body: Any) -> None:
    status, headers, problem = call("POST", "/v1/otp", body)
    assert status in (400, 422), problem
    assert headers["content-type"] == "application/problem+json"
    assert not world.events.mt


def test_bad_verify_requests(world: OtpWorld) -> None:
    status, _, _ = call("POST", "/v1/otp/not-an-id/verify", {"code": "1"})
    assert status == 422
    status, _, sent = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    status, _, _ = call("POST", f"/v1/otp/{sent['otp_id']}/verify", {"code": ""})
    assert status == 422
    status, _, _ = call("POST", f"/v1/otp/{sent['otp_id']}/verify", {"code": "1", "valid": True})
    assert status == 422


def test_disabled_service_is_409(world: OtpWorld) -> None:
    world.service("otp1", "p1", otp_enabled=False)
    status, _, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert (status, body["code"]) == (409, "otp_not_enabled")


def test_rate_limit_is_429_with_retry_after(world: OtpWorld) -> None:
    for _ in range(world.limits.sends_per_msisdn_max):
        assert call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})[0] == 202
    status, headers, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert (status, body["code"]) == (429, "rate_limited")
    assert 1 <= int(headers["retry-after"]) <= world.limits.sends_window_s
    assert len(world.events.mt) == world.limits.sends_per_msisdn_max


def test_idempotency_key(world: OtpWorld) -> None:
    request = {"service_id": "otp1", "msisdn": "447700900123"}
    first = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "abc-1"})
    again = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "abc-1"})
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert len(world.events.mt) == 1
    other = call("POST", "/v1/otp", request | {"length": 8}, headers={"Idempotency-Key": "abc-1"})
    assert (other[0], other[2]["code"]) == (422, "idempotency_key_reused")
    bad = call("POST", "/v1/otp", request, headers={"Idempotency-Key": "with space"})
    assert (bad[0], bad[2]["code"]) == (422, "invalid_idempotency_key")


def test_queue_down_is_503_and_keeps_nothing(world: OtpWorld) -> None:
    world.events.fail = True
    status, _, body = call("POST", "/v1/otp", {"service_id": "otp1", "msisdn": "447700900123"})
    assert (status, body["code"]) == (503, "temporarily_unavailable")
    assert not world.store.records


def test_openapi_lists_the_otp_operations() -> None:
    schema = json.loads(partner_api.app.get_openapi_json_schema())
    assert {"/v1/otp", "/v1/otp/{otp_id}/verify"} <= set(schema["paths"])
