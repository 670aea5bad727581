#!/usr/bin/env python3
"""A partner's SMS handler for smsbilling, in standard-library Python (3.9 or later).

It receives the platform's signed requests (docs/partner-callbacks.md), checks the signature,
and answers every MO with a reply the platform sends back to the subscriber:

* ``GET`` or ``POST`` to any path but ``/status``: an incoming SMS (``http_get`` or
  ``http_post_sync`` services). The answer body (``text/plain``) is the reply.
* ``POST /status``: the final status of one of your MTs. Answer any 2xx.

A request whose signature does not verify gets 401 and is not acted on. Retries can deliver the
same ``message_id`` twice: the handler answers the same reply again and acts once.

Run it::

    SMSBILLING_CALLBACK_SECRETS=whsec_... python3 handler.py --port 8080

``SMSBILLING_CALLBACK_SECRETS`` is your signing secret (several, comma-separated, while you
rotate). Register ``http://your-host:8080/mo`` as the service's handler URL and
``http://your-host:8080/status`` as its status URL. Put it behind HTTPS in production.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BODY_BYTES_MAX = 64 * 1024


def verify_smsbilling(raw: bytes, header: str, secrets: list[str], tolerance_s: int = 300) -> bool:
    """raw: the POST body, or for GET the query string as received (the bytes after '?')."""
    items = [item.strip().partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in items if key == "t"]
    signatures = [value.encode() for key, _, value in items if key == "v1"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    if abs(time.time() - int(stamps[0])) > tolerance_s:
        return False
    payload = stamps[0].encode() + b"." + raw
    expected = [hmac.new(s.encode(), payload, hashlib.sha256).hexdigest().encode() for s in secrets]
    return any(hmac.compare_digest(sig, mac) for sig in signatures for mac in expected)


def reply_for(mo: dict[str, str]) -> str:
    """Your business logic: the text sent back to the subscriber ("" for no reply)."""
    words = mo.get("text", "").split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    return f"Thank you! Your code for {rest or 'this service'} is 4711."


class Handler(BaseHTTPRequestHandler):
    server_version = "partner-handler/1"
    secrets: list[str] = []
    answered: dict[str, str] = {}  # message_id -> reply: a retry gets the same answer
    lock = threading.Lock()

    def do_GET(self) -> None:
        query = urlsplit(self.path).query
        self._handle(query.encode("ascii", "replace"), dict(parse_qsl(query, keep_blank_values=True)))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_BYTES_MAX:
            self._send(413, "too large")
            return
        raw = self.rfile.read(length)
        if urlsplit(self.path).path == "/status":
            self._status(raw)
            return
        try:
            fields = json.loads(raw)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            self._send(400, "expected a JSON object")
            return
        self._handle(raw, {key: str(value) for key, value in fields.items()})

    def _verified(self, raw: bytes) -> bool:
        header = self.headers.get("X-Smsbilling-Signature", "")
        return bool(header) and verify_smsbilling(raw, header, self.secrets)

    def _handle(self, raw: bytes, mo: dict[str, str]) -> None:
        if not self._verified(raw):
            self._send(401, "bad signature")
            return
        message_id = mo.get("message_id", "")
        with self.lock:
            reply = self.answered.get(message_id)
            if reply is None:
                reply = reply_for(mo)  # act once per message_id (store it in your database)
                self.answered[message_id] = reply
        self._send(200, reply)

    def _status(self, raw: bytes) -> None:
        if not self._verified(raw):
            self._send(401, "bad signature")
            return
        status = json.loads(raw)
        print(f"MT {status.get('message_id')}: {status.get('status')} ({status.get('reason')})", flush=True)
        self._send(204, "")

    def _send(self, code: int, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if code != 204:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="An smsbilling partner handler")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args()
    secrets = [s.strip() for s in os.environ.get("SMSBILLING_CALLBACK_SECRETS", "").split(",") if s.strip()]
    if not secrets:
        sys.exit("set SMSBILLING_CALLBACK_SECRETS to your service's signing secret")
    Handler.secrets = secrets
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
