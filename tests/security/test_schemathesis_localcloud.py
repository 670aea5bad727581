"""Schemathesis (R7) over the committed documents against the deployed local stack: no 5xx.

Every documented operation, through API Gateway and the Lambdas, with a valid credential: the
partner document with a partner key, the admin document (once the admin API exists) with an
admin key. Bounded: ``EXAMPLES_PER_OPERATION_MAX`` cases per operation, derandomized, one fresh
credential per operation (so the per-key rate limit is not what the run measures). Also checks
that the stack's Swagger UI serves the committed document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security.fuzz import DOCS, FUZZ_SETTINGS, call_and_check, committed
from tests.security.world import StackWorld

pytestmark = pytest.mark.localcloud

PARTNER_API = committed("partner-api")


# Where the stack serves each API's Swagger UI (relative to the API base URL).
SWAGGER_PATHS = {"partner-api": "docs", "admin-api": "admin/docs"}


@pytest.mark.parametrize("name", sorted(SWAGGER_PATHS))
def test_the_stack_serves_the_committed_document(stack_world: StackWorld, name: str) -> None:
    answer = stack_world.stack.api.get(SWAGGER_PATHS[name], params={"format": "json"})
    assert answer.status_code == 200, answer.text[:300]
    served = answer.json()
    committed_document = json.loads((DOCS / f"{name}.json").read_text(encoding="utf-8"))
    assert served.pop("servers") == [{"url": "/Prod"}]
    committed_document.pop("servers")
    assert served == committed_document


@PARTNER_API.parametrize()
@FUZZ_SETTINGS
def test_partner_api_on_the_stack(case: Any, stack_world: StackWorld) -> None:
    key = _partner_key(stack_world, case.operation.label)
    call_and_check(case, stack_world.stack.cloud.api_base, key)


_partner_keys: dict[str, str] = {}
_admin_keys: dict[str, str] = {}


def _partner_key(world: StackWorld, label: str) -> str:
    if label not in _partner_keys:
        _partner_keys[label] = world.partner("fuzz").key
    return _partner_keys[label]


if (DOCS / "admin-api.json").exists():  # the admin API exists: fuzz it with an admin key too
    ADMIN_API = committed("admin-api")

    @ADMIN_API.parametrize()
    @FUZZ_SETTINGS
    def test_admin_api_on_the_stack(case: Any, stack_world: StackWorld) -> None:
        call_and_check(case, stack_world.stack.cloud.api_base, _admin_key(stack_world, case.operation.label))


def _admin_key(world: StackWorld, label: str) -> str:
    if label not in _admin_keys:
        _admin_keys[label] = world.admin_key()
    return _admin_keys[label]
