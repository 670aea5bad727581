"""The bridge process on the local cloud, bound to the operator simulator, both as `make run` starts them.

An MT for an SMPP link goes the whole way: ``MtRequested`` on the deployed MT queue -> the MT
processor creates ``MT#id`` and puts an ``OutboundSubmit`` on the outbound queue -> the bridge
sends submit_sm to the simulator -> its ``SubmitResult`` (and then the simulator's receipt, as
``DlrReceived``) on the DLR queue -> the MT-events processor writes them on the MT record: the
part carries the simulator's message id and the MT ends ``delivered``. The outbound queue is left
empty. An MO injected at the simulator is in the messages table before deliver_sm_resp.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra import run_local
from infra.localcloud import free_port
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.entities import Operator
from smsbilling.domain.mt import MtState
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud

OPERATOR_ID = "it-bridge-operator"


def control(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def wait_for[T](probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def bridge_and_smsc(stack: Stack, tmp_path: Path) -> Iterator[dict[str, int]]:
    simulator, smsc = run_local.start_simulator(tmp_path)
    bridge: subprocess.Popen[bytes] | None = None
    try:
        entities = stack.outputs["EntitiesTableName"]
        store = DynamoEntityStore(stack.client("dynamodb"), entities)
        store.put(Operator(operator_id=OPERATOR_ID, name="IT Mobile", country_code="44", currency="GBP"))
        run_local.put_smpp_link(stack.client("dynamodb"), entities, OPERATOR_ID, smsc["smpp"])
        bridge = run_local.start_bridge(stack.cloud, free_port(), free_port())
        wait_for(lambda: control(smsc["control"], "/stats")["bound"] or None, 20, "the bridge's bind")
        yield smsc
    finally:
        for process in (bridge, simulator):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        log = stack.cloud.workdir / "bridge.log"
        if log.exists():
            print("--- bridge.log (tail) ---\n" + "\n".join(log.read_text().splitlines()[-30:]))


def test_an_mt_on_the_smpp_link_reaches_the_smsc_and_ends_delivered(
    stack: Stack, bridge_and_smsc: dict[str, int]
) -> None:
    message_id = f"it-{uuid.uuid4().hex[:12]}"
    command = MtRequested(
        message_id=message_id,
        purpose=MtPurpose.NOTICE,
        operator_id=OPERATOR_ID,
        link_id=run_local.DEMO_SMPP_LINK_ID,
        source="4444",
        destination="447700900123",
        text="You are subscribed. Send STOP to unsubscribe.",
        requested_at=datetime.now(UTC),
    )
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.outputs["MtQueueUrl"], MessageBody=command.model_dump_json())

    def smsc_took_it() -> dict[str, Any] | None:
        stats = control(bridge_and_smsc["control"], "/stats")
        return stats if stats["submits_accepted"] >= 1 else None

    stats = wait_for(smsc_took_it, 60, "the simulator to accept the submit_sm")
    assert stats["submits_received"] == 1
    store = DynamoMtStore(stack.client("dynamodb"), stack.outputs["MessagesTableName"])

    def delivered() -> Any:
        record = store.get(message_id)
        return record if record is not None and record.mt.state is MtState.DELIVERED else None

    record = wait_for(delivered, 60, "the MT record to be delivered")
    [part] = record.mt.parts
    assert (
        part.operator_id and part.state is MtState.DELIVERED and record.link_id == run_local.DEMO_SMPP_LINK_ID
    )

    def outbound_empty() -> bool | None:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.outputs["OutboundQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return True if sum(int(v) for v in attributes.values()) == 0 else None

    wait_for(outbound_empty, 20, "the command deleted from the outbound queue")


def test_an_mo_from_the_smsc_is_stored_before_it_is_acknowledged(
    stack: Stack, bridge_and_smsc: dict[str, int]
) -> None:
    text = f"ABC {uuid.uuid4().hex[:6]}"
    before = control(bridge_and_smsc["control"], "/stats")["delivers_acked"]
    control(
        bridge_and_smsc["control"], "/mo", {"source": "447700900555", "destination": "4444", "text": text}
    )
    wait_for(
        lambda: control(bridge_and_smsc["control"], "/stats")["delivers_acked"] > before or None,
        30,
        "deliver_sm_resp OK",
    )
    table = stack.outputs["MessagesTableName"]
    items = stack.client("dynamodb").scan(
        TableName=table,
        FilterExpression="link_id = :l AND payload_hex = :p",
        ExpressionAttributeValues={
            ":l": {"S": run_local.DEMO_SMPP_LINK_ID},
            ":p": {"S": text.encode().hex()},
        },
    )["Items"]
    assert len(items) == 1 and items[0]["source"]["S"] == "447700900555"
