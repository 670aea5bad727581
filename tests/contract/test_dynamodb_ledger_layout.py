"""DynamoDB-specific: the item layout, batch aggregation and error mapping (DynamoDB Local)."""

from __future__ import annotations

import pytest

from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.domain.ledger import LedgerUnavailable
from tests.contract.conftest import CONTRACT_LIMITS
from tests.contract.helpers import RECEIVABLE, REVENUE, open_world, xfer

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def ddb(dynamodb_local_client, request: pytest.FixtureRequest) -> DynamoDbLedgerStore:  # type: ignore[no-untyped-def]
    table = f"layout-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    create_ledger_table(dynamodb_local_client, table)
    store = DynamoDbLedgerStore(table, dynamodb_local_client, CONTRACT_LIMITS)
    open_world(store, slots=0)
    return store


def items(store: DynamoDbLedgerStore, prefix: str) -> list[dict]:  # type: ignore[type-arg]
    return list(store._scan(prefix))


def test_item_layout(ddb: DynamoDbLedgerStore) -> None:
    ddb.post(xfer("t1", (RECEIVABLE, 5), (REVENUE, -5)))
    [record] = items(ddb, "T#")
    assert (record["pk"]["S"], record["sk"]["S"], record["st"]["S"]) == ("T#t1", "T", "posted")
    assert len(record["fp"]["S"]) == 64 and record["legs"]["L"][0]["M"]["a"]["S"] == RECEIVABLE.key
    shards = [i for i in items(ddb, f"A#{REVENUE.key}#")]
    assert len(shards) == CONTRACT_LIMITS.platform_balance_shards_count  # opened up front
    assert sorted(int(i["net"]["N"]) for i in shards) == [-5, 0, 0, 0]
    assert all(i["sk"]["S"] == "B" and i["cur"]["S"] == "RUB" for i in shards)


def test_batch_is_aggregated_into_one_shard_per_account(ddb: DynamoDbLedgerStore) -> None:
    ddb.post_many([xfer(f"m{i}", (RECEIVABLE, 2), (REVENUE, -2)) for i in range(20)])
    nets = sorted(int(i["net"]["N"]) for i in items(ddb, f"A#{REVENUE.key}#"))
    assert nets == [-40, 0, 0, 0]  # one update of -40, not twenty of -2 spread over shards
    assert len(items(ddb, "T#")) == 20  # but every transfer keeps its own record


def test_storage_errors_are_ledger_errors(dynamodb_local_client) -> None:  # type: ignore[no-untyped-def]
    store = DynamoDbLedgerStore("no-such-table", dynamodb_local_client, CONTRACT_LIMITS)
    with pytest.raises(LedgerUnavailable):
        store.post(xfer("t1", (RECEIVABLE, 5), (REVENUE, -5)))
    with pytest.raises(LedgerUnavailable):
        store.get_transfer("t1")
