"""Every admin operation called with a partner key is 403 (R5), and changes nothing.

The operations are discovered from ``functions/admin_api/app.py``; while that function does not
exist the parameter list holds one entry that asserts exactly that, so the suite starts checking
the moment the admin API appears. Each call carries a request the operation's schema accepts
(generated from the admin document), so a 403 is the credential's answer, not a validation error.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security import routes
from tests.security.forbidden import ADMIN_OPERATIONS, PARAMS, admin_request, assert_forbidden
from tests.security.world import MemoryWorld


def _snapshot(world: MemoryWorld) -> Any:
    return (
        sorted((key, entity.model_dump_json()) for key, entity in world.entities.items.items()),
        sorted(str(transfer) for transfer in world.ledger.journal()),
    )


def test_admin_operations_are_discovered_when_the_admin_app_exists() -> None:
    assert bool(ADMIN_OPERATIONS) == routes.app_exists("admin")


@pytest.mark.parametrize("operation", PARAMS)
def test_partner_key_is_forbidden(memory_world: MemoryWorld, operation: routes.Operation | None) -> None:
    if operation is None:
        assert not routes.app_exists("admin") and routes.resolver("admin") is None
        return
    partner = memory_world.partner("intruder")
    path, body = admin_request(operation)
    before = _snapshot(memory_world)
    assert_forbidden(memory_world.client(partner.key, "admin").call(operation.method, path, body), operation)
    if body is not None:  # an invalid body too: a partner key learns nothing of the admin schema
        invalid = memory_world.client(partner.key, "admin").call(operation.method, path, {"unexpected": 1})
        assert_forbidden(invalid, operation)
    assert _snapshot(memory_world) == before, f"{operation} changed something for a partner key"
    anonymous = memory_world.client(None, "admin").call(operation.method, path, body)
    assert anonymous.status == 401, f"{operation} without a key: expected 401, got {anonymous}"
