"""Partner delivery over real HTTP: the stdlib client against partner handlers on 127.0.0.1.

The handlers verify signatures with the snippet published in docs/partner-callbacks.md, record
what they received, and answer as a partner would (or would not). Each test asserts both sides:
what the handler saw and how the platform classified the attempt.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.domain.entities import HandlerKind
from smsbilling.domain.handler_protocol import (
    Billing,
    DeliveryResult,
    HandlerAnswer,
    Outcome,
    Reason,
    RetryLater,
    TransportError,
    plan_next,
)
from smsbilling.logic.partner_delivery import DeliveryRequest, deliver_mo
from smsbilling.settings import PartnerDeliveryLimits
from tests.unit.delivery.helpers import make_mo

pytestmark = pytest.mark.interop

OLD_SECRET, SECRET = "whsec_old_0123456789abcdef", "whsec_new_fedcba9876543210"
LIMITS = PartnerDeliveryLimits(request_timeout_s=1.0)
DOC = Path(__file__).resolve().parents[2] / "docs" / "partner-callbacks.md"


def docs_verifier() -> Callable[[bytes, str, list[str]], bool]:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify_smsbilling"]  # type: ignore[no-any-return]


VERIFY = docs_verifier()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def fields(self) -> dict[str, Any]:
        return dict(parse_qsl(self.query)) if self.method == "GET" else json.loads(self.body)


class PartnerServer(ThreadingHTTPServer):
    def __init__(self, partner: Partner) -> None:
        super().__init__(("127.0.0.1", 0), PartnerHandler)
        self.partner = partner

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hangs up on purpose in the timeout tests


class PartnerHandler(BaseHTTPRequestHandler):
    """A partner's handlers; the path picks the behaviour. It holds only the new secret."""

    server: PartnerServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def handle_any(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        raw = query.encode() if self.command == "GET" else body
        verified = VERIFY(raw, self.headers.get("X-Smsbilling-Signature", ""), [SECRET])
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = Received(self.command, path, query, headers, body, verified)
        self.server.partner.received.append(received)
        getattr(self, "route_" + path.strip("/"))(received)

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_get(self, r: Received) -> None:
        if not r.verified:
            return self.answer(401)
        reply = f"Thanks for: {r.fields['text']}".encode()
        return self.answer(200, reply, Content_Type="text/plain; charset=utf-8")

    def route_sync(self, r: Received) -> None:
        reply = {"reply": f"Got {r.fields['text']}", "billing": "free"}
        self.answer(200, json.dumps(reply).encode(), Content_Type="application/json")

    def route_async(self, r: Received) -> None:
        self.answer(202)

    def route_slow(self, r: Received) -> None:
        self.server.partner.release.wait(5)
        self.answer(200, b"too late", Content_Type="text/plain")

    def route_drip(self, r: Received) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(50):
            if self.server.partner.release.wait(0.1):
                return
            self.wfile.write(b"x")
            self.wfile.flush()

    def route_fail500(self, r: Received) -> None:
        self.answer(500, b"oops", Content_Type="text/plain")

    def route_fail400(self, r: Received) -> None:
        self.answer(400, b"bad request", Content_Type="text/plain")

    def route_garbage(self, r: Received) -> None:
        self.answer(200, b"\xff\xfe\x00\x81garbage\xc3", Content_Type="text/plain")

    def route_busy(self, r: Received) -> None:
        self.answer(429, b"slow down", Retry_After="120")

    def route_moved(self, r: Received) -> None:
        self.answer(302, Location=self.server.partner.url("/sync"))

    def route_big(self, r: Received) -> None:
        self.answer(200, b"x" * 100_000, Content_Type="text/plain")


class Partner:
    """One loopback server (optionally TLS) and what it received."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.release = threading.Event()
        self.server = PartnerServer(self)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if context is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def for_message(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.headers.get("x-smsbilling-message-id") == message_id]

    def __enter__(self) -> Partner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with Partner() as running:
        yield running


def attempt(
    url: str, kind: HandlerKind, client: UrllibHandlerClient | None = None, text: str = "ABC hello & Привет"
) -> tuple[DeliveryResult, str, float]:
    mo = make_mo(message_id=f"mo_{uuid.uuid4().hex}", text=text, is_test=True)
    started = time.monotonic()
    result = deliver_mo(
        DeliveryRequest(mo, kind, url),
        client=client or UrllibHandlerClient(),
        secrets=[OLD_SECRET, SECRET],  # mid-rotation: the partner already holds only the new one
        now=int(time.time()),
        limits=LIMITS,
    )
    return result, mo.message_id, time.monotonic() - started


def only(partner: Partner, message_id: str) -> Received:
    (received,) = partner.for_message(message_id)
    assert received.verified, "the documented verifier rejected the platform's signature"
    return received


def test_get_handler_verifies_and_answers_text(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/get?key=partner-own"), HandlerKind.HTTP_GET)
    assert result == DeliveryResult(
        Outcome.SUCCESS, Reason.OK, 200, answer=HandlerAnswer("Thanks for: ABC hello & Привет")
    )
    received = only(partner, message_id)
    assert (received.method, received.path) == ("GET", "/get")
    assert received.fields == {
        "key": "partner-own",
        "message_id": message_id,
        "msisdn": "+447700900123",
        "short_number": "4444",
        "text": "ABC hello & Привет",
        "operator": "demo-mobile",
        "service_id": "svc-abc",
        "prefix": "ABC",
        "test": "1",
        "timestamp": "2024-06-10T06:13:20Z",
    }
    assert received.headers["x-smsbilling-signature"].count("v1=") == 2


def test_post_sync_handler_answers_json(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/sync"), HandlerKind.HTTP_POST_SYNC)
    assert result.answer == HandlerAnswer("Got ABC hello & Привет", Billing.FREE)
    received = only(partner, message_id)
    assert received.headers["content-type"] == "application/json"
    assert received.fields["schema_version"] == 1 and received.fields["test"] is True


def test_post_async_handler_acknowledges_with_202(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/async"), HandlerKind.HTTP_POST_ASYNC)
    assert result == DeliveryResult(Outcome.SUCCESS, Reason.ACCEPTED, 202)
    assert only(partner, message_id).fields["message_id"] == message_id


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_a_handler_past_the_total_timeout_is_retryable(partner: Partner, path: str) -> None:
    result, message_id, elapsed = attempt(partner.url(path), HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason) == (Outcome.RETRYABLE, Reason.TIMEOUT)
    assert LIMITS.request_timeout_s * 0.9 <= elapsed < LIMITS.request_timeout_s + 1.0
    only(partner, message_id)


def test_500_is_retryable(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/fail500"), HandlerKind.HTTP_GET)
    assert (result.outcome, result.reason, result.status) == (Outcome.RETRYABLE, Reason.SERVER_ERROR, 500)
    only(partner, message_id)


def test_400_is_permanent(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/fail400"), HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason, result.status) == (Outcome.PERMANENT, Reason.REJECTED, 400)
    only(partner, message_id)


def test_garbage_from_a_sync_handler_is_permanent_unreadable_reply(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/garbage"), HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, "unreadable reply")
    only(partner, message_id)


def test_429_retry_after_is_honoured(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/busy"), HandlerKind.HTTP_GET)
    assert (result.outcome, result.reason, result.retry_after_s) == (
        Outcome.RETRYABLE,
        Reason.RATE_LIMITED,
        120,
    )
    step = plan_next(result, 1, limits=LIMITS, random=lambda: 0.0)
    assert isinstance(step, RetryLater) and step.delay_s == 120
    only(partner, message_id)


def test_redirects_are_not_followed(partner: Partner) -> None:
    result, message_id, _ = attempt(partner.url("/moved"), HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason, result.status) == (Outcome.PERMANENT, Reason.REDIRECT, 302)
    assert [r.path for r in partner.for_message(message_id)] == ["/moved"]


def test_an_oversized_answer_is_read_only_up_to_the_limit(partner: Partner) -> None:
    result, _, _ = attempt(partner.url("/big"), HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, Reason.RESPONSE_TOO_LARGE)
    raw = UrllibHandlerClient().send("GET", partner.url("/big"), {}, b"", timeout_s=2, body_bytes_max=100)
    assert len(raw.body) == 101


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result, _, _ = attempt(f"http://127.0.0.1:{port}/h", HandlerKind.HTTP_POST_SYNC)
    assert (result.outcome, result.reason) == (Outcome.RETRYABLE, Reason.CONNECTION_FAILED)


def test_the_client_refuses_other_schemes_and_unverified_tls() -> None:
    with pytest.raises(TransportError) as caught:
        UrllibHandlerClient().send("GET", "file:///etc/passwd", {}, b"", timeout_s=1, body_bytes_max=10)
    assert caught.value.reason is Reason.INVALID_URL
    with pytest.raises(ValueError, match="verifies"):
        UrllibHandlerClient(ssl_context=ssl._create_unverified_context())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_verified(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    with Partner(server_context) as tls_partner:
        untrusted, message_id, _ = attempt(tls_partner.url("/sync"), HandlerKind.HTTP_POST_SYNC)
        assert (untrusted.outcome, untrusted.reason) == (Outcome.RETRYABLE, Reason.TLS_FAILED)
        assert tls_partner.for_message(message_id) == []
        trusting = UrllibHandlerClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
        trusted, message_id, _ = attempt(tls_partner.url("/sync"), HandlerKind.HTTP_POST_SYNC, trusting)
        assert trusted.outcome is Outcome.SUCCESS
        only(tls_partner, message_id)
