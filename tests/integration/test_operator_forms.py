"""The operator HTTP link's Kannel and DLR forms on the deployed template (API Gateway -> Lambda -> DynamoDB, SQS)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.domain.dlr import IdFormat
from smsbilling.domain.entities import Operator, OperatorLink, Protocol
from smsbilling.domain.ids import inbound_message_id
from smsbilling.domain.secrets import hash_token
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud

TOKEN = "kannel-link-token-for-tests"


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@contextlib.contextmanager
def consumers_paused(stack: Stack, queue_url: str) -> Iterator[None]:
    """Disable the Lambda event sources of a queue for a while, so the test can read what is sent there."""
    lam = stack.client("lambda")
    arn = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    mappings = lam.list_event_source_mappings(EventSourceArn=arn["Attributes"]["QueueArn"])[
        "EventSourceMappings"
    ]
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    if mappings:
        time.sleep(2)  # a poll already under way ends
    try:
        yield
    finally:
        for mapping in mappings:
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)


def take_messages(
    stack: Stack,
    queue_url: str,
    predicate: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout_s: float = 20,
    *,
    keep: bool = False,
) -> list[dict[str, Any]]:
    """Receive until ``count`` messages match (deleted unless ``keep``); every other one is made visible again."""
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            handle = message["ReceiptHandle"]
            mine = predicate(json.loads(message["Body"]))
            if mine:
                found.append(message)
            if mine and not keep:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
            else:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    assert len(found) == count, f"found {len(found)} of {count} messages on {queue_url}"
    return found


@pytest.fixture(scope="module")
def link_id(stack: Stack) -> str:
    link = OperatorLink(
        link_id=f"k-{uuid.uuid4().hex[:8]}",
        operator_id="op-kannel",
        protocol=Protocol.HTTP,
        http_token_hash=hash_token(TOKEN),
        dlr_id_format=IdFormat.HEX,
    )
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    entities.put(link)
    # Configured, so the MO processor decides these MOs (unrouted: no short number) instead of
    # failing them back onto the shared MO queue, where other tests count what is left.
    entities.put(
        Operator(operator_id="op-kannel", name="Kannel test operator", country_code="44", currency="GBP")
    )
    return link.link_id


@pytest.fixture(scope="module")
def store(stack: Stack) -> DynamoInboundStore:
    return DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])


def kannel_query(kannel_id: str, text: bytes | str = "", token: str = TOKEN, **extra: str) -> str:
    """A query as Kannel's get-url writes it: every value percent-encoded from its bytes."""
    raw = text.encode() if isinstance(text, str) else text
    pairs = [("token", token), ("id", kannel_id), ("from", "+447700900123"), ("to", "4444")]
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in [*pairs, *extra.items()])
    return f"{query}&text={quote_from_bytes(raw, safe='')}" if text else query


def test_kannel_get_url_mo_is_stored_queued_and_answered_with_an_empty_202(
    stack: Stack, link_id: str, store: DynamoInboundStore
) -> None:
    kannel_id = str(uuid.uuid4())
    query = kannel_query(kannel_id, "VOTE привет €", coding="0", charset="UTF-8", udh="", smsc="smsc1")
    first = stack.api.get(f"/operator/links/{link_id}/kannel/mo?{query}")
    assert first.status_code == 202, first.text
    assert first.content == b""  # Kannel would send a body to the subscriber as a reply
    stored = store.get(inbound_message_id(link_id, kannel_id))
    assert stored is not None
    assert (stored.text, stored.source, stored.destination, stored.operator_id) == (
        "VOTE привет €",
        "+447700900123",
        "4444",
        "op-kannel",
    )
    again = stack.api.get(f"/operator/links/{link_id}/kannel/mo?{query}")  # Kannel retries: one message
    assert again.status_code == 202
    assert store.get(inbound_message_id(link_id, kannel_id)).received_at == stored.received_at  # type: ignore[union-attr]


def test_ucs2_bytes_survive_the_gateway_or_are_refused(
    stack: Stack, link_id: str, store: DynamoInboundStore
) -> None:
    cyrillic = "Голос за номер 1".encode("utf-16-be")
    kannel_id = str(uuid.uuid4())
    ok = stack.api.get(
        f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, cyrillic, coding='2', charset='UTF-16BE')}"
    )
    assert ok.status_code == 202, ok.text
    stored = store.get(inbound_message_id(link_id, kannel_id))
    assert stored is not None and (stored.data_coding, stored.payload_hex) == (0x08, cyrillic.hex())

    emoji_id = str(uuid.uuid4())
    refused = stack.api.get(
        f"/operator/links/{link_id}/kannel/mo?{kannel_query(emoji_id, 'Hi 😀'.encode('utf-16-be'), coding='2')}"
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "payload_not_recoverable"
    assert store.get(inbound_message_id(link_id, emoji_id)) is None


def test_kannel_post_url_takes_the_message_from_the_body(
    stack: Stack, link_id: str, store: DynamoInboundStore
) -> None:
    kannel_id = str(uuid.uuid4())
    response = stack.api.post(
        f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, coding='0')}",
        content=b"VOTE from the body",
        headers={"content-type": "text/plain; charset=UTF-8"},
    )
    assert response.status_code == 202, response.text
    stored = store.get(inbound_message_id(link_id, kannel_id))
    assert stored is not None and stored.text == "VOTE from the body"


