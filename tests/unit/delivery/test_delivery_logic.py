"""deliver_mo over the HttpClient port, with the in-memory fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from smsbilling.domain.entities import HandlerKind, PartnerService
from smsbilling.domain.handler_protocol import (
    Billing,
    DeliveryResult,
    HandlerAnswer,
    Outcome,
    RawResponse,
    Reason,
    TransportError,
)
from smsbilling.domain.signing import verify
from smsbilling.logic.partner_delivery import DeliveryRequest, deliver_mo
from smsbilling.settings import PartnerDeliveryLimits

from .helpers import NOW, SECRET, FakeHandlerClient, make_mo

LIMITS = PartnerDeliveryLimits(request_timeout_s=3.5, response_body_bytes_max=2048)


def deliver(
    request: DeliveryRequest, *script: RawResponse | TransportError
) -> tuple[DeliveryResult, FakeHandlerClient]:
    client = FakeHandlerClient(list(script))
    return deliver_mo(request, client=client, secrets=[SECRET], now=NOW, limits=LIMITS), client


def test_get_handler_reply() -> None:
    request = DeliveryRequest(make_mo(), HandlerKind.HTTP_GET, "https://p.example/h?key=1", attempt=3)
    result, client = deliver(request, RawResponse(200, {"content-type": "text/plain"}, b"Thanks\n"))
    assert result == DeliveryResult(Outcome.SUCCESS, Reason.OK, 200, answer=HandlerAnswer("Thanks"))
    (sent,) = client.sent
    assert (sent.method, sent.body, sent.timeout_s, sent.body_bytes_max) == ("GET", b"", 3.5, 2048)
    query = urlsplit(sent.url).query
    assert dict(parse_qsl(query))["msisdn"] == "+447700900123"
    assert sent.headers["X-Smsbilling-Delivery-Attempt"] == "3"
    verify(query.encode(), sent.headers["X-Smsbilling-Signature"], [SECRET], NOW)


def test_post_sync_handler_json_reply() -> None:
    request = DeliveryRequest(make_mo(), HandlerKind.HTTP_POST_SYNC, "https://p.example/h")
    body = b'{"reply": "Your code: 1234", "billing": "charge"}'
    result, client = deliver(request, RawResponse(200, {"Content-Type": "application/json"}, body))
    assert result.answer == HandlerAnswer("Your code: 1234", Billing.CHARGE)
    (sent,) = client.sent
    assert json.loads(sent.body)["message_id"] == make_mo().message_id
    verify(sent.body, sent.headers["X-Smsbilling-Signature"], [SECRET], NOW)


def test_post_async_acknowledged() -> None:
    request = DeliveryRequest(make_mo(), HandlerKind.HTTP_POST_ASYNC, "https://p.example/h")
    result, _ = deliver(request, RawResponse(202, {}, b""))
    assert result == DeliveryResult(Outcome.SUCCESS, Reason.ACCEPTED, 202)


def test_an_oversized_body_is_detected_from_the_extra_byte() -> None:
    request = DeliveryRequest(make_mo(), HandlerKind.HTTP_POST_SYNC, "https://p.example/h")
    result, _ = deliver(request, RawResponse(200, {}, b"x" * 10_000))
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, Reason.RESPONSE_TOO_LARGE)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (TransportError(Reason.TIMEOUT, "read"), Outcome.RETRYABLE),
        (TransportError(Reason.CONNECTION_FAILED, "refused"), Outcome.RETRYABLE),
        (TransportError(Reason.TLS_FAILED, "certificate"), Outcome.RETRYABLE),
        (TransportError(Reason.INVALID_RESPONSE, "bad status line"), Outcome.RETRYABLE),
        (TransportError(Reason.INVALID_URL, "scheme"), Outcome.PERMANENT),
    ],
)
def test_transport_errors(error: TransportError, outcome: Outcome) -> None:
    result, _ = deliver(DeliveryRequest(make_mo(), HandlerKind.HTTP_POST_SYNC, "https://p.example/h"), error)
    assert result == DeliveryResult(outcome, error.reason, detail=error.detail)


@pytest.mark.parametrize(
    ("kind", "url", "reason"),
    [
        (HandlerKind.HTTP_GET, None, Reason.INVALID_URL),
        (HandlerKind.HTTP_GET, "gopher://p.example/", Reason.INVALID_URL),
        (HandlerKind.HTTP_GET, "https://p.example/?msisdn=1", Reason.INVALID_URL),
        (HandlerKind.SMPP, "https://p.example/", Reason.NOT_HTTP),
    ],
)
def test_unusable_configuration_is_permanent_and_sends_nothing(
    kind: HandlerKind, url: str | None, reason: Reason
) -> None:
    result, client = deliver(DeliveryRequest(make_mo(), kind, url))
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, reason)
    assert client.sent == []


def test_no_signing_secret_is_permanent_and_sends_nothing() -> None:
    client = FakeHandlerClient()
    request = DeliveryRequest(make_mo(), HandlerKind.HTTP_POST_SYNC, "https://p.example/h")
    result = deliver_mo(request, client=client, secrets=[], now=NOW, limits=LIMITS)
    assert (result.outcome, result.reason, result.detail) == (
        Outcome.PERMANENT,
        Reason.NO_SIGNING_SECRET,
        "no_secrets",
    )
    assert client.sent == []


def test_request_for_a_service() -> None:
    service = PartnerService(
        service_id="svc-abc",
        partner_id="p1",
        name="ABC",
        prefix="ABC",
        short_numbers=("demo#4444",),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="https://p.example/mo",
    )
    request = DeliveryRequest.for_service(make_mo(received_at=datetime.now(UTC)), service, attempt=2)
    assert (request.kind, request.url, request.attempt) == (
        HandlerKind.HTTP_POST_ASYNC,
        "https://p.example/mo",
        2,
    )
