"""Every admin operation with a partner key is 403 on the deployed stack too (API Gateway → admin Lambda).

The body must be the admin API's own problem (``code: forbidden``): API Gateway's 403 for a path it
does not route ("Missing Authentication Token") does not count.
"""

from __future__ import annotations

import pytest

from tests.security import routes
from tests.security.forbidden import PARAMS, admin_request, assert_forbidden
from tests.security.world import StackWorld

pytestmark = pytest.mark.localcloud


@pytest.mark.parametrize("operation", PARAMS)
def test_partner_key_is_forbidden_on_the_stack(
    stack_world: StackWorld, operation: routes.Operation | None
) -> None:
    if operation is None:
        assert not routes.app_exists("admin")
        return
    partner = stack_world.partner("intruder")
    path, body = admin_request(operation)
    assert_forbidden(stack_world.client(partner.key, "admin").call(operation.method, path, body), operation)
