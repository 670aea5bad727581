"""`make demo-mo`: send one paid MO to the running `make run` stack and print its trail until settled.

The MO goes in the way an operator sends it (POST to the demo HTTP link); the trail is read from the
stack's tables: the MO routed and charged, the partner's handler called, the reply MT sent to the
demo operator, its delivery receipt, and the partner's pending earnings.

Usage: python -m infra.demo_mo [--text "ABC 42"] [--msisdn 447700900123] [--timeout 60]
Reads .local/run/stack.json (or $SMSBILLING_RUN_DIR/stack.json), written by `make run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from infra.localcloud import REGION, ROOT
from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.contracts import MtPurpose
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo


def _stack_info() -> dict[str, Any]:
    path = Path(os.environ.get("SMSBILLING_RUN_DIR") or ROOT / ".local" / "run") / "stack.json"
    if not path.exists():
        sys.exit(f"{path} not found: start the platform with `make run` first")
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def send_mo(info: dict[str, Any], msisdn: str, text: str) -> str:
    """POST the MO as the demo operator; the platform's message id."""
    demo = info["demo"]
    body = {
        "operator_message_id": f"demo-{uuid.uuid4().hex[:12]}",
        "source": msisdn,
        "destination": demo["service"]["short_number"],
        "text": text,
    }
    request = urllib.request.Request(  # noqa: S310 - the local stack's loopback URL
        f"{info['api_base']}/operator/links/{demo['operator_http_link']}/mo",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {demo['operator_http_token']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        message_id: str = json.loads(answer.read())["message_id"]
    return message_id


def _wait(look: Callable[[], str | None], deadline: float) -> str:
    while (line := look()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the next step did not happen in time; see .local/run/*.log")
        time.sleep(0.3)
    return line


def trail(info: dict[str, Any], message_id: str, deadline: float) -> Iterator[str]:
    """Each step of the MO's way through the platform as it becomes visible, then the earnings."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=info["aws_endpoint"],
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator's fixed local credentials
    )
    outputs = info["outputs"]
    mos = DynamoInboundStore(dynamodb, outputs["MessagesTableName"])
    deliveries = DynamoDeliveryLog(dynamodb, outputs["MessagesTableName"])
    mts = DynamoMtStore(dynamodb, outputs["MessagesTableName"])

    def decided() -> StoredMo | None:
        mo = mos.get(message_id)
        return mo if mo is not None and mo.state.is_final and mo.state is not MoState.PART else None

    def mo_line() -> str | None:
        if (mo := decided()) is None:
            return None
        charge = (
            f", charged {mo.charged_amount} {mo.currency} ({mo.billing_model})" if mo.charged_amount else ""
        )
        service = f": service {mo.service_id}" if mo.service_id else ""
        return f"MO {mo.state.value}{service}{charge} {mo.reason}".rstrip()

    def handler_line() -> str | None:
        record = deliveries.get(message_id)
        if record is None or not record.state.is_final:
            return None
        return f"partner handler: {record.state.value} (HTTP {record.http_status})"

    def mt_line(mt_id: str, final: bool) -> Callable[[], str | None]:
        def look() -> str | None:
            record = mts.get(mt_id)
            if record is None or (final and not record.mt.state.is_final):
                return None
            return f"{record.purpose} MT {record.mt.state.value}: {record.text!r} to {record.destination}"

        return look

    yield _wait(mo_line, deadline)
    mo = decided()
    assert mo is not None
    if mo.state is MoState.ROUTED:
        yield _wait(handler_line, deadline)
        mt_id = reply_mt_id(message_id)
    elif mo.state is MoState.UNROUTED:
        mt_id = derived_id("mt", message_id, MtPurpose.DEFAULT_REPLY.value)
    else:
        return
    yield _wait(mt_line(mt_id, final=False), deadline)
    yield _wait(mt_line(mt_id, final=True), deadline)
    if mo.partner_id:
        ledger = DynamoDbLedgerStore(outputs["LedgerTableName"], dynamodb)
        earned = ledger.balance(accounts.partner(mo.partner_id, Book.EARNED_PENDING))
        yield (
            f"partner {mo.partner_id} earned: {-earned.net} posted, {-earned.pending} pending"
            f" ({earned.currency} minor units)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--text", default="ABC 42")
    parser.add_argument("--msisdn", default="447700900123")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    info = _stack_info()
    started = time.monotonic()
    message_id = send_mo(info, args.msisdn, args.text)
    print(f"{0.0:6.2f}s MO accepted as {message_id}", flush=True)
    try:
        for line in trail(info, message_id, started + args.timeout):
            print(f"{time.monotonic() - started:6.2f}s {line}", flush=True)
    except TimeoutError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
