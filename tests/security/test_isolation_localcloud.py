"""Tenant isolation against the deployed local stack, over real HTTP: B with A's id, every case.

The same cases as test_isolation.py (which runs all three variants in-process); here the one that
matters most runs through API Gateway, the Lambda and DynamoDB.
"""

from __future__ import annotations

import pytest

from tests.security.isolation import check_isolation, covered_keys
from tests.security.world import StackWorld

pytestmark = pytest.mark.localcloud


@pytest.mark.parametrize("key", covered_keys())
def test_isolation_on_the_stack(stack_world: StackWorld, key: str) -> None:
    check_isolation(stack_world, key, "other_partner")