def test_bad_kannel_requests_change_nothing(stack: Stack, link_id: str, store: DynamoInboundStore) -> None:
    kannel_id = str(uuid.uuid4())
    wrong = stack.api.get(f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, 'x', token='nope')}")
    header_ok = stack.api.get(
        f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, 'x', token='')}",
        headers={"Authorization": "Bearer nope"},
    )
    unknown = stack.api.get(f"/operator/links/no-such-link/kannel/mo?{kannel_query(kannel_id, 'x')}")
    assert wrong.status_code == header_ok.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "link_unauthorised"

    no_id = stack.api.get(f"/operator/links/{link_id}/kannel/mo?token={TOKEN}&from=1&to=4444&text=x")
    assert no_id.status_code == 422
    assert no_id.json()["errors"] == [{"field": "id", "reason": "Field required"}]
    typo = stack.api.get(f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, 'x')}&sender=1")
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "sender"
    assert store.get(inbound_message_id(link_id, kannel_id)) is None


def test_dlrs_are_queued_and_a_repeated_receipt_is_one_event(stack: Stack, link_id: str) -> None:
    dlr_queue = stack.outputs["DlrQueueUrl"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = (
        "id:00ff sub:001 dlvrd:001 submit date:2611221200 done date:2611221201 stat:DELIVRD err:000 text:x"
    )
    with consumers_paused(stack, dlr_queue):
        as_json = stack.api.post(
            f"/operator/links/{link_id}/dlr",
            json={"operator_message_id": "FF", "status": "DELIVRD"},
            headers=auth,
        )
        as_kannel = stack.api.get(
            f"/operator/links/{link_id}/kannel/dlr?token={TOKEN}&type=1&id=00ff&answer={quote(answer)}"
        )
        ack = stack.api.get(f"/operator/links/{link_id}/kannel/dlr?token={TOKEN}&type=8&id=ff&answer=ACK%2F")
        assert (as_json.status_code, as_kannel.status_code, ack.status_code) == (202, 202, 202), (
            as_json.text + as_kannel.text + ack.text
        )
        mine = take_messages(stack, dlr_queue, lambda body: body.get("link_id") == link_id, count=3)
    events = [json.loads(message["Body"]) for message in mine]
    delivered = [e for e in events if e["status"] == "delivered"]
    accepted = [e for e in events if e["status"] == "accepted"]
    assert len(delivered) == 2 and len(accepted) == 1
    assert (
        delivered[0]["receipt_id"] == delivered[1]["receipt_id"] != accepted[0]["receipt_id"]
    )  # hex: FF == 00ff
    assert {e["kind"] for e in events} == {"dlr.received"}
    assert sorted(e["error_code"] for e in delivered) == ["", "000"]


def test_bad_dlrs_are_problems(stack: Stack, link_id: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    unknown = stack.api.post(
        f"/operator/links/{link_id}/dlr",
        json={"operator_message_id": "1", "status": "DELIVERD"},
        headers=auth,
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_status")
    extra = stack.api.post(
        f"/operator/links/{link_id}/dlr",
        json={"operator_message_id": "1", "status": "DELIVRD", "x": 1},
        headers=auth,
    )
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "x"
    no_token = stack.api.post(
        f"/operator/links/{link_id}/dlr", json={"operator_message_id": "1", "status": "DELIVRD"}
    )
    assert no_token.status_code == 401
    no_type = stack.api.get(f"/operator/links/{link_id}/kannel/dlr?token={TOKEN}&id=1")
    assert no_type.status_code == 422 and no_type.json()["errors"][0]["field"] == "type"
    bad_json = stack.api.post(
        f"/operator/links/{link_id}/dlr",
        content=b"{nope",
        headers={**auth, "content-type": "application/json"},
    )
    assert (
        bad_json.status_code in (400, 422) and bad_json.headers["content-type"] == "application/problem+json"
    )


def test_pausing_a_queues_consumers_holds_its_messages_for_the_test(stack: Stack, link_id: str) -> None:
    """The helper the DLR and MT checks rely on, tried on the MO queue (whose consumer is deployed)."""
    mo_queue = stack.outputs["MoQueueUrl"]
    lam = stack.client("lambda")
    arn = stack.client("sqs").get_queue_attributes(QueueUrl=mo_queue, AttributeNames=["QueueArn"])
    [mapping] = lam.list_event_source_mappings(EventSourceArn=arn["Attributes"]["QueueArn"])[
        "EventSourceMappings"
    ]
    kannel_id = str(uuid.uuid4())
    with consumers_paused(stack, mo_queue):
        assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
        response = stack.api.get(f"/operator/links/{link_id}/kannel/mo?{kannel_query(kannel_id, 'held')}")
        assert response.status_code == 202
        time.sleep(3)  # the consumer would have taken it by now
        message_id = inbound_message_id(link_id, kannel_id)
        take_messages(stack, mo_queue, lambda body: body.get("message_id") == message_id, keep=True)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
    store = DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])
    # the consumer is back: it decides the held MO (unrouted here: the link's operator has no numbers)
    wait_for(lambda: (mo := store.get(message_id)) is not None and mo.state.is_final)
