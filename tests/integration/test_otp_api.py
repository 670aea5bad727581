"""Password by SMS over the deployed partner API: send a code, read it off the MT path, verify it."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.domain.entities import (
    ApiKey,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import OtpLimits
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud


def otp_sms_text(stack: Stack, message_id: str, timeout_s: float = 30.0) -> str:
    """The OTP SMS text: from the MT queue, or from the MT record once an MT consumer is deployed."""
    sqs, queue = stack.client("sqs"), stack.outputs["MtQueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    consumed = (
        stack.client("lambda").list_event_source_mappings(EventSourceArn=arn).get("EventSourceMappings")
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if consumed:
            item = (
                stack.client("dynamodb")
                .get_item(
                    TableName=stack.outputs["MessagesTableName"],
                    Key={"pk": {"S": f"MT#{message_id}"}, "sk": {"S": "META"}},
                )
                .get("Item")
            )
            if item:
                return str(item["text"]["S"])
            time.sleep(0.5)
            continue
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            if body.get("message_id") == message_id:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                assert body["purpose"] == "otp" and body["billed"] is False
                return str(body["text"])
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    raise AssertionError(f"no OTP SMS {message_id} within {timeout_s} s")


@pytest.fixture(scope="module")
def partner(stack: Stack) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    created = datetime(2026, 1, 1, tzinfo=UTC)
    keys = {}
    for name in ("a", "b"):
        partner_id = f"p{name}-{suffix}"
        keys[name] = f"sk_{name}_{uuid.uuid4().hex}"
        entities.put(
            Partner(
                partner_id=partner_id,
                name=name,
                email=f"{name}@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=created,
            )
        )
        entities.put(
            ApiKey(
                key_hash=hash_token(keys[name]),
                key_id=f"k{name}-{suffix}",
                partner_id=partner_id,
                created_at=created,
            )
        )
    number = ShortNumber(operator_id=f"op-{suffix}", number="7777", tariff_plan_id="none")
    entities.put(number)
    # An operator with a link that takes MTs, so an MT consumer (when deployed) can create the MT.
    entities.put(Operator(operator_id=number.operator_id, name="Op", country_code="44", currency="GBP"))
    entities.put(
        OperatorLink(
            link_id=f"l-{suffix}",
            operator_id=number.operator_id,
            protocol=Protocol.HTTP,
            mt_url="http://127.0.0.1:9/mt",
        )
    )
    entities.put(
        PartnerService(
            service_id=f"otp-{suffix}",
            partner_id=f"pa-{suffix}",
            name="Acme",
            prefix=f"OTP{suffix}",
            short_numbers=(number.entity_id,),
            handler_kind=HandlerKind.HTTP_POST_ASYNC,
            handler_url="http://127.0.0.1:9/mo",
            status=ServiceStatus.ACTIVE,
            otp_enabled=True,
        )
    )
    return {
        "service_id": f"otp-{suffix}",
        "key_a": keys["a"],
        "key_b": keys["b"],
        "operator_id": number.operator_id,
    }


def post(stack: Stack, path: str, body: Any, key: str, **headers: str):  # type: ignore[no-untyped-def]
    return stack.api.post(path, json=body, headers={"Authorization": f"Bearer {key}", **headers})


def test_send_and_verify_a_code(stack: Stack, partner: dict[str, str]) -> None:
    msisdn = f"4477009{uuid.uuid4().int % 100_000:05d}"
    sent = post(
        stack, "/v1/otp", {"service_id": partner["service_id"], "msisdn": f"+{msisdn}"}, partner["key_a"]
    )
    assert sent.status_code == 202, sent.text
    otp_id = sent.json()["otp_id"]
    text = otp_sms_text(stack, derived_id("otp", otp_id))
    code = text.split("code is ")[1].split(".")[0]
    assert len(code) == 6 and code.isdigit()

    other = post(stack, f"/v1/otp/{otp_id}/verify", {"code": code}, partner["key_b"])
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    wrong = post(stack, f"/v1/otp/{otp_id}/verify", {"code": "x"}, partner["key_a"])
    assert wrong.status_code == 200 and wrong.json() == {
        "valid": False,
        "reason": "mismatch",
        "attempts_left": 4,
    }
    right = post(stack, f"/v1/otp/{otp_id}/verify", {"code": code}, partner["key_a"])
    assert right.json() == {"valid": True, "reason": None, "attempts_left": 3}
    again = post(stack, f"/v1/otp/{otp_id}/verify", {"code": code}, partner["key_a"])
    assert again.json()["valid"] is False and again.json()["reason"] == "used"

    stored = stack.client("dynamodb").get_item(
        TableName=stack.outputs["MessagesTableName"], Key={"pk": {"S": f"OTP#{otp_id}"}, "sk": {"S": "META"}}
    )["Item"]
    assert (
        code not in json.dumps(stored) and int(stored["expires_at"]["N"]) > time.time()
    )  # hash only; TTL set


def test_rate_limit_and_errors_on_the_deployed_api(stack: Stack, partner: dict[str, str]) -> None:
    msisdn = f"4477008{uuid.uuid4().int % 100_000:05d}"
    body = {"service_id": partner["service_id"], "msisdn": msisdn}
    statuses = [
        post(stack, "/v1/otp", body, partner["key_a"]).status_code
        for _ in range(OtpLimits().sends_per_msisdn_max)
    ]
    assert statuses == [202] * OtpLimits().sends_per_msisdn_max
    limited = post(stack, "/v1/otp", body, partner["key_a"])
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert post(stack, "/v1/otp", body, partner["key_b"]).status_code == 404  # not b's service
    assert post(stack, "/v1/otp", body, "sk_nobody").status_code == 401
    assert post(stack, "/v1/otp", body | {"length": 99}, partner["key_a"]).status_code == 422
    replay_key = {"Idempotency-Key": uuid.uuid4().hex}
    fresh = {"service_id": partner["service_id"], "msisdn": f"4477007{uuid.uuid4().int % 100_000:05d}"}
    first = post(stack, "/v1/otp", fresh, partner["key_a"], **replay_key)
    second = post(stack, "/v1/otp", fresh, partner["key_a"], **replay_key)
    assert first.status_code == second.status_code == 202 and first.json() == second.json()
