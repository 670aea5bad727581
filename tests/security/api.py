"""One way to call the API for the security suites: in-process (the app's resolver) or over HTTP.

A case is written once against :class:`Client` and runs against either transport: the app in this
process over in-memory stores (``InProcess``), or the deployed local stack (``OverHttp``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    def __str__(self) -> str:
        return f"{self.status} {self.headers.get('content-type', '')} {json.dumps(self.body)[:500]}"


class Transport(Protocol):
    def request(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer: ...


def _decode(text: str | bytes | None, content_type: str) -> Any:
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _encode(body: Any) -> str | None:
    if body is None or isinstance(body, str):
        return body
    return json.dumps(body)


class LambdaContext:
    function_name = "security-suite"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:security-suite"
    aws_request_id = "security-suite"


@dataclass
class InProcess:
    """API Gateway REST events through ``app.resolve``; ``guard`` runs first (e.g. refuses unwired routers)."""

    app: Any
    guard: Callable[[str, str], None] = lambda method, path: None

    def request(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        self.guard(method, path)
        split = urlsplit(path)
        query = {name: values for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        all_headers = {"Content-Type": "application/json"} | headers
        event = {
            "resource": split.path,
            "path": split.path,
            "httpMethod": method,
            "headers": all_headers,
            "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": uuid.uuid4().hex,
                "stage": "Prod",
                "httpMethod": method,
                "path": f"/Prod{split.path}",
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": _encode(body),
            "isBase64Encoded": False,
        }
        answer = self.app.resolve(event, LambdaContext())
        out = {name.lower(): value for name, value in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            if values:
                out[name.lower()] = values[-1]
        return Answer(answer["statusCode"], out, _decode(answer.get("body"), out.get("content-type", "")))


@dataclass
class OverHttp:
    client: httpx.Client

    def request(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        content = _encode(body)
        all_headers = ({"Content-Type": "application/json"} if content is not None else {}) | headers
        response = self.client.request(method, path.lstrip("/"), content=content, headers=all_headers)
        out = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status_code, out, _decode(response.content, out.get("content-type", "")))


@dataclass
class Client:
    """Calls as one credential (``key``: ``Authorization: Bearer <key>``; None: anonymous)."""

    transport: Transport
    key: str | None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        all_headers = dict(self.extra_headers) | (headers or {})
        if self.key is not None:
            all_headers["Authorization"] = f"Bearer {self.key}"
        return self.transport.request(method.upper(), path, body, all_headers)

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.call("POST", path, body, headers)

    def as_key(self, key: str | None) -> Client:
        return Client(self.transport, key, self.extra_headers)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that hands every request to an in-process transport.

    Lets HTTP clients (schemathesis, the example scripts) talk to the app over the fakes.
    """

    def __init__(self, transport: Transport) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.transport = transport

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                try:
                    answer = outer.transport.request(
                        self.command, self.path, raw.decode("utf-8", "replace") if raw else None, headers
                    )
                except Exception as error:  # an unhandled error: what Lambda would answer with a 5xx
                    import traceback

                    text = "".join(traceback.format_exception(error))
                    answer = Answer(500, {"content-type": "text/plain"}, text)
                body = answer.body
                payload = (
                    b""
                    if body is None
                    else (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
                )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    if name not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:  # do_GET, do_POST, ... and any other method
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, *_: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
