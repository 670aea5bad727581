"""adapters/http_operator.py: the JSON a part goes out as, and how every operator answer is read."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smsbilling.adapters.http_operator import HttpOperatorClient, read_answer, request_body
from smsbilling.domain.handler_protocol import RawResponse, Reason, TransportError
from smsbilling.ports import OperatorAnswer, OperatorPart
from smsbilling.settings import OperatorMtLimits

PART = OperatorPart(
    message_id="mt1",
    part=1,
    parts=2,
    source="4444",
    destination="447700900123",
    data_coding=0,
    text="Grüße €",
    udh_hex="050003aa0201",
    registered_delivery=1,
)


def test_the_body_is_compact_utf8_json_without_empty_fields() -> None:
    body = request_body(PART)
    assert (
        body
        == (
            '{"schema_version":1,"message_id":"mt1","part":1,"parts":2,"source":"4444",'
            '"destination":"447700900123","data_coding":0,"text":"Grüße €","udh_hex":"050003aa0201",'
            '"registered_delivery":1}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            200,
            b'{"operator_message_id": " abc123 "}',
            OperatorAnswer(accepted=True, operator_message_id="abc123"),
        ),
        (
            202,
            b'{"operator_message_id": "9", "extra": 1}',
            OperatorAnswer(accepted=True, operator_message_id="9"),
        ),
        (200, b"ok", OperatorAnswer(accepted=False, error="http:200 invalid answer", permanent=True)),
        (
            200,
            b'{"operator_message_id": 12}',
            OperatorAnswer(accepted=False, error="http:200 invalid answer"),
        ),
        (
            200,
            b'{"operator_message_id": ""}',
            OperatorAnswer(accepted=False, error="http:200 invalid answer"),
        ),
        (
            200,
            json.dumps({"operator_message_id": "x" * 65}).encode(),
            OperatorAnswer(accepted=False, error="http:200 invalid answer"),
        ),
        (400, b"", OperatorAnswer(accepted=False, error="http:400", permanent=True)),
        (302, b"", OperatorAnswer(accepted=False, error="http:302", permanent=True)),
        (408, b"", OperatorAnswer(accepted=False, error="http:408", permanent=False)),
        (429, b"", OperatorAnswer(accepted=False, error="http:429", permanent=False)),
        (503, b"<html>", OperatorAnswer(accepted=False, error="http:503", permanent=False)),
    ],
)
def test_answers_are_read(status: int, body: bytes, expected: OperatorAnswer) -> None:
    assert read_answer(status, body) == expected


class ScriptedTransport:
    def __init__(self, outcome: RawResponse | TransportError) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str, dict[str, str], bytes, float, int]] = []

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout_s: float,
        body_bytes_max: int,
    ) -> RawResponse:
        self.calls.append((method, url, dict(headers), body, timeout_s, body_bytes_max))
        if isinstance(self.outcome, TransportError):
            raise self.outcome
        return self.outcome


def test_transport_failures_are_retried_except_a_url_we_will_not_call() -> None:
    limits = OperatorMtLimits(request_timeout_s=1.5, response_body_bytes_max=300)
    timeout = HttpOperatorClient(limits, ScriptedTransport(TransportError(Reason.TIMEOUT, "slow")))
    answer = timeout.submit("https://smsc.example/mt", "t", PART)
    assert not answer.accepted and not answer.permanent and "timeout" in answer.error

    refused = HttpOperatorClient(limits, ScriptedTransport(TransportError(Reason.INVALID_URL, "ftp")))
    assert refused.submit("ftp://x", "t", PART).permanent

    transport = ScriptedTransport(RawResponse(200, {}, b"x" * 301))
    huge = HttpOperatorClient(limits, transport).submit("https://smsc.example/mt", None, PART)
    assert huge == OperatorAnswer(accepted=False, error="http:200 answer too large", permanent=True)
    method, _, headers, _, timeout_s, body_max = transport.calls[0]
    assert (method, timeout_s, body_max) == ("POST", 1.5, 300) and "Authorization" not in headers


@pytest.fixture
def smsc() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback operator: answers each POST with an id, records what it got."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            answer = json.dumps({"operator_message_id": f"op-{len(received)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/mt", received
    server.shutdown()
    server.server_close()


def test_a_real_post_over_loopback(smsc: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, received = smsc
    answer = HttpOperatorClient(OperatorMtLimits()).submit(url, "secret-token", PART)
    assert answer == OperatorAnswer(accepted=True, operator_message_id="op-1")
    [(headers, body)] = received
    assert headers["authorization"] == "Bearer secret-token"
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["text"] == "Grüße €"
