"""Ledger store factories for the contract suite, keyed by name.

Add a store (e.g. "localcloud") by adding a factory to STORE_FACTORIES and a param to
STORE_PARAMS (with its marker). A factory gets the pytest request, so it can pull session
fixtures (servers, clients) lazily: the memory params never start Java.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from infra.dynamodb_local import DynamoDbLocal
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.ports import LedgerStore
from smsbilling.settings import LedgerLimits

# Small shard counts so the suite exercises several shards per account without slowing down.
CONTRACT_LIMITS = LedgerLimits(platform_balance_shards_count=4, partner_balance_shards_count=3)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDbLocal]:
    """DynamoDB Local for the session. Fails (never skips) if Java or the jar is missing."""
    with DynamoDbLocal.start() as server:
        yield server


@pytest.fixture(scope="session")
def dynamodb_local_client(dynamodb_local: DynamoDbLocal):  # type: ignore[no-untyped-def]
    return boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=64),
    )


def _memory(request: pytest.FixtureRequest) -> LedgerStore:
    return MemoryLedgerStore(CONTRACT_LIMITS)


def _dynamodb_local(request: pytest.FixtureRequest) -> LedgerStore:
    client = request.getfixturevalue("dynamodb_local_client")
    table = f"ledger-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)
    return DynamoDbLedgerStore(table, client, CONTRACT_LIMITS)


def _localcloud(request: pytest.FixtureRequest) -> LedgerStore:
    """The local cloud's DynamoDB (ministack), where the deployed functions keep the ledger."""
    client = request.getfixturevalue("stack").client("dynamodb")
    table = f"ledger-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)
    return DynamoDbLedgerStore(table, client, CONTRACT_LIMITS)


STORE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], LedgerStore]] = {
    "memory": _memory,
    "dynamodb_local": _dynamodb_local,
    "localcloud": _localcloud,
}

STORE_PARAMS = [
    pytest.param("memory", id="memory"),
    pytest.param("dynamodb_local", id="dynamodb_local", marks=pytest.mark.dynamodb_local),
    pytest.param("localcloud", id="localcloud", marks=pytest.mark.localcloud),
]


@pytest.fixture(params=STORE_PARAMS)
def ledger_store(request: pytest.FixtureRequest) -> LedgerStore:
    """A fresh, empty ledger store of each kind."""
    return STORE_FACTORIES[request.param](request)


@pytest.fixture
def ledger_store_factory(
    ledger_store: LedgerStore, request: pytest.FixtureRequest
) -> Callable[[], LedgerStore]:
    """More fresh stores of the same kind as ``ledger_store`` (property tests: one per example)."""
    name = request.node.callspec.params["ledger_store"]
    return lambda: STORE_FACTORIES[name](request)
