"""The API's operations, discovered from the app objects (never listed by hand).

An operation is one registered route of ``functions/partner_api/app.py`` or
``functions/admin_api/app.py`` (when that function exists): its method, its path in OpenAPI form,
its path parameters, the module its handler lives in, and whether the OpenAPI document shows it.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
APP_MODULES = {"partner": "functions.partner_api.app", "admin": "functions.admin_api.app"}
_PARAM = re.compile(r"<(\w+)>")


@dataclass(frozen=True, order=True)
class Operation:
    app: str  # "partner" or "admin"
    method: str
    path: str  # OpenAPI form: /v1/services/{service_id}
    params: tuple[str, ...]
    module: str  # where the handler function is defined
    function: str
    documented: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return f"{self.app}: {self.key} ({self.module}.{self.function})"


def app_exists(name: str) -> bool:
    return (ROOT / (APP_MODULES[name].replace(".", "/") + ".py")).is_file()


@cache
def app_module(name: str) -> ModuleType | None:
    """The function module, or None while the function does not exist in this checkout."""
    if not app_exists(name):
        return None
    return importlib.import_module(APP_MODULES[name])


def resolver(name: str) -> Any:
    module = app_module(name)
    return None if module is None else module.app


def operations(name: str) -> list[Operation]:
    """Every route of the app except the Swagger UI page (``/docs``, Powertools' own)."""
    app = resolver(name)
    if app is None:
        return []
    found = set()
    for route in app._static_routes + app._dynamic_routes:
        module = route.func.__module__
        if module.startswith("aws_lambda_powertools"):
            continue
        found.add(
            Operation(
                app=name,
                method=route.method.upper(),
                path=route.openapi_path,
                params=tuple(_PARAM.findall(route.path)),
                module=module,
                function=route.func.__name__,
                documented=bool(route.include_in_schema),
            )
        )
    return sorted(found)


def id_operations(name: str) -> list[Operation]:
    """The operations that take an object id in their path."""
    return [operation for operation in operations(name) if operation.params]


@cache
def openapi_schema(name: str) -> dict[str, Any]:
    app = resolver(name)
    if app is None:
        return {}
    schema: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return schema


def request_body_schema(operation: Operation) -> dict[str, Any] | None:
    """The JSON schema of the operation's request body (``$ref`` resolved), or None if it has none."""
    schema = openapi_schema(operation.app)
    spec = schema.get("paths", {}).get(operation.path, {}).get(operation.method.lower(), {})
    content = spec.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    return None if body is None else resolve_ref(schema, body)


def resolve_ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def path_with(operation: Operation, ids: dict[str, str]) -> str:
    path = operation.path
    for param in operation.params:
        path = path.replace(f"{{{param}}}", ids[param])
    return path
