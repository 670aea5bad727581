"""Admin keys are their own credential kind: partner keys get 403 everywhere, anything else 401."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from smsbilling.domain.entities import AdminKey, Operator, PartnerStatus
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.admin_auth import NotAnAdmin, authenticate_admin
from smsbilling.logic.api_auth import NotAuthenticated

from .world import (
    ADMIN_KEY,
    OPERATOR,
    PARTNER_KEY,
    REVOKED_ADMIN_KEY,
    REVOKED_PARTNER_KEY,
    AdminWorld,
    admin_api,
)

SAMPLE_PARAMS = {
    "number": "4444",
    "msisdn": "447700900123",
    "word": "ABC",
}


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def operations() -> list[tuple[str, str]]:
    """Every admin operation, from the app's own OpenAPI document (a new route is covered at once)."""
    schema = json.loads(admin_api.app.get_openapi_json_schema())
    found = []
    for path, methods in schema["paths"].items():
        for method in methods:
            concrete = path
            for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
                concrete = concrete.replace(f"{{{name}}}", SAMPLE_PARAMS.get(name, "x1"))
            found.append((method.upper(), concrete))
    return sorted(found)


def test_the_operation_list_is_the_whole_admin_api() -> None:
    ops = operations()
    assert len(ops) >= 40, ops
    assert all(path.startswith("/admin/") for _, path in ops)
    assert ("POST", "/admin/partners/x1/adjustments") in ops
    assert ("POST", "/admin/services/x1/approve") in ops


@pytest.mark.parametrize(("method", "path"), operations())
@pytest.mark.parametrize("body", [{}, "not json", {"unknown_field": 1}], ids=["empty", "not-json", "unknown"])
def test_every_operation_answers_a_partner_key_403_and_changes_nothing(
    world: AdminWorld, method: str, path: str, body: object
) -> None:
    setup = world.post("/admin/operators", OPERATOR)
    assert setup.status == 201
    before = dict(world.entities.items)
    journal = list(world.ledger.journal())

    answer = world.call(method, path, body if method in {"POST", "PATCH"} else None, key=PARTNER_KEY)

    assert answer.status == 403, answer
    assert answer.code == "forbidden"
    assert answer.headers["content-type"] == "application/problem+json"
    assert world.entities.items == before
    assert list(world.ledger.journal()) == journal


@pytest.mark.parametrize(("method", "path"), operations())
@pytest.mark.parametrize(
    "key", [None, "not-a-key", REVOKED_ADMIN_KEY, REVOKED_PARTNER_KEY, "x" * 300], ids=str
)
def test_every_operation_answers_anything_but_an_admin_key_401(
    world: AdminWorld, method: str, path: str, key: str | None
) -> None:
    answer = world.call(method, path, {} if method in {"POST", "PATCH"} else None, key=key)
    assert answer.status == 401, answer
    assert answer.code == "unauthenticated"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_admin_sees_validation_errors_and_the_docs_are_public(world: AdminWorld) -> None:
    bad = world.post("/admin/operators", {"operator_id": "op1", "surprise": True})
    assert bad.status == 422 and bad.code == "validation_failed"
    assert {"field": "surprise", "reason": "Extra inputs are not permitted"} in bad.json["errors"]
    assert world.call("POST", "/admin/operators", "{not json", key=ADMIN_KEY).code == "validation_failed"
    docs = world.get("/admin/docs", key=None)
    assert docs.status == 200 and "swagger" in docs.text.lower()
    assert world.get("/admin/no-such-thing").status == 404


def test_a_suspended_partner_keeps_its_403_and_an_x_api_key_header_counts_too(world: AdminWorld) -> None:
    world.add_partner("p1", PartnerStatus.SUSPENDED)  # its key no longer works on the partner API
    assert world.get("/admin/operators", key=PARTNER_KEY).status == 403
    answer = world.get("/admin/operators", key=None, headers={"X-Api-Key": PARTNER_KEY})
    assert answer.status == 403
    assert world.get("/admin/operators", key=None, headers={"X-Api-Key": ADMIN_KEY}).status == 200


def test_authenticate_admin_never_takes_a_partner_key_for_an_admin_key(world: AdminWorld) -> None:
    assert authenticate_admin(world.entities, ADMIN_KEY).key_id == "ops-1"
    with pytest.raises(NotAnAdmin):
        authenticate_admin(world.entities, PARTNER_KEY)
    for key in (None, "", "nope", REVOKED_ADMIN_KEY, REVOKED_PARTNER_KEY, "k" * 257):
        with pytest.raises(NotAuthenticated):
            authenticate_admin(world.entities, key)


def test_admin_keys_are_issued_once_revoked_and_audited(world: AdminWorld) -> None:
    created = world.post("/admin/admin-keys", {"key_id": "finance-1", "name": "Finance"})
    assert created.status == 201, created
    key = created.json["key"]
    assert key.startswith("adm_") and len(key) > 40
    stored = world.entities.get(AdminKey, hash_token(key))
    assert stored is not None and stored.key_id == "finance-1"
    assert key not in json.dumps([e.model_dump(mode="json") for e in world.entities.items.values()])
    assert world.get("/admin/operators", key=key).status == 200
    assert world.post("/admin/admin-keys", {"key_id": "finance-1", "name": "Again"}).code == "already_exists"
    listed = world.get("/admin/admin-keys").json["items"]
    assert [k["key_id"] for k in listed] == ["finance-1", "old", "ops-1"]
    assert all("key" not in k and "key_hash" not in k for k in listed)

    revoked = world.delete("/admin/admin-keys/finance-1", key=key)  # an admin may revoke its own key
    assert revoked.status == 200 and revoked.json["revoked_at"] is not None
    assert world.get("/admin/operators", key=key).status == 401
    assert world.delete("/admin/admin-keys/nope").status == 404
    actions = [(e["action"], e["admin_key_id"]) for e in world.audit()]
    assert actions == [("admin_key.create", "ops-1"), ("admin_key.revoke", "finance-1")]
    assert world.entities.get(Operator, "op1") is None
