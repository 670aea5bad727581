"""Partner delivery on the deployed template: MoRouted -> the Lambda -> a signed call to a handler the
test serves on loopback -> the reply MT on the MT queue, the retry, the dead letter, the async reply API.

The routed MO, the service and the partner are written straight into the tables (the MO processor
is not under test here); the MoRouted command goes straight onto the delivery queue.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.contracts import MoRouted
from smsbilling.domain.delivery_log import DeliveryState, reply_mt_id
from smsbilling.domain.entities import (
    ApiKey,
    BillingModel,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.signing import verify
from tests.conftest import Stack
from tests.integration.test_operator_forms import consumers_paused, take_messages, wait_for

pytestmark = pytest.mark.localcloud

SECRET = "whsec_integration_0123456789abcdef"
API_KEY = "partner-api-key-for-delivery-tests"
SLOW_FIRST_CALL_S = 12.0  # above the default request_timeout_s (10)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HandlerServer:
    """The partner's handlers on 127.0.0.1, one path per behaviour; every request recorded."""

    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def seen(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def serve(self) -> Iterator[HandlerServer]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the platform gave up waiting (/slow)
                    pass

            def _handle(self) -> None:
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    server.requests.append(Seen(self.command, path, query, dict(self.headers.items()), body))
                    calls = len([r for r in server.requests if r.path == path])
                if path == "/slow" and calls == 1:
                    time.sleep(SLOW_FIRST_CALL_S)
                if path == "/garbage":
                    return self._answer(200, "text/html", b"<html><body>Fatal error in sms.php</body></html>")
                if path == "/async":
                    return self._answer(202, "text/plain", b"")
                reply = f"Thanks from {path}".encode()
                if path == "/sync-json":
                    return self._answer(
                        200, "application/json", json.dumps({"reply": reply.decode()}).encode()
                    )
                return self._answer(200, "text/plain; charset=utf-8", reply)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                return

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture(scope="module")
def handlers() -> Iterator[HandlerServer]:
    yield from HandlerServer().serve()


@dataclass
class World:
    stack: Stack
    handlers: HandlerServer
    partner_id: str

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self.stack.client("dynamodb"), self.stack.outputs["EntitiesTableName"])

    @property
    def log(self) -> DynamoDeliveryLog:
        return DynamoDeliveryLog(self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"])

    def service(self, kind: HandlerKind, path: str | None = None, **extra: object) -> PartnerService:
        service = PartnerService(
            service_id=f"svc-{uuid.uuid4().hex[:8]}",
            partner_id=self.partner_id,
            name="Test service",
            prefix="VOTE",
            short_numbers=("op-deliv#4444",),
            handler_kind=kind,
            handler_url=f"http://127.0.0.1:{self.handlers.port}{path}" if path else None,
            status=ServiceStatus.ACTIVE,
            **extra,  # type: ignore[arg-type]
        )
        self.entities.put(service)
        return service

    def routed_mo(self, service: PartnerService, billing: BillingModel = BillingModel.MO) -> StoredMo:
        mo = StoredMo(
            message_id=uuid.uuid4().hex,
            link_id="l-deliv",
            operator_id="op-deliv",
            operator_message_id=uuid.uuid4().hex,
            source="+447700900321",
            destination="4444",
            text="vote 1",
            state=MoState.ROUTED,
            received_at=datetime.now(UTC),
            msisdn="447700900321",
            full_text="VOTE 1",
            short_number="4444",
            prefix="VOTE",
            service_id=service.service_id,
            partner_id=self.partner_id,
            billing_model=billing,
        )
        DynamoInboundStore(
            self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"]
        ).put_if_absent(mo)
        return mo

    def route(self, mo: StoredMo) -> None:
        command = MoRouted(message_id=mo.message_id, service_id=mo.service_id or "")
        self.stack.client("sqs").send_message(
            QueueUrl=self.stack.outputs["DeliveryQueueUrl"], MessageBody=command.model_dump_json()
        )

    def final_record(self, mo: StoredMo, timeout_s: float = 30):  # type: ignore[no-untyped-def]
        return wait_for(
            lambda: (r := self.log.get(mo.message_id)) is not None and r.state.is_final and r,
            timeout_s=timeout_s,
        )


@pytest.fixture(scope="module")
def world(stack: Stack, handlers: HandlerServer) -> World:
    partner_id = f"p-{uuid.uuid4().hex[:8]}"
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    now = datetime.now(UTC)
    entities.put(
        Partner(
            partner_id=partner_id,
            name="Delivery test partner",
            email="partner@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
            callback_secrets=(SECRET,),
        )
    )
    entities.put(ApiKey(key_hash=hash_token(API_KEY), key_id="k1", partner_id=partner_id, created_at=now))
    return World(stack, handlers, partner_id)


def reply_on_mt_queue(world: World, mo: StoredMo) -> dict[str, object]:
    [message] = take_messages(
        world.stack, world.stack.outputs["MtQueueUrl"], lambda body: body.get("in_reply_to") == mo.message_id
    )
    body: dict[str, object] = json.loads(message["Body"])
    return body


def test_sync_post_handler_is_signed_and_its_reply_becomes_a_billed_mt(world: World) -> None:
    service = world.service(HandlerKind.HTTP_POST_SYNC, "/sync-json")
    mo = world.routed_mo(service, BillingModel.MT)
    with consumers_paused(world.stack, world.stack.outputs["MtQueueUrl"]):
        world.route(mo)
        record = world.final_record(mo)
        mt = reply_on_mt_queue(world, mo)
    assert (record.state, record.http_status, record.reply_mt_id) == (
        DeliveryState.DELIVERED,
        200,
        reply_mt_id(mo.message_id),
    )
    [request] = [r for r in world.handlers.seen("/sync-json") if mo.message_id.encode() in r.body]
    verify(request.body, request.headers["X-Smsbilling-Signature"], [SECRET], int(time.time()))
    sent = json.loads(request.body)
    assert (sent["msisdn"], sent["text"], sent["short_number"], sent["service_id"]) == (
        "+447700900321",
        "VOTE 1",
        "4444",
        service.service_id,
    )
    assert (mt["message_id"], mt["purpose"], mt["text"], mt["billed"]) == (
        reply_mt_id(mo.message_id),
        "reply",
        "Thanks from /sync-json",
        True,
    )
    assert (mt["source"], mt["destination"], mt["operator_id"], mt["link_id"]) == (
        "4444",
        "447700900321",
        "op-deliv",
        "l-deliv",
    )


def test_get_handler_is_signed_over_its_query(world: World) -> None:
    service = world.service(HandlerKind.HTTP_GET, "/get?key=partner-own")
    mo = world.routed_mo(service)
    with consumers_paused(world.stack, world.stack.outputs["MtQueueUrl"]):
        world.route(mo)
        world.final_record(mo)
        mt = reply_on_mt_queue(world, mo)
    [request] = [r for r in world.handlers.seen("/get") if mo.message_id in r.query]
    assert request.method == "GET" and request.query.startswith("key=partner-own&message_id=")
    verify(request.query.encode(), request.headers["X-Smsbilling-Signature"], [SECRET], int(time.time()))
    assert (mt["text"], mt["billed"]) == ("Thanks from /get", False)


def test_async_handler_then_the_reply_api(world: World) -> None:
    service = world.service(HandlerKind.HTTP_POST_ASYNC, "/async")
    mo = world.routed_mo(service, BillingModel.MT)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with consumers_paused(world.stack, world.stack.outputs["MtQueueUrl"]):
        world.route(mo)
        record = world.final_record(mo)
        assert (record.state, record.reason, record.reply_mt_id) == (
            DeliveryState.DELIVERED,
            "accepted",
            None,
        )

        path = f"/v1/messages/{mo.message_id}/reply"
        first = world.stack.api.post(path, json={"text": "Your code is 4711"}, headers=auth)
        assert first.status_code == 202, first.text
        assert first.json() == {
            "message_id": reply_mt_id(mo.message_id),
            "in_reply_to": mo.message_id,
            "billed": True,
        }
        assert (
            world.stack.api.post(path, json={"text": "Your code is 4711"}, headers=auth).json()
            == first.json()
        )
        conflict = world.stack.api.post(path, json={"text": "Another code"}, headers=auth)
        assert (conflict.status_code, conflict.json()["code"]) == (409, "reply_exists")
        messages = take_messages(
            world.stack,
            world.stack.outputs["MtQueueUrl"],
            lambda b: b.get("in_reply_to") == mo.message_id,
            count=3,
        )
    assert {json.loads(m["Body"])["text"] for m in messages} == {
        "Your code is 4711"
    }  # one reply, re-sent as is
    assert {json.loads(m["Body"])["message_id"] for m in messages} == {reply_mt_id(mo.message_id)}
    assert len(world.handlers.seen("/async")) >= 1
    unknown = world.stack.api.post("/v1/messages/no-such-mo/reply", json={"text": "x"}, headers=auth)
    assert unknown.status_code == 404


def test_a_handler_that_times_out_is_retried_with_the_next_attempt(world: World) -> None:
    service = world.service(HandlerKind.HTTP_POST_SYNC, "/slow")
    mo = world.routed_mo(service)
    started = time.monotonic()
    with consumers_paused(world.stack, world.stack.outputs["MtQueueUrl"]):
        world.route(mo)
        calling = wait_for(lambda: world.log.get(mo.message_id), timeout_s=40)
        assert calling.state is DeliveryState.CALLING and calling.lease_until is not None  # held while out
        retrying = wait_for(
            lambda: (
                (r := world.log.get(mo.message_id)) is not None and r.state is DeliveryState.RETRYING and r
            ),
            timeout_s=40,
        )
        assert (retrying.state, retrying.reason, retrying.attempts) == (DeliveryState.RETRYING, "timeout", 1)
        record = world.final_record(mo, timeout_s=60)
        mt = reply_on_mt_queue(world, mo)
    attempts = [
        r.headers["X-Smsbilling-Delivery-Attempt"]
        for r in world.handlers.seen("/slow")
        if mo.message_id.encode() in r.body
    ]
    assert attempts == ["1", "2"]
    assert (record.state, record.attempts, mt["text"]) == (DeliveryState.DELIVERED, 2, "Thanks from /slow")
    print(f"timeout -> retry -> reply took {time.monotonic() - started:.1f} s")


def test_a_garbage_answer_is_classified_and_dead_lettered_with_its_reason(world: World) -> None:
    service = world.service(HandlerKind.HTTP_POST_SYNC, "/garbage")
    mo = world.routed_mo(service)
    world.route(mo)
    record = world.final_record(mo)
    assert record.state is DeliveryState.DEAD and record.reason.startswith("unreadable reply")
    assert record.http_status == 200
    [dead] = take_messages(
        world.stack,
        world.stack.outputs["DeliveryDeadLetterQueueUrl"],
        lambda b: b.get("message_id") == mo.message_id,
    )
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "unreadable reply"
    assert "HTML markup" in dead["MessageAttributes"]["detail"]["StringValue"]
    assert json.loads(dead["Body"])["kind"] == "mo.routed"


def test_smpp_service_gets_an_outbox_item(world: World) -> None:
    system_id = f"sp{uuid.uuid4().hex[:8]}"
    service = world.service(HandlerKind.SMPP, smpp_system_id=system_id)
    mo = world.routed_mo(service)
    world.route(mo)
    record = world.final_record(mo)
    assert record.state is DeliveryState.QUEUED
    outbox = DynamoOutboxStore(world.stack.client("dynamodb"), world.stack.outputs["MessagesTableName"])
    [item] = outbox.lease(system_id, 10, now_ms=int(time.time() * 1000), lease_ms=1000)
    assert (item.message_id, item.source, item.destination, item.short_message) == (
        mo.message_id,
        "447700900321",
        "4444",
        b"VOTE 1",
    )
    outbox.release(item)


def test_a_command_ahead_of_the_mo_decision_is_looked_at_again_soon(world: World) -> None:
    """The MO processor publishes MoRouted before it writes ROUTED: delivery waits seconds, not the
    queue's visibility timeout (120 s)."""
    service = world.service(HandlerKind.HTTP_POST_SYNC, "/sync-early")
    routed = world.routed_mo(service)
    store = DynamoInboundStore(world.stack.client("dynamodb"), world.stack.outputs["MessagesTableName"])
    early = routed.model_copy(update={"message_id": uuid.uuid4().hex, "state": MoState.RECEIVED})
    store.put_if_absent(early)
    with consumers_paused(world.stack, world.stack.outputs["MtQueueUrl"]):
        world.route(early)
        time.sleep(3)
        assert world.log.get(early.message_id) is None and world.handlers.seen("/sync-early") == []
        decided_at = time.monotonic()
        assert store.decide(early.model_copy(update={"state": MoState.ROUTED}))
        record = world.final_record(early, timeout_s=60)
        waited_s = time.monotonic() - decided_at
        reply_on_mt_queue(world, early)
    assert record.state is DeliveryState.DELIVERED
    assert waited_s < 30, f"delivered {waited_s:.1f} s after the decision"
    print(f"delivered {waited_s:.1f} s after the MO was decided")
