"""Tenant isolation in-process (R5): every id-taking partner operation, three ways, over the fakes.

The meta-test fails for an operation that takes an id and has no case in isolation_cases.py.
"""

from __future__ import annotations

import pytest

from tests.security import routes
from tests.security.isolation import (
    VARIANTS,
    check_exempt,
    check_isolation,
    covered_keys,
    exempt_keys,
    partner_id_operations,
)
from tests.security.isolation_cases import CASES, NOT_TENANT_OBJECTS
from tests.security.world import WIRINGS, MemoryWorld, router_modules


def test_every_id_operation_has_an_isolation_case() -> None:
    served = partner_id_operations()
    missing = [
        str(served[key]) for key in sorted(served) if key not in CASES and key not in NOT_TENANT_OBJECTS
    ]
    stale = [key for key in sorted({*CASES, *NOT_TENANT_OBJECTS}) if key not in served]
    assert not missing and not stale, (
        "Tenant isolation is not covered for these partner-API operations that take an id; add a case "
        "to tests/security/isolation_cases.py for each (or, if its parameter is no partner's object, "
        "a check in NOT_TENANT_OBJECTS):\n  "
        + "\n  ".join(missing or ["(none)"])
        + "\nCases for operations the app no longer serves:\n  "
        + "\n  ".join(stale or ["(none)"])
    )


def test_the_partner_api_has_id_operations() -> None:
    """Discovery works: the routes the app is known to serve with an id are found."""
    assert "POST /v1/messages/{message_id}/reply" in partner_id_operations()
    assert all(operation.params for operation in routes.id_operations("partner"))


def test_every_router_is_wired() -> None:
    """Each router the apps include can be served from the in-memory world (WIRINGS)."""
    unwired = [module for module in router_modules() if module not in WIRINGS]
    assert not unwired, (
        "These routers have no in-memory wiring in tests/security/world.py (WIRINGS), so their "
        "in-process security cases cannot run:\n  " + "\n  ".join(unwired)
    )


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("key", covered_keys())
def test_isolation(memory_world: MemoryWorld, key: str, variant: str) -> None:
    check_isolation(memory_world, key, variant)


@pytest.mark.parametrize("key", exempt_keys())
def test_operations_on_no_tenant_object(memory_world: MemoryWorld, key: str) -> None:
    check_exempt(memory_world, key)
