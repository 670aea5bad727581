"""The demo's outside world for `make run` and the loop tests: a partner's handler and an HTTP operator.

Both are small threaded HTTP servers on 127.0.0.1 and a free port, written the way a partner or an
operator would write them against our documented contracts (docs/partner-callbacks.md,
docs/operator-http.md), with no platform code on the receiving side except the signature check a
partner would copy from the docs.

* :class:`DemoPartner` answers every MO it receives with a reply (sync kinds) and records the signed
  status callbacks for its MTs.
* :class:`DemoOperator` takes MT parts posted to its ``mt_url``, answers each with an operator
  message id and, like a real SMSC, reports delivery a moment later by posting a DLR to the
  platform's operator HTTP link.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from smsbilling.domain.signing import SignatureError, verify

SIGNATURE_HEADER = "X-Smsbilling-Signature"


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


def _signed(raw: bytes, header: str | None, secrets: list[str]) -> bool:
    if not header or not secrets:
        return False
    try:
        verify(raw, header, secrets, now=int(time.time()))
    except SignatureError:
        return False
    return True


@dataclass
class _Server:
    """A loopback HTTP server in a daemon thread that records every request."""

    answer: Callable[[Received], tuple[int, str, bytes]]
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                raw = body if self.command == "POST" else split.query.encode()
                request = Received(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    signature_ok=_signed(raw, self.headers.get(SIGNATURE_HEADER), outer.secrets),
                )
                status, content_type, payload = outer.answer(request)
                with outer._lock:
                    outer.received.append(request)
                    outer._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, *_: object) -> None:  # quiet: the platform logs its side
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait_for(self, predicate: Callable[[Received], bool], timeout_s: float = 60.0) -> Received:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                found = next((r for r in self.received if predicate(r)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching request within {timeout_s} s")
                self._lock.wait(left)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class DemoPartner(_Server):
    """A partner's handler: ``/mo`` answers with a reply text, ``/status`` records MT status callbacks."""

    def __init__(self, secrets: list[str], reply: Callable[[str], str | None] | None = None) -> None:
        self._reply = reply or (lambda text: f"Thank you! We got: {text}")
        super().__init__(answer=self._answer, secrets=secrets)

    def _answer(self, request: Received) -> tuple[int, str, bytes]:
        if not request.signature_ok:
            return 401, "text/plain", b"bad signature"
        if request.path.startswith("/status"):
            return 204, "text/plain", b""
        text = request.query.get("text") if request.method == "GET" else request.json().get("text")
        if request.path.startswith("/async"):
            return 202, "text/plain", b""
        reply = self._reply(text or "")
        return 200, "text/plain; charset=utf-8", (reply or "").encode()


class DemoOperator(_Server):
    """An operator's HTTP SMSC: accepts MT parts, then posts a ``delivered`` DLR for each.

    ``dlr_url`` and ``dlr_token`` are the platform's operator HTTP link DLR endpoint and its token;
    ``dlr_delay_s`` is how long the "handset" takes; ``outcome`` picks the DLR status per MT text.
    """

    def __init__(
        self,
        mt_token: str,
        *,
        dlr_url: str | None = None,
        dlr_token: str | None = None,
        dlr_delay_s: float = 0.5,
        outcome: Callable[[dict[str, Any]], str | None] = lambda _: "delivered",
    ) -> None:
        self._mt_token = mt_token
        self.dlr_url = dlr_url
        self.dlr_token = dlr_token
        self._delay_s = dlr_delay_s
        self._outcome = outcome
        self._ids = itertools.count(1)
        self.dlr_errors: list[str] = []
        super().__init__(answer=self._answer)

    def _answer(self, request: Received) -> tuple[int, str, bytes]:
        if request.headers.get("authorization") != f"Bearer {self._mt_token}":
            return 401, "application/json", b'{"error": "unauthorised"}'
        try:
            mt = request.json()
        except ValueError:
            return 400, "application/json", b'{"error": "not json"}'
        operator_message_id = f"op{next(self._ids):08d}"
        status = self._outcome(mt)
        if status is not None and self.dlr_url:
            timer = threading.Timer(self._delay_s, self._post_dlr, args=(operator_message_id, status))
            timer.daemon = True
            timer.start()
        return 200, "application/json", json.dumps({"operator_message_id": operator_message_id}).encode()

    def _post_dlr(self, operator_message_id: str, status: str) -> None:
        assert self.dlr_url is not None
        body = json.dumps({"operator_message_id": operator_message_id, "status": status}).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback URL we were given
            self.dlr_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.dlr_token}"},
        )
        for _ in range(5):  # the platform may be busy for a moment; an SMSC retries too
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    if answer.status < 300:
                        return
            except OSError as error:
                self.dlr_errors.append(str(error))
            time.sleep(1)
