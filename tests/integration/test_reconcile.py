"""The scheduled reconciliation function, deployed: a clean ledger passes, a tampered balance is found (R12)."""

from __future__ import annotations

import json

import pytest

from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.contract.helpers import PARTNERS, open_world, pay_in, topup

pytestmark = pytest.mark.localcloud


def _invoke(stack: Stack) -> dict[str, object]:
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["ReconcileFunctionName"], Payload=b"{}"
    )
    assert "FunctionError" not in response, response["Payload"].read()
    result: dict[str, object] = json.loads(response["Payload"].read())
    return result


def test_reconciliation_passes_then_finds_a_tampered_balance(stack: Stack) -> None:
    client = stack.client("dynamodb")
    table = stack.outputs["LedgerTableName"]
    store = DynamoDbLedgerStore(table, client, LedgerLimits())  # the limits the function runs with
    # The deployed stack's ledger is shared by the whole session, whose other tests bill in GBP.
    open_world(store, currency="GBP")
    store.post(topup("rec-topup", PARTNERS[0], 500))
    store.post(pay_in("rec-payin", PARTNERS[1], 1_250, currency="GBP"))

    clean = _invoke(stack)
    assert clean["ok"] is True and clean["discrepancies"] == 0
    assert clean["transfers_replayed"] >= 2

    # Someone edits a balance item by hand: reconciliation must notice.
    item = next(i for i in client.scan(TableName=table)["Items"] if i["sk"]["S"] == "B" and "net" in i)
    client.update_item(
        TableName=table,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="ADD net :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    tampered = _invoke(stack)
    assert tampered["ok"] is False and tampered["discrepancies"] >= 1

    client.update_item(
        TableName=table,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="ADD net :minus",
        ExpressionAttributeValues={":minus": {"N": "-1"}},
    )
    assert _invoke(stack)["ok"] is True
