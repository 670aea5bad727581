"""The API conventions on the deployed partner API: Idempotency-Key replay, reuse, in flight, scope,
the records in the idempotency table, and 429 with Retry-After per API key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_idempotency import DynamoIdempotencyStore
from smsbilling.domain.entities import (
    ApiKey,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.secrets import hash_token
from smsbilling.logic import idempotency as idem
from smsbilling.settings import ApiLimits
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud

LIMITS = ApiLimits()


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, str]:
    """Two partners (a with two keys, b with one) and an OTP service of a."""
    suffix = uuid.uuid4().hex[:8]
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    created = datetime(2026, 1, 1, tzinfo=UTC)
    out: dict[str, str] = {}
    for partner, key_names in (("a", ("a", "a2", "a3")), ("b", ("b",))):
        partner_id = f"conv{partner}-{suffix}"
        out[f"partner_{partner}"] = partner_id
        entities.put(
            Partner(
                partner_id=partner_id,
                name=partner,
                email=f"{partner}@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=created,
            )
        )
        for name in key_names:
            out[f"key_{name}"] = f"sk_conv_{name}_{uuid.uuid4().hex}"
            entities.put(
                ApiKey(
                    key_hash=hash_token(out[f"key_{name}"]),
                    key_id=f"k{name}-{suffix}",
                    partner_id=partner_id,
                    created_at=created,
                )
            )
    number = ShortNumber(operator_id=f"convop-{suffix}", number="7778", tariff_plan_id="none")
    entities.put(number)
    out["service_id"] = f"conv-{suffix}"
    entities.put(
        PartnerService(
            service_id=out["service_id"],
            partner_id=out["partner_a"],
            name="Conventions",
            prefix=f"CONV{suffix}",
            short_numbers=(number.entity_id,),
            handler_kind=HandlerKind.HTTP_POST_ASYNC,
            handler_url="http://127.0.0.1:9/mo",
            status=ServiceStatus.ACTIVE,
            otp_enabled=True,
        )
    )
    return out


def post(stack: Stack, path: str, body: Any, key: str, idempotency_key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return stack.api.post(path, json=body, headers=headers)


def msisdn() -> str:
    return f"4477006{uuid.uuid4().int % 100_000:05d}"


def test_same_key_replays_other_body_is_422_and_keys_are_per_partner(
    stack: Stack, world: dict[str, str]
) -> None:
    key = f"order-{uuid.uuid4().hex}"
    body = {"service_id": world["service_id"], "msisdn": msisdn()}
    first = post(stack, "/v1/otp", body, world["key_a"], key)
    again = post(stack, "/v1/otp", body, world["key_a2"], key)  # another key of the same partner
    assert first.status_code == again.status_code == 202, first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    other = post(stack, "/v1/otp", body | {"length": 8}, world["key_a"], key)
    assert other.status_code == 422 and other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"

    # Partner b's key space is its own: the same key runs its own request (404: not b's service).
    theirs = post(stack, "/v1/otp", body, world["key_b"], key)
    assert theirs.status_code == 404 and "idempotent-replayed" not in theirs.headers

    too_long = post(stack, "/v1/otp", body, world["key_a"], "k" * 256)
    assert too_long.status_code == 400 and too_long.json()["code"] == "invalid_idempotency_key"

    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["IdempotencyTableName"],
        Key={"pk": {"S": f"IDEM#partner:{world['partner_a']}"}, "sk": {"S": f"KEY#{idem.key_hash(key)}"}},
    )["Item"]
    assert json.loads(item["response"]["S"])["status"] == 202
    assert int(item["expires_at"]["N"]) >= time.time() + LIMITS.idempotency_key_ttl_s - 60  # TTL: >= 24 h
    assert key not in json.dumps(item)  # the key is stored as its hash


def test_a_key_in_flight_is_409_with_retry_after(stack: Stack, world: dict[str, str]) -> None:
    """Another invocation holds the key (its claim written to the deployed table as it would)."""
    key, message_id = f"reply-{uuid.uuid4().hex}", uuid.uuid4().hex
    path, body = f"/v1/messages/{message_id}/reply", {"text": "thanks"}
    store = DynamoIdempotencyStore(stack.client("dynamodb"), stack.outputs["IdempotencyTableName"])
    now = datetime.now(UTC)
    claim = idem.IdempotencyRecord(
        scope=f"partner:{world['partner_a']}",
        key_hash=idem.key_hash(key),
        fingerprint=idem.fingerprint("POST", path, {}, json.dumps(body)),
        token=uuid.uuid4().hex,
        created_at=now,
        lease_until=now + timedelta(seconds=LIMITS.idempotency_lease_s),
        expires_at=now + timedelta(seconds=LIMITS.idempotency_key_ttl_s),
    )
    assert store.claim(claim, now) is None
    busy = post(stack, path, body, world["key_a"], key)
    assert busy.status_code == 409, busy.text
    assert busy.json()["code"] == "idempotency_key_in_flight" and int(busy.headers["retry-after"]) >= 1

    store.release(claim.scope, claim.key_hash, claim.token)  # the other invocation gave up
    first = post(stack, path, body, world["key_a"], key)
    assert first.status_code == 404 and first.json()["code"] == "not_found"  # no such MO: kept all the same
    again = post(stack, path, body, world["key_a"], key)
    assert again.status_code == 404 and again.headers["idempotent-replayed"] == "true"


@pytest.fixture
def low_rate_limit(stack: Stack) -> Iterator[int]:
    """The deployed partner API with a per-minute limit of 3 per key, for this test only (restored)."""
    function = stack.client("cloudformation").describe_stack_resource(
        StackName=stack.cloud.name, LogicalResourceId="PartnerApiFunction"
    )["StackResourceDetail"]["PhysicalResourceId"]
    lam = stack.client("lambda")
    original = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    limit = 3

    def configure(variables: dict[str, str]) -> None:
        lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
        lam.get_waiter("function_updated_v2").wait(FunctionName=function, WaiterConfig={"Delay": 1})

    configure(original | {"SMSBILLING_API__API_KEY_REQUESTS_PER_MIN_MAX": str(limit)})
    try:
        yield limit
    finally:
        configure(original)


def test_over_the_limit_is_429_with_retry_after_per_api_key(
    stack: Stack, world: dict[str, str], low_rate_limit: int
) -> None:
    path, body = f"/v1/messages/{uuid.uuid4().hex}/reply", {"text": "hi"}
    statuses = []
    for _ in range(2 * low_rate_limit + 2):  # a minute boundary may pass once in between
        answer = post(stack, path, body, world["key_a3"])
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[:low_rate_limit] == [404] * low_rate_limit and statuses[-1] == 429, statuses
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "rate_limited" and 1 <= int(answer.headers["retry-after"]) <= 60
    # Per API key: partner b's key is not limited by a3's requests.
    assert post(stack, path, body, world["key_b"]).status_code == 404
    # Without a valid key the route answers, uncounted.
    assert post(stack, path, body, "sk_nobody").status_code == 401
