"""The spine, end to end on the deployed template: API Gateway → Lambda → DynamoDB + SQS → consumer → DynamoDB.

An operator POSTs an MO; the MO processor routes it by short number and prefix, posts the MO charge
to the ledger, counts it in the partner's period tally and hands ``MoRouted`` to the delivery queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.domain.concat import ConcatInfo, build_udh
from smsbilling.domain.entities import (
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
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import TransferKind, transfer_id
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.text import gsm7_encode
from smsbilling.logic.charging import period_of
from smsbilling.logic.mo_processing import claim_prefix
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers

pytestmark = pytest.mark.localcloud

TOKEN = "link-token-for-tests"
PRICE = 150


def _wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


class _PartnerHandler(BaseHTTPRequestHandler):
    """The partner's asynchronous handler: records each delivery and answers 200 (reply comes later)."""

    server: _PartnerServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")


class _PartnerServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PartnerHandler)
        self.bodies: list[bytes] = []

    def delivered(self, message_id: str) -> int:
        return sum(message_id.encode() in body for body in list(self.bodies))


@pytest.fixture(scope="module")
def partner() -> Iterator[_PartnerServer]:
    server = _PartnerServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(stack: Stack, partner: _PartnerServer) -> dict[str, str]:
    """An operator with an HTTP link and short number 4444 (MO-billed), a partner with prefix ABC on it,
    a partner-specific tariff plan (1.50 GBP) and the ledger accounts the charge posts to."""
    suffix = uuid.uuid4().hex[:8]
    operator_id, partner_id = f"op-{suffix}", f"p-{suffix}"
    client = stack.client("dynamodb")
    entities = DynamoEntityStore(client, stack.outputs["EntitiesTableName"])
    link = OperatorLink(
        link_id=f"l-{suffix}",
        operator_id=operator_id,
        protocol=Protocol.HTTP,
        http_token_hash=hash_token(TOKEN),
    )
    number = ShortNumber(operator_id=operator_id, number="4444", tariff_plan_id=f"plan-{suffix}")
    service = PartnerService(
        service_id=f"s-{suffix}",
        partner_id=partner_id,
        name="Quiz",
        prefix="ABC",
        short_numbers=(number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url=f"http://127.0.0.1:{partner.server_address[1]}/mo",
        status=ServiceStatus.ACTIVE,
    )
    for entity in (
        Operator(
            operator_id=operator_id, name="Op", country_code="44", currency="GBP", default_reply="Unknown."
        ),
        link,
        number,
        Partner(
            partner_id=partner_id,
            name="P",
            email="p@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            callback_secrets=("round-trip-secret-0123456789",),
        ),
        service,
    ):
        entities.put(entity)
    claim_prefix(entities, service, number.entity_id)
    price_numbers(
        stack,
        plan_id=f"plan-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=["4444"],
        price=PRICE,
    )
    return {"link_id": link.link_id, "partner_id": partner_id, "service_id": service.service_id}


@pytest.fixture(scope="module")
def link_id(world: dict[str, str]) -> str:
    return world["link_id"]


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


def _store(stack: Stack) -> DynamoInboundStore:
    return DynamoInboundStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])


def _decided(stack: Stack, message_id: str) -> StoredMo:
    store = _store(stack)

    def final() -> StoredMo | None:
        mo = store.get(message_id)
        return mo if mo is not None and mo.state.is_final else None

    return _wait_for(final)  # type: ignore[no-any-return]


def _charges(stack: Stack, message_id: str) -> int:
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    return int(ledger.get_transfer(transfer_id(message_id, str(TransferKind.MO_CHARGE))) is not None)


def test_mo_is_routed_charged_once_and_handed_to_delivery(
    stack: Stack, world: dict[str, str], partner: _PartnerServer
) -> None:
    op_id = uuid.uuid4().hex
    first = _post_mo(stack, world["link_id"], _mo(op_id))
    assert first.status_code == 202, first.text
    message_id = first.json()["message_id"]

    mo = _decided(stack, message_id)
    assert mo.state is MoState.ROUTED, mo.reason
    assert (mo.service_id, mo.partner_id, mo.msisdn, mo.prefix) == (
        world["service_id"],
        world["partner_id"],
        "447700900123",
        "ABC",
    )
    assert (mo.charged_amount, mo.currency, mo.full_text) == (PRICE, "GBP", "ABC 123")
    assert _charges(stack, message_id) == 1
    tally = DynamoTallyStore(stack.client("dynamodb"), stack.outputs["CountersTableName"])
    period = period_of(int(mo.received_at.timestamp() * 1000))
    assert tally.recorded(world["partner_id"], period, message_id) is not None

    # The operator retries: same platform id, decided, nothing queued or charged twice.
    again = _post_mo(stack, world["link_id"], _mo(op_id))
    assert again.status_code == 202
    assert again.json() == {"message_id": message_id, "state": "routed"}
    # MoRouted went to the delivery queue: partner delivery (its consumer) called the handler with it.
    _wait_for(lambda: partner.delivered(message_id) >= 1)
    assert _charges(stack, message_id) == 1


def test_long_mo_in_two_parts_reversed_is_routed_once(stack: Stack, world: dict[str, str]) -> None:
    text = "ABC " + "quiz answer " * 20  # 244 GSM characters: two parts of 153 octets at most
    data = gsm7_encode(text)
    ref = uuid.uuid4().int % 256
    ids = []
    for seq in (2, 1):  # the last part first
        body = {
            "operator_message_id": uuid.uuid4().hex,
            "source": "07700 900123",
            "destination": "4444",
            "payload_hex": data[(seq - 1) * 153 : seq * 153].hex(),
            "data_coding": 0,
            "udh_hex": build_udh(ConcatInfo(ref=ref, total=2, seq=seq)).hex(),
        }
        response = _post_mo(stack, world["link_id"], body)
        assert response.status_code == 202, response.text
        ids.append(response.json()["message_id"])
    decided = {mo.state: mo for mo in (_decided(stack, message_id) for message_id in ids)}
    assert set(decided) == {MoState.PART, MoState.ROUTED}
    whole = decided[MoState.ROUTED]
    assert whole.full_text == text and whole.charged_amount == PRICE and whole.msisdn == "447700900123"
    assert _charges(stack, whole.message_id) == 1 and _charges(stack, decided[MoState.PART].message_id) == 0


def test_unknown_prefix_is_unrouted_and_not_charged(stack: Stack, world: dict[str, str]) -> None:
    body = {**_mo(uuid.uuid4().hex), "text": "XYZ 1"}
    message_id = _post_mo(stack, world["link_id"], body).json()["message_id"]
    mo = _decided(stack, message_id)
    assert mo.state is MoState.UNROUTED and mo.charged_amount is None
    assert _charges(stack, message_id) == 0


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
    assert {e["field"] for e in missing.json()["errors"]} == {
        "source",
        "destination",
    }  # text may be a payload

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
        _wait_for(lambda m=message_id: store.get(m).state.is_final)  # type: ignore[union-attr]

    def poison_retained() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return (
            int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
            == 1
        )

    assert _wait_for(poison_retained)
