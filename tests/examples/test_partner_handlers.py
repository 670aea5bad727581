"""The example partner handlers (examples/python, examples/php where PHP is installed) against the
platform's own delivery code: the request it builds and signs (domain/handler_protocol.py,
domain/signing.py), sent by its HTTP client (adapters/http_delivery.py), the answer read by its
classifier. A good signature gets the reply; a bad, stale, future or foreign one is refused (401)
and, for the platform, a permanent rejection.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.domain.entities import HandlerKind
from smsbilling.domain.handler_protocol import (
    DeliveryResult,
    HandlerMo,
    HandlerRequest,
    Outcome,
    Reason,
    build_request,
    classify,
)
from smsbilling.domain.signing import SIGNATURE_HEADER, sign
from smsbilling.settings import PartnerDeliveryLimits
from tests.examples.runners import EXAMPLES, HANDLERS, ROOT, handler_server

SECRET = "whsec_example_0123456789abcdef0123"
NEW_SECRET = "whsec_example_rotated_abcdef012345"
LIMITS = PartnerDeliveryLimits()
SYNC_KINDS = [HandlerKind.HTTP_GET, HandlerKind.HTTP_POST_SYNC]


@pytest.fixture(params=HANDLERS)
def handler(request: pytest.FixtureRequest) -> Iterator[str]:
    """The example handler holding two secrets (mid-rotation), on a loopback port."""
    with handler_server(request.param, [SECRET, NEW_SECRET]) as url:
        yield url


def mo(text: str = "QUIZ blue whale", message_id: str | None = None) -> HandlerMo:
    return HandlerMo(
        message_id=message_id or f"mo_{time.time_ns()}",
        msisdn="+447700900123",
        short_number="4444",
        text=text,
        operator_id="demo-operator",
        received_at=datetime.now(UTC),
        service_id="svc-quiz",
        prefix="QUIZ",
    )


def deliver(request: HandlerRequest, kind: HandlerKind) -> DeliveryResult:
    raw = UrllibHandlerClient().send(
        request.method,
        request.url,
        dict(request.headers),
        request.body,
        timeout_s=LIMITS.request_timeout_s,
        body_bytes_max=LIMITS.response_body_bytes_max,
    )
    return classify(raw.status, raw.headers, raw.body, kind=kind, now=int(time.time()), limits=LIMITS)


@pytest.mark.parametrize("kind", SYNC_KINDS, ids=lambda kind: kind.value)
def test_a_signed_mo_gets_the_reply(handler: str, kind: HandlerKind) -> None:
    request = build_request(mo(), kind, f"{handler}/mo?site=1", secrets=[SECRET], now=int(time.time()))
    result = deliver(request, kind)
    assert (result.outcome, result.reason) == (Outcome.SUCCESS, Reason.OK), result
    assert result.answer is not None
    assert result.answer.reply_text == "Thank you! Your code for blue whale is 4711."


@pytest.mark.parametrize("kind", SYNC_KINDS, ids=lambda kind: kind.value)
def test_the_new_secret_of_a_rotation_is_accepted(handler: str, kind: HandlerKind) -> None:
    request = build_request(mo(), kind, f"{handler}/mo", secrets=[NEW_SECRET], now=int(time.time()))
    assert deliver(request, kind).outcome is Outcome.SUCCESS


@pytest.mark.parametrize("kind", SYNC_KINDS, ids=lambda kind: kind.value)
# A minute outside the handlers' 300 s window: these run against the real clock, and a future
# stamp comes nearer the window while the request travels (the boundary itself is tested with a
# fixed clock in tests/unit/delivery/test_delivery_signing.py).
@pytest.mark.parametrize("skew_s", [-360, 360], ids=["stale", "future"])
def test_a_signature_outside_the_window_is_refused(handler: str, kind: HandlerKind, skew_s: int) -> None:
    request = build_request(mo(), kind, f"{handler}/mo", secrets=[SECRET], now=int(time.time()) + skew_s)
    result = deliver(request, kind)
    assert (result.outcome, result.reason, result.status) == (Outcome.PERMANENT, Reason.REJECTED, 401)


@pytest.mark.parametrize("kind", SYNC_KINDS, ids=lambda kind: kind.value)
def test_a_foreign_secret_is_refused(handler: str, kind: HandlerKind) -> None:
    request = build_request(
        mo(), kind, f"{handler}/mo", secrets=["whsec_someone_else_0123456789"], now=int(time.time())
    )
    assert deliver(request, kind).status == 401


def test_a_tampered_body_is_refused(handler: str) -> None:
    request = build_request(
        mo(), HandlerKind.HTTP_POST_SYNC, f"{handler}/mo", secrets=[SECRET], now=int(time.time())
    )
    tampered = HandlerRequest(
        request.method, request.url, request.headers, request.body.replace(b"blue whale", b"free money")
    )
    assert deliver(tampered, HandlerKind.HTTP_POST_SYNC).status == 401


def test_a_tampered_query_is_refused(handler: str) -> None:
    request = build_request(
        mo(), HandlerKind.HTTP_GET, f"{handler}/mo", secrets=[SECRET], now=int(time.time())
    )
    tampered = HandlerRequest(
        request.method, request.url.replace("4444", "5555"), request.headers, request.body
    )
    assert deliver(tampered, HandlerKind.HTTP_GET).status == 401


def test_an_unsigned_request_is_refused(handler: str) -> None:
    request = build_request(
        mo(), HandlerKind.HTTP_POST_SYNC, f"{handler}/mo", secrets=[SECRET], now=int(time.time())
    )
    unsigned = HandlerRequest(
        request.method,
        request.url,
        tuple((name, value) for name, value in request.headers if name != SIGNATURE_HEADER),
        request.body,
    )
    assert deliver(unsigned, HandlerKind.HTTP_POST_SYNC).status == 401


def test_a_redelivery_gets_the_same_reply(handler: str) -> None:
    first = mo("QUIZ first", message_id="mo_redelivered")
    again = mo("QUIZ first", message_id="mo_redelivered")
    replies = [
        deliver(
            build_request(
                m, HandlerKind.HTTP_POST_SYNC, f"{handler}/mo", secrets=[SECRET], now=int(time.time())
            ),
            HandlerKind.HTTP_POST_SYNC,
        ).answer
        for m in (first, again)
    ]
    assert replies[0] == replies[1] and replies[0] is not None


def test_a_signed_status_callback_is_acknowledged(handler: str) -> None:
    """The MT status callback (docs/partner-callbacks.md), signed as logic/mt_events.py signs it."""
    body = json.dumps(
        {
            "schema_version": 1,
            "message_id": "3f0c9c2e8a6b4f7d9e1a2b3c4d5e6f70",
            "status": "delivered",
            "reason": "delivered",
            "in_reply_to": None,
            "service_id": "svc-quiz",
            "purpose": "api",
            "source": "4444",
            "destination": "447700900123",
            "parts": 1,
            "billed": False,
            "final_at": "2026-11-22T12:00:05.000Z",
        },
        separators=(",", ":"),
    ).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, [SECRET], int(time.time()))}
    client = UrllibHandlerClient()
    answer = client.send("POST", f"{handler}/status", headers, body, timeout_s=10, body_bytes_max=1024)
    assert 200 <= answer.status < 300
    forged = {**headers, SIGNATURE_HEADER: sign(body, ["whsec_someone_else_0123456789"], int(time.time()))}
    assert (
        client.send("POST", f"{handler}/status", forged, body, timeout_s=10, body_bytes_max=1024).status
        == 401
    )


def _function(source: str, name: str) -> str:
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.dump(node)


def test_the_python_example_verifies_as_the_docs_show() -> None:
    """examples/python/handler.py carries the very verifier docs/partner-callbacks.md publishes."""
    docs = (ROOT / "docs" / "partner-callbacks.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL)
    documented = [s for s in snippets if "def verify_smsbilling" in s]
    assert documented, "docs/partner-callbacks.md lost its verifier snippet"
    example = (EXAMPLES / "python" / "handler.py").read_text(encoding="utf-8")
    assert _function(example, "verify_smsbilling") == _function(documented[0], "verify_smsbilling")
