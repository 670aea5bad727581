"""Mass assignment (R6): request models refuse unknown and server-owned fields with a 422 problem.

Discovered from the apps: every operation with a JSON request body, in both the partner and the
admin app. Statically, each body model (and every object model under it) is closed
(``additionalProperties: false``, pydantic ``extra="forbid"``). Live, in-process: a request the
schema accepts plus one extra field is refused with 422 naming the field, for a made-up field and
for every server-owned one (fields the operation's responses carry that its request does not, and
the ids and states the server always owns).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.security import routes
from tests.security.examples import valid_example
from tests.security.world import MemoryWorld

# Fields the server always owns, refused wherever the request model does not declare them.
ALWAYS_SERVER_OWNED = ("partner_id", "status", "created_at", "updated_at", "key_hash", "balance")


def _body_operations() -> list[routes.Operation]:
    return [
        operation
        for app in ("partner", "admin")
        for operation in routes.operations(app)
        if routes.request_body_schema(operation) is not None
    ]


BODY_OPERATIONS = _body_operations()
OPERATION_PARAMS = [
    pytest.param(operation, id=f"{operation.app}:{operation.key}") for operation in BODY_OPERATIONS
]


def _objects(
    schema: dict[str, Any], node: Any, seen: set[str], where: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from ``node`` (through $ref, properties, items, anyOf, ...)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "$ref" in node:
            if node["$ref"] in seen:
                return found
            seen.add(node["$ref"])
            return _objects(schema, routes.resolve_ref(schema, node), seen, node["$ref"].rsplit("/", 1)[-1])
        if node.get("type") == "object" or "properties" in node:
            found.append((where, node))
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    found += _objects(schema, sub, seen, f"{where}.{name}")
            elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
                found += _objects(schema, value, seen, where)
    elif isinstance(node, list):
        for item in node:
            found += _objects(schema, item, seen, where)
    return found


def test_every_operation_is_documented() -> None:
    """Undocumented routes would escape the document, schemathesis and this suite."""
    hidden = [str(op) for app in ("partner", "admin") for op in routes.operations(app) if not op.documented]
    assert not hidden, "routes left out of the OpenAPI document:\n  " + "\n  ".join(hidden)


def test_body_operations_are_discovered() -> None:
    keys = {operation.key for operation in BODY_OPERATIONS if operation.app == "partner"}
    assert {"POST /v1/otp", "POST /v1/messages/{message_id}/reply"} <= keys


@pytest.mark.parametrize("operation", OPERATION_PARAMS)
def test_request_models_are_closed(operation: routes.Operation) -> None:
    schema = routes.openapi_schema(operation.app)
    spec = schema["paths"][operation.path][operation.method.lower()]["requestBody"]["content"][
        "application/json"
    ]
    objects = _objects(schema, spec["schema"], set(), "body")
    assert objects, f"{operation}: the request body is not an object model"
    open_models = [where for where, node in objects if node.get("additionalProperties") is not False]
    assert not open_models, (
        f"{operation}: these request models accept unknown fields (extra='forbid'): {open_models}"
    )


def server_owned_fields(operation: routes.Operation) -> list[str]:
    """Fields of the operation's 2xx responses that its request does not declare, plus the usual ones."""
    schema = routes.openapi_schema(operation.app)
    body = routes.request_body_schema(operation) or {}
    declared = set(body.get("properties", {}))
    owned = set(ALWAYS_SERVER_OWNED)
    responses = schema["paths"][operation.path][operation.method.lower()].get("responses", {})
    for status, response in responses.items():
        if not str(status).startswith("2"):
            continue
        for content in response.get("content", {}).values():
            model = routes.resolve_ref(schema, content.get("schema", {}))
            owned |= set(model.get("properties", {}))
    return sorted(owned - declared)


def _call_with(world: MemoryWorld, operation: routes.Operation, extra: dict[str, Any]) -> Any:
    example = valid_example(operation)
    assert isinstance(example.body, dict), (
        f"{operation}: the generated body is not an object: {example.body!r}"
    )
    # The admin API answers an invalid request 401/403 to anyone but an admin: call it as one.
    key = world.admin_key() if operation.app == "admin" else world.partner("mass").key
    path = example.path + (f"?{urlencode(example.query, doseq=True)}" if example.query else "")
    return world.client(key, operation.app).call(operation.method, path, example.body | extra)


def _assert_refused(answer: Any, operation: routes.Operation, field: str) -> None:
    assert answer.status == 422, f"{operation} accepted the field {field!r}: {answer}"
    assert answer.headers.get("content-type", "").startswith("application/problem+json"), answer
    named = [error.get("field", "") for error in answer.body.get("errors", [])]
    assert any(field in name for name in named), f"{operation}: the problem does not name {field!r}: {answer}"


@pytest.mark.parametrize("operation", OPERATION_PARAMS)
def test_unknown_fields_are_refused(memory_world: MemoryWorld, operation: routes.Operation) -> None:
    answer = _call_with(memory_world, operation, {"unexpected_field": "x"})
    _assert_refused(answer, operation, "unexpected_field")


@pytest.mark.parametrize("operation", OPERATION_PARAMS)
def test_server_owned_fields_are_refused(memory_world: MemoryWorld, operation: routes.Operation) -> None:
    fields = server_owned_fields(operation)
    assert fields
    for field in fields:
        _assert_refused(_call_with(memory_world, operation, {field: "server-owned"}), operation, field)
