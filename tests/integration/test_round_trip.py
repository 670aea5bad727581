"""The spine, end to end on the deployed template: API Gateway → Lambda → DynamoDB + SQS → consumer → DynamoDB."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.domain.entities import OperatorLink, Protocol
from smsbilling.domain.inbound import MoState
from smsbilling.domain.secrets import hash_token
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud

TOKEN = "link-token-for-tests"


def _wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture(scope="module")
def link_id(stack: Stack) -> str:
    link = OperatorLink(
        link_id=f"l-{uuid.uuid4().hex[:8]}",
        operator_id="op-test",
        protocol=Protocol.HTTP,
        http_token_hash=hash_token(TOKEN),
    )
    DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"]).put(link)
    return link.link_id


def _post_mo(stack: Stack, link_id: str, body: dict[str, object], token: str = TOKEN):  # type: ignore[no-untyped-def]
    return stack.api.post(
        f"/operator/links/{link_id}/mo", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def _mo(op_id: str) -> dict[str, object]:
    return {"operator_message_id": op_id, "source": "447700900123", "destination": "4444", "text": "ABC 123"}


def test_health_reads_the_entities_table(stack: Stack) -> None:
    response = stack.api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stage": "local"}


def test_mo_is_stored_queued_and_picked_up_once(stack: Stack, link_id: str) -> None:
    store = DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])
    op_id = uuid.uuid4().hex
    first = _post_mo(stack, link_id, _mo(op_id))
    assert first.status_code == 202, first.text
    message_id = first.json()["message_id"]
    stored = store.get(message_id)
    assert stored is not None and stored.text == "ABC 123" and stored.link_id == link_id

    _wait_for(lambda: store.get(message_id).state is MoState.ACCEPTED)  # type: ignore[union-attr]

    # The operator retries: same platform id, nothing processed twice.
    again = _post_mo(stack, link_id, _mo(op_id))
    assert again.status_code == 202
    assert again.json() == {"message_id": message_id, "state": "accepted"}


def test_bad_credentials_and_bad_bodies_change_nothing(stack: Stack, link_id: str) -> None:
    store = DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])
    op_id = uuid.uuid4().hex

    wrong_token = _post_mo(stack, link_id, _mo(op_id), token="nope")
    unknown_link = _post_mo(stack, "no-such-link", _mo(op_id))
    assert wrong_token.status_code == unknown_link.status_code == 401
    assert wrong_token.json()["code"] == unknown_link.json()["code"] == "link_unauthorised"
    assert wrong_token.headers["content-type"] == "application/problem+json"

    server_owned = _post_mo(stack, link_id, {**_mo(op_id), "state": "accepted"})
    assert server_owned.status_code == 422
    assert server_owned.json()["errors"] == [{"field": "state", "reason": "Extra inputs are not permitted"}]

    missing = _post_mo(stack, link_id, {"operator_message_id": op_id})
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"source", "destination", "text"}

    not_json = stack.api.post(
        f"/operator/links/{link_id}/mo",
        content=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    assert not_json.status_code in (400, 422), not_json.text
    assert not_json.headers["content-type"] == "application/problem+json"

    from smsbilling.domain.ids import inbound_message_id

    assert store.get(inbound_message_id(link_id, op_id)) is None


def test_api_docs_are_served_offline(stack: Stack) -> None:
    page = stack.api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text and "unpkg.com" not in page.text and "cdn" not in page.text.lower()
    spec = stack.api.get("/docs", params={"format": "json"}).json()
    assert spec["openapi"].startswith("3.1") and "/health" in spec["paths"]


def test_unknown_route_is_a_problem_not_a_500(stack: Stack) -> None:
    response = stack.api.get("/no/such/route")
    assert response.status_code in (403, 404)  # API Gateway itself answers unknown paths


def test_consumer_reports_partial_batch_failures(stack: Stack, link_id: str) -> None:
    """A poison record stays on the queue (for redrive to the DLQ); its batch-mates are processed."""
    sqs = stack.client("sqs")
    queue_url = stack.outputs["MoQueueUrl"]
    store = DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])
    ids = []
    for _ in range(3):
        ids.append(_post_mo(stack, link_id, _mo(uuid.uuid4().hex)).json()["message_id"])
    sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "poison", "MessageBody": json.dumps({"kind": "mo.received", "schema_version": 99})},
        ],
    )
    for message_id in ids:
        _wait_for(lambda m=message_id: store.get(m).state is MoState.ACCEPTED)  # type: ignore[union-attr]

    def poison_retained() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return (
            int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
            == 1
        )

    assert _wait_for(poison_retained)
