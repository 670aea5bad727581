#!/usr/bin/env python3
"""Send an SMS through the smsbilling partner API, in standard-library Python (3.9 or later).

    SMSBILLING_API_BASE=https://<api-id>.execute-api.<region>.amazonaws.com/Prod \\
    SMSBILLING_API_KEY=sk_... \\
    python3 send_sms.py <service_id> <destination> <text>

The message is paid from your prepaid credits and sent from one of the service's short numbers.
Prints the queued message (its ``message_id`` is what status callbacks and
``GET /v1/messages/{id}`` refer to) and exits 0; on a refusal prints the problem
(``application/problem+json``: ``code``, ``detail``, the fields at fault) and exits 1.

A timeout or a connection error may hide a message that was queued: the script sends an
``Idempotency-Key``, so running it again with ``--idempotency-key`` set to the key it printed
sends the message at most once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any


def send_sms(
    base_url: str, api_key: str, service_id: str, destination: str, text: str, *, idempotency_key: str
) -> tuple[int, Any]:
    """POST /v1/sms; the HTTP status and the decoded JSON answer."""
    body = json.dumps({"service_id": service_id, "destination": destination, "text": text}).encode()
    request = urllib.request.Request(  # noqa: S310 - your API base URL (https)
        base_url.rstrip("/") + "/v1/sms",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - your API base URL
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:  # 4xx/5xx: the body is a problem document
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"detail": raw.decode("utf-8", "replace")}


def main() -> int:
    parser = argparse.ArgumentParser(description="Send an SMS through the smsbilling partner API")
    parser.add_argument("service_id", help="your active service that sends it")
    parser.add_argument("destination", help="international number, e.g. +447700900123")
    parser.add_argument("text")
    parser.add_argument("--idempotency-key", default=None, help="repeat a send safely (printed by a run)")
    args = parser.parse_args()
    base_url = os.environ.get("SMSBILLING_API_BASE", "")
    api_key = os.environ.get("SMSBILLING_API_KEY", "")
    if not base_url or not api_key:
        print("set SMSBILLING_API_BASE and SMSBILLING_API_KEY", file=sys.stderr)
        return 2
    key = args.idempotency_key or str(uuid.uuid4())
    print(f"Idempotency-Key: {key}", file=sys.stderr)
    status, answer = send_sms(
        base_url, api_key, args.service_id, args.destination, args.text, idempotency_key=key
    )
    print(json.dumps(answer, indent=2))
    if status == 202:
        return 0
    problem = answer if isinstance(answer, dict) else {}
    print(f"refused ({status}): {problem.get('code')}: {problem.get('detail')}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
