"""Store params shared by the premium-loop contract suites: memory, DynamoDB Local, the local cloud."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table

KINDS = [
    pytest.param("memory"),
    pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local),
    pytest.param("localcloud", marks=pytest.mark.localcloud),
]


def dynamodb_client(request: pytest.FixtureRequest, kind: str) -> Any:
    if kind == "dynamodb_local":
        return request.getfixturevalue("dynamodb_local_client")
    return request.getfixturevalue("stack").client("dynamodb")


def fresh_table(client: Any, prefix: str) -> str:
    """A new table with the string ``pk``/``sk`` key every platform table has."""
    table = f"{prefix}-{uuid.uuid4().hex[:12]}"
    create_ledger_table(client, table)
    return table
