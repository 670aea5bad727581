"""The ledger's item layout in the one ``smsbilling-ledger`` table (string keys ``pk``, ``sk``).

=====================================  ======  ==================================================
pk                                     sk      attributes
=====================================  ======  ==================================================
``A#<account>#<shard>``                ``B``   ``acct`` S, ``shard`` N, ``cur`` S, ``net`` N
                                               (posted, net debit), ``pnd`` N (pending, net
                                               debit); constrained books also ``head`` N
                                               (headroom) and ``lim`` N (overdraft max)
``T#<transfer id>``                    ``T``   ``tid`` S, ``kind`` S, ``cur`` S, ``ref`` S, ``at`` N
                                               (ms), ``pend`` BOOL, ``legs`` L[M{a: S, n: N}],
                                               ``fp`` S (fingerprint), ``st`` S (pending / posted /
                                               voided), ``fin`` (same shape) once posted
=====================================  ======  ==================================================

``<account>`` is ``Account.key`` (``partner/p-1/earned_pending``); unsharded books use shard 0.
Each shard has its own partition key so a hot account spreads over partitions. The transfer item
is the journal line *and* the idempotency record: it is written with ``attribute_not_exists(pk)``
in the same transaction as the balance changes. Reads of the whole journal are Scans (replay and
reconciliation only; the money path never scans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsbilling.adapters.pacing import monotonic_ms, sleep_ms
from smsbilling.domain.accounts import Account, parse_account
from smsbilling.domain.ledger import Leg, StoredTransfer, Transfer, TransferKind, TransferState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = Mapping[str, Any]

BALANCE_SK = "B"
TRANSFER_SK = "T"
BALANCE_PREFIX = "A#"
TRANSFER_PREFIX = "T#"


def balance_key(account: Account, shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"{BALANCE_PREFIX}{account.key}#{shard}"}, "sk": {"S": BALANCE_SK}}


def transfer_key(transfer_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{TRANSFER_PREFIX}{transfer_id}"}, "sk": {"S": TRANSFER_SK}}


def num(value: int) -> dict[str, str]:
    return {"N": str(value)}


def legs_to_list(legs: tuple[Leg, ...]) -> dict[str, Any]:
    return {"L": [{"M": {"a": {"S": leg.account.key}, "n": num(leg.amount)}} for leg in legs]}


def list_to_legs(value: Item) -> tuple[Leg, ...]:
    return tuple(Leg(parse_account(leg["M"]["a"]["S"]), int(leg["M"]["n"]["N"])) for leg in value["L"])


def balance_item(account: Account, shard: int, currency: str, overdraft_max: int) -> dict[str, Any]:
    item = {
        **balance_key(account, shard),
        "acct": {"S": account.key},
        "shard": num(shard),
        "cur": {"S": currency},
        "net": num(0),
        "pnd": num(0),
    }
    if account.policy.constrained:
        item["head"] = num(overdraft_max)
        item["lim"] = num(overdraft_max)
    return item


def transfer_item(transfer: Transfer) -> dict[str, Any]:
    item = {
        **transfer_key(transfer.id),
        "tid": {"S": transfer.id},
        "kind": {"S": str(transfer.kind)},
        "cur": {"S": transfer.currency},
        "ref": {"S": transfer.ref},
        "at": num(transfer.at_ms),
        "pend": {"BOOL": transfer.pending},
        "legs": legs_to_list(transfer.legs),
        "fp": {"S": transfer.fingerprint()},
        "st": {"S": str(TransferState.PENDING if transfer.pending else TransferState.POSTED)},
    }
    if not transfer.pending:
        item["fin"] = legs_to_list(transfer.legs)
    return item


def stored_from_item(item: Item) -> StoredTransfer:
    transfer = Transfer(
        id=item["tid"]["S"],
        kind=TransferKind(item["kind"]["S"]),
        currency=item["cur"]["S"],
        legs=list_to_legs(item["legs"]),
        ref=item["ref"]["S"],
        at_ms=int(item["at"]["N"]),
        pending=bool(item["pend"]["BOOL"]),
    )
    final = list_to_legs(item["fin"]) if "fin" in item else None
    return StoredTransfer(transfer, TransferState(item["st"]["S"]), final)


def create_ledger_table(client: DynamoDBClient, table_name: str, wait_ms: int = 30_000) -> None:
    """Create the ledger table as ``template.yaml`` declares it (for DynamoDB Local and tests)."""
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = monotonic_ms() + wait_ms
    while client.describe_table(TableName=table_name)["Table"].get("TableStatus") != "ACTIVE":
        if monotonic_ms() > deadline:
            raise TimeoutError(f"table {table_name} not active after {wait_ms} ms")
        sleep_ms(50)
