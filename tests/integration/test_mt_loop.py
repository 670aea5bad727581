"""The MT side of the premium loop on the deployed stack: MtQueue -> operator HTTP -> DLR -> billed, called back.

The operator and the partner are loopback HTTP servers run here (the local cloud's Lambdas are
local processes, so they reach 127.0.0.1). The operator only answers the POST; the receipt is
published to the DLR queue by the test, as the operator HTTP link or the bridge would.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.contracts import DlrReceived, MtPurpose, MtRequested
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import (
    BillingModel,
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
from smsbilling.domain.ledger import TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from smsbilling.domain.signing import SignatureError, verify
from smsbilling.ports import MtRecord, NotifyOutcome
from smsbilling.settings import LedgerLimits, MessageLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers

pytestmark = pytest.mark.localcloud

GBP = "GBP"
NUMBER = "7777"
MSISDN = "447700900555"
SECRET = "partner-callback-secret-0123456789"
MT_TOKEN = "operator-mt-token"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Loopback:
    """A loopback HTTP server answering every POST with ``answer(request)``; records what came."""

    answer: Callable[[Request], tuple[int, bytes]]
    received: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self
        self._changed = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, payload = outer.answer(request)
                with outer._changed:
                    outer.received.append(request)
                    outer._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def about(self, message_id: str, count: int, timeout_s: float = 90.0) -> list[Request]:
        """The requests for ``message_id`` once there are ``count`` of them."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [r for r in self.received if r.json().get("message_id") == message_id]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(found)} of {count} requests for {message_id} in {timeout_s} s"
                    )
                self._changed.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _wait_for[T](probe: Callable[[], T | None], what: str, timeout_s: float = 90.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@dataclass
class World:
    stack: Stack
    suffix: str
    operator: Loopback
    partner: Loopback

    @property
    def link_id(self) -> str:
        return f"l-mt-{self.suffix}"

    @property
    def service_id(self) -> str:
        return f"svc-{self.suffix}"

    @property
    def partner_id(self) -> str:
        return f"p-{self.suffix}"

    def mt_store(self) -> DynamoMtStore:
        return DynamoMtStore(self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"])

    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(
            self.stack.outputs["LedgerTableName"], self.stack.client("dynamodb"), LedgerLimits()
        )

    def request_mt(
        self, message_id: str, text: str, *, billed: bool, requested_at: datetime | None = None
    ) -> None:
        command = MtRequested(
            message_id=message_id,
            purpose=MtPurpose.REPLY,
            partner_id=self.partner_id,
            service_id=self.service_id,
            in_reply_to=f"mo-{message_id}",
            operator_id=f"op-{self.suffix}",
            link_id=self.link_id,
            source=NUMBER,
            destination=MSISDN,
            text=text,
            billed=billed,
            requested_at=requested_at or datetime.now(UTC),
        )
        self.stack.client("sqs").send_message(
            QueueUrl=self.stack.outputs["MtQueueUrl"], MessageBody=command.model_dump_json()
        )

    def publish_dlr(self, operator_message_id: str, status: DlrStatus) -> None:
        event = DlrReceived(
            receipt_id=f"r-{uuid.uuid4().hex}",
            link_id=self.link_id,
            operator_message_id=operator_message_id,
            status=status,
            received_at=datetime.now(UTC),
        )
        self.stack.client("sqs").send_message(
            QueueUrl=self.stack.outputs["DlrQueueUrl"], MessageBody=event.model_dump_json()
        )

    def mt_in(self, message_id: str, *states: MtState) -> MtRecord:
        def probe() -> MtRecord | None:
            record = self.mt_store().get(message_id)
            return record if record is not None and record.mt.state in states else None

        return _wait_for(probe, f"MT {message_id} in {[s.value for s in states]}")

    def charge_state(self, message_id: str) -> TransferState | None:
        stored = self.ledger().get_transfer(transfer_id(message_id, str(TransferKind.MT_CHARGE)))
        return None if stored is None else stored.state


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    ids = iter(range(1, 10_000))
    operator = Loopback(lambda r: (200, json.dumps({"operator_message_id": f"OP{next(ids):06d}"}).encode()))
    partner = Loopback(lambda r: (204, b""))
    suffix = uuid.uuid4().hex[:8]
    world = World(stack, suffix, operator, partner)
    op_id = f"op-{suffix}"
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    for entity in (
        Operator(operator_id=op_id, name="MT test operator", country_code="44", currency=GBP),
        OperatorLink(
            link_id=world.link_id,
            operator_id=op_id,
            protocol=Protocol.HTTP,
            mt_url=f"{operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        ShortNumber(operator_id=op_id, number=NUMBER, billing_model=BillingModel.MT, tariff_plan_id="p"),
        Partner(
            partner_id=world.partner_id,
            name="MT test partner",
            email="mt@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=datetime.now(UTC),
            callback_secrets=(SECRET,),
        ),
        PartnerService(
            service_id=world.service_id,
            partner_id=world.partner_id,
            name="MT test service",
            prefix="MT",
            short_numbers=(f"{op_id}#{NUMBER}",),
            handler_kind=HandlerKind.HTTP_POST_ASYNC,
            handler_url=f"{partner.url}/mo",
            status_url=f"{partner.url}/status",
            status=ServiceStatus.ACTIVE,
        ),
    ):
        entities.put(entity)
    price_numbers(
        stack,
        plan_id=f"plan-{suffix}",
        partner_id=world.partner_id,
        operator_id=op_id,
        numbers=[NUMBER],
        price=250,
    )
    yield world
    operator.close()
    partner.close()


def test_a_billed_mt_goes_out_by_http_and_is_settled_by_its_dlr(world: World) -> None:
    message_id = f"mt-{uuid.uuid4().hex[:12]}"
    text = "Your code is 4711. " + "x" * 150  # two GSM 7-bit parts
    world.request_mt(message_id, text, billed=True)

    posts = world.operator.about(message_id, 2)
    assert len(posts) == 2
    assert {p.headers["authorization"] for p in posts} == {f"Bearer {MT_TOKEN}"}
    parts = sorted((p.json() for p in posts), key=lambda body: body["part"])
    assert [(b["part"], b["parts"], b["data_coding"], b["destination"]) for b in parts] == [
        (1, 2, 0, MSISDN),
        (2, 2, 0, MSISDN),
    ]
    assert "".join(b["text"] for b in parts) == text and all(b["udh_hex"].startswith("050003") for b in parts)

    record = world.mt_in(message_id, MtState.ACCEPTED)  # both submit results applied
    assert world.charge_state(message_id) is TransferState.PENDING
    operator_ids = [part.operator_id for part in record.mt.parts]
    assert all(operator_ids)
    assert world.partner.received == []  # nothing to tell before the end

    for operator_id in operator_ids:
        world.publish_dlr(operator_id or "", DlrStatus.DELIVERED)
    world.mt_in(message_id, MtState.DELIVERED)
    # The final state is written first, then the pending charge is posted and marked on the MT.
    assert _wait_for(lambda: world.charge_state(message_id) is TransferState.POSTED, "charge posted")
    _wait_for(lambda: (r := world.mt_store().get(message_id)) is not None and r.billing_done, "billing done")

    [callback] = world.partner.about(message_id, 1)
    assert callback.path == "/status"
    try:
        verify(callback.body, callback.headers["x-smsbilling-signature"], [SECRET], now=int(time.time()))
    except SignatureError as error:
        pytest.fail(f"status callback not signed with the partner's secret: {error}")
    body = callback.json()
    assert (body["status"], body["billed"], body["parts"], body["in_reply_to"]) == (
        "delivered",
        True,
        2,
        f"mo-{message_id}",
    )
    notified = _wait_for(
        lambda: (r := world.mt_store().get(message_id)) is not None and r.notified is NotifyOutcome.SENT,
        "callback recorded",
    )
    assert notified
    assert len([p for p in world.operator.received if p.json()["message_id"] == message_id]) == 2  # no resend


def test_an_undelivered_mt_voids_its_charge_and_says_so(world: World) -> None:
    message_id = f"mt-{uuid.uuid4().hex[:12]}"
    world.request_mt(message_id, "Sorry, no luck this time.", billed=True)
    world.operator.about(message_id, 1)
    record = world.mt_in(message_id, MtState.ACCEPTED)
    world.publish_dlr(record.mt.parts[0].operator_id or "", DlrStatus.UNDELIVERED)
    world.mt_in(message_id, MtState.UNDELIVERED)
    assert _wait_for(lambda: world.charge_state(message_id) is TransferState.VOIDED, "charge voided")

    [callback] = world.partner.about(message_id, 1)
    assert callback.json()["status"] == "undelivered"


def test_an_mt_without_a_final_receipt_expires_in_the_sweep(world: World) -> None:
    message_id = f"mt-{uuid.uuid4().hex[:12]}"
    long_ago = datetime.now(UTC) - timedelta(seconds=MessageLimits().mt_final_wait_s + 60)
    world.request_mt(message_id, "This one never gets a receipt.", billed=True, requested_at=long_ago)
    world.operator.about(message_id, 1)
    world.mt_in(message_id, MtState.ACCEPTED)
    assert world.charge_state(message_id) is TransferState.PENDING

    answer = world.stack.client("lambda").invoke(
        FunctionName=world.stack.outputs["MtExpiryFunctionName"], Payload=b"{}"
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read())["expired"] >= 1
    expired = world.mt_in(message_id, MtState.EXPIRED)
    assert expired.mt.reason == "no final receipt before the deadline"
    assert world.charge_state(message_id) is TransferState.VOIDED
    [callback] = world.partner.about(message_id, 1)  # queued by the sweep, made by the MT-events function
    assert callback.json()["status"] == "expired"
