"""The replies router (web/replies.py) in a Powertools resolver, over in-memory fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from smsbilling.adapters.memory_delivery_log import MemoryDeliveryLog
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.entities import ApiKey, BillingModel, Partner, PartnerStatus
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import PartnerDeliveryLimits
from smsbilling.web import replies
from smsbilling.web.problems import install_problem_handlers

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
KEYS = {"p1": "key-of-partner-one-0123456789", "p2": "key-of-partner-two-0123456789"}
MO_ID = "a" * 32


@pytest.fixture
def api() -> Iterator[tuple[APIGatewayRestResolver, MemoryEventPublisher, MemoryInboundStore]]:
    entities, mos, events = MemoryEntityStore(), MemoryInboundStore(), MemoryEventPublisher()
    for partner_id, key in KEYS.items():
        entities.put(
            Partner(
                partner_id=partner_id,
                name=partner_id,
                email="p@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=NOW,
            )
        )
        entities.put(
            ApiKey(key_hash=hash_token(key), key_id=f"k-{partner_id}", partner_id=partner_id, created_at=NOW)
        )
    mos.put_if_absent(
        StoredMo(
            message_id=MO_ID,
            link_id="l1",
            operator_id="op",
            operator_message_id="k1",
            source="447700900123",
            destination="4444",
            text="OTP",
            state=MoState.ROUTED,
            received_at=NOW - timedelta(seconds=3),
            msisdn="447700900123",
            short_number="4444",
            prefix="OTP",
            service_id="svc",
            partner_id="p1",
            billing_model=BillingModel.MT,
        )
    )
    app = APIGatewayRestResolver(enable_validation=True)
    install_problem_handlers(app)
    app.include_router(replies.router)
    replies.use(
        replies.ReplyDeps(
            entities=entities,
            mos=mos,
            log=MemoryDeliveryLog(),
            events=events,
            limits=PartnerDeliveryLimits(),
            clock=lambda: NOW,
        )
    )
    yield app, events, mos
    replies.use(None)


def call(
    app: APIGatewayRestResolver, message_id: str, body: object, key: str | None = KEYS["p1"]
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    path = f"/v1/messages/{message_id}/reply"
    event = {
        "resource": "/v1/messages/{message_id}/reply",
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"message_id": message_id},
        "requestContext": {
            "httpMethod": "POST",
            "path": path,
            "resourcePath": "/v1/messages/{message_id}/reply",
            "requestId": "r1",
            "stage": "Prod",
        },
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }
    answer = app.resolve(event, None)  # type: ignore[arg-type]
    return answer["statusCode"], json.loads(answer["body"])


def test_reply_is_queued_once_and_repeats_answer_the_same(api) -> None:  # type: ignore[no-untyped-def]
    app, events, _ = api
    status, body = call(app, MO_ID, {"text": "Your code is 1234"})
    assert (status, body) == (202, {"message_id": reply_mt_id(MO_ID), "in_reply_to": MO_ID, "billed": True})
    assert call(app, MO_ID, {"text": "Your code is 1234"}) == (status, body)
    assert {(mt.message_id, mt.text) for mt in events.mt} == {(reply_mt_id(MO_ID), "Your code is 1234")}

    status, problem = call(app, MO_ID, {"text": "Something else"})
    assert status == 409 and problem["code"] == "reply_exists"
    assert problem["reply_message_id"] == reply_mt_id(MO_ID)


def test_other_partners_and_unknown_ids_get_the_same_404(api) -> None:  # type: ignore[no-untyped-def]
    app, events, _ = api
    other = call(app, MO_ID, {"text": "hi"}, key=KEYS["p2"])
    unknown = call(app, "b" * 32, {"text": "hi"})
    assert other[0] == unknown[0] == 404 and other[1]["code"] == unknown[1]["code"] == "not_found"
    assert events.mt == []


def test_authentication_and_validation_problems(api) -> None:  # type: ignore[no-untyped-def]
    app, events, _ = api
    assert call(app, MO_ID, {"text": "hi"}, key=None)[0] == 401
    assert call(app, MO_ID, {"text": "hi"}, key="wrong-key-0123456789")[0] == 401
    status, problem = call(app, MO_ID, {"text": "hi", "billed": False})  # a server-owned field
    assert status == 422 and problem["errors"] == [
        {"field": "billed", "reason": "Extra inputs are not permitted"}
    ]
    assert call(app, MO_ID, {"text": ""})[0] == 422
    assert call(app, MO_ID, {"text": "x" * 1531})[1]["code"] == "invalid_text"
    assert call(app, MO_ID, "{not json")[0] in (400, 422)
    assert events.mt == []


def test_not_routed_is_a_conflict(api) -> None:  # type: ignore[no-untyped-def]
    app, events, mos = api
    mos.messages[MO_ID] = mos.messages[MO_ID].model_copy(update={"state": MoState.UNROUTED})
    status, problem = call(app, MO_ID, {"text": "hi"})
    assert (status, problem["code"]) == (409, "not_routed") and events.mt == []
