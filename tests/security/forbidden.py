"""What the admin-403 suites share: the admin operations (discovered), a valid request for each,
and what a partner key must get."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.security import routes
from tests.security.api import Answer
from tests.security.examples import valid_example

ADMIN_OPERATIONS = routes.operations("admin")
PARAMS = [pytest.param(operation, id=operation.key) for operation in ADMIN_OPERATIONS] or [
    pytest.param(None, id="no-admin-app-in-this-checkout")
]


def admin_request(operation: routes.Operation) -> tuple[str, Any]:
    example = valid_example(operation)
    query = f"?{urlencode(example.query, doseq=True)}" if example.query else ""
    return example.path + query, example.body


def assert_forbidden(answer: Answer, operation: routes.Operation) -> None:
    assert answer.status == 403, f"{operation} with a partner key: expected 403, got {answer}"
    assert answer.headers.get("content-type", "").startswith("application/problem+json"), answer
    assert answer.code == "forbidden", f"{operation}: not the admin API's own 403: {answer}"
