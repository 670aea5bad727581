"""PartnerDispatcher over in-memory fakes: every handler kind, retries, dead letters, idempotency."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.memory_delivery_log import MemoryDeadLetters, MemoryDeliveryLog
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import MoRouted, MtPurpose
from smsbilling.domain.delivery_log import DeliveryRecord, DeliveryState, reply_mt_id
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
)
from smsbilling.domain.handler_protocol import RawResponse, Reason, TransportError
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.outbox import OutboxKind
from smsbilling.domain.signing import verify
from smsbilling.logic.partner_dispatch import (
    Disposition,
    MoNotDecided,
    PartnerDispatcher,
    ReplyRejected,
    request_reply,
)
from smsbilling.settings import PartnerDeliveryLimits

from .helpers import SECRET, FakeHandlerClient

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = PartnerDeliveryLimits(attempts_max=3, retry_backoff_base_s=4, retry_backoff_max_s=60)
MO_ID = "m" * 32
TEXT_OK = RawResponse(200, {"content-type": "text/plain"}, b"Thanks for voting")


def routed_mo(**overrides: object) -> StoredMo:
    fields: dict[str, object] = {
        "message_id": MO_ID,
        "link_id": "l1",
        "operator_id": "op",
        "operator_message_id": "k-1",
        "source": "+447700900123",
        "destination": "4444",
        "text": "vote 1",
        "state": MoState.ROUTED,
        "received_at": NOW - timedelta(seconds=5),
        "msisdn": "447700900123",
        "full_text": "VOTE 1",
        "short_number": "4444",
        "prefix": "VOTE",
        "service_id": "svc",
        "partner_id": "p1",
        "billing_model": BillingModel.MO,
    }
    fields.update(overrides)
    return StoredMo.model_validate(fields)


@dataclass
class World:
    mos: MemoryInboundStore = field(default_factory=MemoryInboundStore)
    entities: MemoryEntityStore = field(default_factory=MemoryEntityStore)
    log: MemoryDeliveryLog = field(default_factory=MemoryDeliveryLog)
    outbox: MemoryOutboxStore = field(default_factory=MemoryOutboxStore)
    events: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)
    dead: MemoryDeadLetters = field(default_factory=MemoryDeadLetters)
    client: FakeHandlerClient = field(default_factory=FakeHandlerClient)

    def dispatcher(self) -> PartnerDispatcher:
        return PartnerDispatcher(
            mos=self.mos,
            entities=self.entities,
            log=self.log,
            outbox=self.outbox,
            events=self.events,
            dead_letters=self.dead,
            client=self.client,
            limits=LIMITS,
            random=lambda: 0.5,
        )

    def dispatch(self, attempt: int = 1, *script: RawResponse | TransportError):  # type: ignore[no-untyped-def]
        self.client.script.extend(script)
        return self.dispatcher().dispatch(
            MoRouted(message_id=MO_ID, service_id="svc", attempt=attempt), now=NOW
        )


def world(
    kind: HandlerKind = HandlerKind.HTTP_POST_SYNC, mo: StoredMo | None = None, **service: object
) -> World:
    w = World()
    w.mos.put_if_absent(mo or routed_mo())
    w.entities.put(
        Partner(
            partner_id="p1",
            name="P",
            email="p@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=NOW,
            callback_secrets=(SECRET,),
        )
    )
    fields: dict[str, object] = {
        "service_id": "svc",
        "partner_id": "p1",
        "name": "Vote",
        "prefix": "VOTE",
        "short_numbers": ("op#4444",),
        "handler_kind": kind,
        "handler_url": "https://partner.example/h",
        "status": ServiceStatus.ACTIVE,
    }
    fields.update(service)
    w.entities.put(PartnerService.model_validate(fields))
    return w


def test_sync_reply_becomes_the_reply_mt_and_a_redelivery_calls_no_one() -> None:
    w = world()
    result = w.dispatch(1, TEXT_OK)
    assert (result.disposition, result.reply_mt_id) == (Disposition.DELIVERED, reply_mt_id(MO_ID))
    (sent,) = w.client.sent
    body = json.loads(sent.body)
    assert (body["message_id"], body["msisdn"], body["text"], body["prefix"]) == (
        MO_ID,
        "+447700900123",
        "VOTE 1",
        "VOTE",
    )
    verify(sent.body, sent.headers["X-Smsbilling-Signature"], [SECRET], int(NOW.timestamp()))
    (mt,) = w.events.mt
    assert (mt.message_id, mt.purpose, mt.in_reply_to, mt.text) == (
        reply_mt_id(MO_ID),
        MtPurpose.REPLY,
        MO_ID,
        "Thanks for voting",
    )
    assert (mt.source, mt.destination, mt.operator_id, mt.link_id, mt.partner_id, mt.service_id) == (
        "4444",
        "447700900123",
        "op",
        "l1",
        "p1",
        "svc",
    )
    assert mt.billed is False  # an MO-billed number: the MO was the charge
    record = w.log.get(MO_ID)
    assert record is not None and record.state is DeliveryState.DELIVERED and record.http_status == 200

    again = w.dispatch(1)  # SQS redelivers the same command
    assert again.disposition is Disposition.ALREADY_DONE
    assert len(w.client.sent) == 1 and len(w.events.mt) == 1


@pytest.mark.parametrize(
    ("billing", "billed"), [(b"", True), (b', "billing": "charge"', True), (b', "billing": "free"', False)]
)
def test_mt_billed_numbers_bill_the_reply_unless_the_handler_says_free(billing: bytes, billed: bool) -> None:
    w = world(mo=routed_mo(billing_model=BillingModel.MT))
    w.dispatch(
        1, RawResponse(200, {"content-type": "application/json"}, b'{"reply": "Code 1"' + billing + b"}")
    )
    assert [mt.billed for mt in w.events.mt] == [billed]


def test_no_reply_and_async_acknowledgement_request_no_mt() -> None:
    empty = world()
    assert empty.dispatch(1, RawResponse(204, {}, b"")).disposition is Disposition.DELIVERED
    async_ = world(HandlerKind.HTTP_POST_ASYNC)
    result = async_.dispatch(1, RawResponse(200, {"content-type": "text/plain"}, b"ignored body"))
    assert (result.disposition, result.reason) == (Disposition.DELIVERED, Reason.ACCEPTED.value)
    assert empty.events.mt == async_.events.mt == []


def test_get_handler_is_signed_over_the_query() -> None:
    w = world(HandlerKind.HTTP_GET, handler_url="https://partner.example/sms.php?key=1")
    w.dispatch(1, TEXT_OK)
    (sent,) = w.client.sent
    assert sent.method == "GET" and "key=1&message_id=" in sent.url
    verify(
        sent.url.split("?", 1)[1].encode(),
        sent.headers["X-Smsbilling-Signature"],
        [SECRET],
        int(NOW.timestamp()),
    )
    assert [mt.text for mt in w.events.mt] == ["Thanks for voting"]


def test_timeout_schedules_the_next_attempt_with_a_delay_then_the_retry_succeeds() -> None:
    w = world()
    result = w.dispatch(1, TransportError(Reason.TIMEOUT, "read timed out"))
    assert (result.disposition, result.reason, result.delay_s) == (
        Disposition.RETRY,
        "timeout",
        2,
    )  # 0.5 * 4 s
    [(retry, delay_s)] = w.events.delivery
    assert (retry.message_id, retry.attempt, delay_s) == (MO_ID, 2, 2)
    record = w.log.get(MO_ID)
    assert record is not None and (record.state, record.attempts) == (DeliveryState.RETRYING, 1)

    done = w.dispatch(2, TEXT_OK)
    assert done.disposition is Disposition.DELIVERED
    assert w.client.sent[-1].headers["X-Smsbilling-Delivery-Attempt"] == "2"
    assert len(w.events.mt) == 1


def test_retry_after_is_honoured() -> None:
    w = world()
    w.dispatch(1, RawResponse(503, {"retry-after": "30"}, b""))
    assert w.events.delivery[0][1] == 30


def test_retries_run_out_into_the_dead_letter_queue_with_the_reason() -> None:
    w = world()
    for attempt in (1, 2):
        assert w.dispatch(attempt, RawResponse(500, {}, b"")).disposition is Disposition.RETRY
    last = w.dispatch(3, RawResponse(500, {}, b""))
    assert (last.disposition, last.reason) == (Disposition.DEAD, "server error")
    [(command, reason, _detail)] = w.dead.sent
    assert (command.attempt, reason) == (3, "server error")
    record = w.log.get(MO_ID)
    assert record is not None and record.state is DeliveryState.DEAD and record.http_status == 500


def test_a_redriven_dead_letter_is_tried_again_and_settles_on_success() -> None:
    w = world()
    assert w.dispatch(1, RawResponse(404, {}, b"")).disposition is Disposition.DEAD
    [(command, _, _)] = w.dead.sent
    # the partner fixes its URL; staff redrive the command from the DLQ
    assert w.dispatch(command.attempt, TEXT_OK).disposition is Disposition.DELIVERED
    record = w.log.get(MO_ID)
    assert record is not None and record.state is DeliveryState.DELIVERED
    assert w.dispatch(command.attempt).disposition is Disposition.ALREADY_DONE
    assert len(w.client.sent) == 2 and len(w.events.mt) == 1


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (RawResponse(200, {"content-type": "text/html"}, b"<html>oops</html>"), "unreadable reply"),
        (RawResponse(200, {"content-type": "application/json"}, b'{"replyy": "x"}'), "unreadable reply"),
        (RawResponse(200, {"content-type": "image/png"}, b"\x89PNG"), "unreadable reply"),
        (RawResponse(200, {"content-type": "text/plain"}, b"x" * 1600), "reply too long"),
        (RawResponse(404, {}, b""), "rejected by handler"),
        (RawResponse(302, {"location": "https://elsewhere"}, b""), "redirect not followed"),
    ],
)
def test_garbage_answers_are_dead_lettered_at_once_with_their_class(
    response: RawResponse, reason: str
) -> None:
    w = world()
    result = w.dispatch(1, response)
    assert (result.disposition, result.reason) == (Disposition.DEAD, reason)
    assert w.events.mt == [] and w.events.delivery == []
    record = w.log.get(MO_ID)
    assert record is not None and record.reason.startswith(reason)


def test_no_signing_secret_is_a_permanent_failure() -> None:
    w = world()
    w.entities.put(
        Partner(partner_id="p1", name="P", email="p@example.com", status=PartnerStatus.ACTIVE, created_at=NOW)
    )
    result = w.dispatch(1)
    assert (result.disposition, result.reason) == (Disposition.DEAD, "no signing secret")
    assert w.client.sent == []


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"service_status": ServiceStatus.SUSPENDED}, "service svc is suspended"),
        ({"partner_status": PartnerStatus.SUSPENDED}, "partner p1 is suspended"),
        ({"mo": routed_mo(state=MoState.UNROUTED, service_id=None)}, "the MO is unrouted"),
        ({"mo": routed_mo(service_id="other")}, "not routed to svc"),
    ],
)
def test_undeliverable_targets_are_dead_lettered(change: dict[str, object], detail: str) -> None:
    w = world(mo=change.get("mo"), status=change.get("service_status", ServiceStatus.ACTIVE))  # type: ignore[arg-type]
    if "partner_status" in change:
        w.entities.put(
            Partner(
                partner_id="p1",
                name="P",
                email="p@example.com",
                status=change["partner_status"],  # type: ignore[arg-type]
                created_at=NOW,
                callback_secrets=(SECRET,),
            )
        )
    result = w.dispatch(1)
    assert result.disposition is Disposition.DEAD and w.client.sent == []
    [(_, reason, sent_detail)] = w.dead.sent
    assert reason == "not deliverable" and detail in sent_detail


def test_missing_mo_is_dead_lettered_and_undecided_mo_is_not_yet() -> None:
    w = World()
    assert w.dispatch(1).disposition is Disposition.DEAD and w.dead.sent[0][1] == "mo not found"
    undecided = world(mo=routed_mo(state=MoState.RECEIVED))
    with pytest.raises(MoNotDecided):
        undecided.dispatch(1)
    assert undecided.dead.sent == [] and undecided.client.sent == []


def test_smpp_service_gets_an_outbox_item_once() -> None:
    w = world(HandlerKind.SMPP, handler_url=None, smpp_system_id="partner1")
    assert w.dispatch(1).disposition is Disposition.QUEUED
    assert w.dispatch(1).disposition is Disposition.ALREADY_DONE
    [item] = w.outbox.lease("partner1", 10, now_ms=0, lease_ms=1000)
    assert (item.kind, item.message_id, item.source, item.destination) == (
        OutboxKind.MO,
        MO_ID,
        "447700900123",
        "4444",
    )
    assert (item.data_coding, item.short_message) == (0x00, b"VOTE 1")
    assert w.client.sent == []


def test_smpp_item_is_the_same_item_when_put_twice_and_ucs2_when_needed() -> None:
    w = world(
        HandlerKind.SMPP, mo=routed_mo(full_text="ГОЛОС 1"), handler_url=None, smpp_system_id="partner1"
    )
    w.dispatch(1)
    w.log.records.clear()  # as if the Lambda died before recording: the redelivery puts again
    w.dispatch(1)
    items = w.outbox.lease("partner1", 10, now_ms=0, lease_ms=1000)
    assert len(items) == 1 and items[0].data_coding == 0x08
    assert items[0].short_message.decode("utf-16-be") == "ГОЛОС 1"
    no_bind = world(HandlerKind.SMPP, handler_url=None)
    assert no_bind.dispatch(1).disposition is Disposition.DEAD


def test_crash_before_recording_calls_the_handler_again_but_one_reply_mt_id_exists() -> None:
    w = world()
    w.dispatch(1, TEXT_OK)
    w.log.records.clear()  # the Lambda died after publishing the reply, before recording
    w.dispatch(1, RawResponse(200, {"content-type": "text/plain"}, b"A different answer"))
    assert len(w.client.sent) == 2  # at least once to the partner, with the same message id
    assert {mt.message_id for mt in w.events.mt} == {reply_mt_id(MO_ID)}
    assert {mt.text for mt in w.events.mt} == {"Thanks for voting"}  # the first reply stands
    record = w.log.get(MO_ID)
    assert record is not None and "already requested" in record.reason


def test_a_duplicate_command_during_a_call_leaves_the_handler_alone() -> None:
    w = world()

    class Overlapping(FakeHandlerClient):
        """While the first call is out, SQS hands a duplicate MoRouted to another dispatcher."""

        def send(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            if len(self.sent) == 0:
                self.duplicate = w.dispatcher().dispatch(
                    MoRouted(message_id=MO_ID, service_id="svc"), now=NOW
                )
            return super().send(*args, **kwargs)

    w.client = Overlapping()
    assert w.dispatch(1, TEXT_OK).disposition is Disposition.DELIVERED
    assert w.client.duplicate.disposition is Disposition.ALREADY_DONE
    assert len(w.client.sent) == 1 and len(w.events.mt) == 1


def test_a_call_that_died_holding_the_handler_is_tried_again_once_its_lease_ran_out() -> None:
    w = world()
    w.log.record(  # an attempt claimed the handler, then its Lambda died mid-call
        DeliveryRecord(
            message_id=MO_ID,
            state=DeliveryState.CALLING,
            attempts=1,
            updated_at=NOW,
            lease_until=NOW + timedelta(seconds=15),
        )
    )
    assert w.dispatch(1).disposition is Disposition.ALREADY_DONE  # a duplicate while it may still run
    assert w.client.sent == []
    w.client.script.append(TEXT_OK)
    redelivered = w.dispatcher().dispatch(  # SQS redelivers after the visibility timeout
        MoRouted(message_id=MO_ID, service_id="svc"), now=NOW + timedelta(seconds=16)
    )
    assert redelivered.disposition is Disposition.DELIVERED and len(w.client.sent) == 1


# --- the API's async reply -------------------------------------------------------------------------


def reply(w: World, text: str, partner_id: str = "p1", message_id: str = MO_ID):  # type: ignore[no-untyped-def]
    return request_reply(
        message_id, text, partner_id=partner_id, mos=w.mos, log=w.log, events=w.events, limits=LIMITS, now=NOW
    )


def test_api_reply_is_idempotent_and_conflicts_on_another_text() -> None:
    w = world(HandlerKind.HTTP_POST_ASYNC, mo=routed_mo(billing_model=BillingModel.MT))
    first = reply(w, "  Your code is 1234 \r\n")
    assert (first.mt_id, first.text, first.billed, first.origin) == (
        reply_mt_id(MO_ID),
        "Your code is 1234",
        True,
        "api",
    )
    assert reply(w, "Your code is 1234") == first
    with pytest.raises(ReplyRejected) as caught:
        reply(w, "Another text")
    assert (caught.value.status, caught.value.code, caught.value.mt_id) == (409, "reply_exists", first.mt_id)
    assert {(mt.message_id, mt.text, mt.billed) for mt in w.events.mt} == {
        (first.mt_id, "Your code is 1234", True)
    }


def test_api_reply_after_a_sync_reply_is_a_conflict() -> None:
    w = world()
    w.dispatch(1, TEXT_OK)
    with pytest.raises(ReplyRejected) as caught:
        reply(w, "late async text")
    assert caught.value.code == "reply_exists"
    assert reply(w, "Thanks for voting").mt_id == reply_mt_id(MO_ID)


@pytest.mark.parametrize(
    ("mo", "partner_id", "message_id", "status", "code"),
    [
        (routed_mo(), "p2", MO_ID, 404, "not_found"),
        (routed_mo(), "p1", "nope", 404, "not_found"),
        (routed_mo(state=MoState.BLACKLISTED), "p1", MO_ID, 409, "not_routed"),
    ],
)
def test_api_reply_refusals(mo: StoredMo, partner_id: str, message_id: str, status: int, code: str) -> None:
    w = world(mo=mo)
    with pytest.raises(ReplyRejected) as caught:
        reply(w, "hello", partner_id=partner_id, message_id=message_id)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert w.events.mt == [] and w.log.replies == {}


@pytest.mark.parametrize("text", ["   ", "x" * 1531])
def test_api_reply_text_limits(text: str) -> None:
    w = world()
    with pytest.raises(ReplyRejected) as caught:
        reply(w, text)
    assert (caught.value.status, caught.value.code) == (422, "invalid_text")
