"""The committed OpenAPI 3.1 documents, generated from the API functions' apps.

``python -m infra.openapi write`` (``make openapi``) renders every API function's document into
``docs/openapi/<name>.json``; ``python -m infra.openapi check`` exits non-zero when a committed
document differs from what the code declares (``tests/infra/test_openapi_drift.py`` runs the same
check in ``make test``).

The app is the single source of what a document says: its routes and models, and its title,
version and security schemes (declared with ``app.configure_openapi(...)``, so Swagger UI at
``/docs`` serves the same document). Only ``servers`` is added here, because the served copy
names the host it was fetched from while the committed one names where the API lives. Output is
deterministic: keys sorted, two-space indent, a final newline.

Importing a function module needs nothing from the environment: the apps read their settings
and build AWS clients on first use, not at import. The defaults set below only keep the
Powertools tracer and boto3 quiet should an import touch them.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import Server, ServerVariable

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs" / "openapi"
POWERTOOLS_DEFAULT_TITLE = "Powertools for AWS Lambda (Python) API"

# Where the API lives: API Gateway on AWS (stage Prod, template.yaml), or the local cloud of `make run`.
SERVERS = [
    Server(
        url="https://{restApiId}.execute-api.{region}.amazonaws.com/Prod",
        description="AWS: the stack's ApiUrl output (sam deploy)",
        variables={
            "restApiId": ServerVariable(default="abcdef1234", description="the stack's RestApiId output"),
            "region": ServerVariable(default="eu-west-1"),
        },
    ),
    Server(
        url="http://127.0.0.1:{port}/_aws/execute-api/{restApiId}/Prod",
        description="make run: the local cloud (printed as the API base URL)",
        variables={
            "port": ServerVariable(
                default="4566", description="SMSBILLING_LOCALCLOUD_PORT or the one printed"
            ),
            "restApiId": ServerVariable(default="abcdef1234", description="printed by make run"),
        },
    ),
]

_HARMLESS_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "openapi",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class OpenApiError(Exception):
    """An app that cannot be documented as it stands (the message says what to declare)."""


@dataclass(frozen=True)
class ApiDocument:
    """One API function and the committed document generated from it."""

    name: str
    module: str

    @property
    def source(self) -> Path:
        return ROOT / (self.module.replace(".", "/") + ".py")

    @property
    def path(self) -> Path:
        return DOCS_DIR / f"{self.name}.json"

    @property
    def exists(self) -> bool:
        return self.source.is_file()


API_DOCUMENTS = (
    ApiDocument("partner-api", "functions.partner_api.app"),
    ApiDocument("admin-api", "functions.admin_api.app"),
)


def present() -> list[ApiDocument]:
    """The documents whose function exists in this checkout."""
    return [document for document in API_DOCUMENTS if document.exists]


def load_app(document: ApiDocument) -> Any:
    """The function's Powertools resolver (``app``), imported with a harmless environment."""
    for name, value in _HARMLESS_ENV.items():
        os.environ.setdefault(name, value)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = importlib.import_module(document.module)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_json_schema"):
        raise OpenApiError(f"{document.module} has no Powertools resolver named `app`")
    return app


def schema_of(document: ApiDocument) -> dict[str, Any]:
    """The document as the app declares it, with the committed ``servers``."""
    app = load_app(document)
    schema: dict[str, Any] = json.loads(app.get_openapi_json_schema(servers=SERVERS))
    _require_declared(document, schema)
    return schema


def _require_declared(document: ApiDocument, schema: dict[str, Any]) -> None:
    missing = []
    if schema.get("info", {}).get("title") in (None, "", POWERTOOLS_DEFAULT_TITLE):
        missing.append("a title")
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if not any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values()):
        missing.append("a Bearer security scheme")
    if not schema.get("security"):
        missing.append("a default security requirement")
    if not str(schema.get("openapi", "")).startswith("3.1"):
        missing.append("OpenAPI 3.1")
    if missing:
        raise OpenApiError(
            f"{document.source.relative_to(ROOT)}: declare {', '.join(missing)} with "
            "app.configure_openapi(title=..., version=..., security_schemes={'bearer': HTTPBearer()}, "
            "security=[{'bearer': []}]) before app.enable_swagger(...)"
        )


def render(schema: dict[str, Any]) -> str:
    """The committed text: sorted keys, two-space indent, UTF-8 as is, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> list[Path]:
    """Regenerate every document; remove the ones whose function is gone. The paths written."""
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for document in present():
        text = render(schema_of(document))
        if not document.path.exists() or document.path.read_text(encoding="utf-8") != text:
            document.path.write_text(text, encoding="utf-8")
            written.append(document.path)
    for document in API_DOCUMENTS:
        if not document.exists and document.path.exists():
            document.path.unlink()
            written.append(document.path)
    return written


def check() -> list[str]:
    """What differs between the committed documents and the code (empty: nothing)."""
    problems = []
    for document in present():
        relative = document.path.relative_to(ROOT)
        try:
            expected = render(schema_of(document))
        except OpenApiError as error:
            problems.append(str(error))
            continue
        if not document.path.exists():
            problems.append(f"{relative} is missing")
            continue
        committed = document.path.read_text(encoding="utf-8")
        if committed != expected:
            diff = difflib.unified_diff(
                committed.splitlines(), expected.splitlines(), f"{relative} (committed)", "from the code", n=1
            )
            head = list(diff)[:60]
            problems.append(f"{relative} differs from the code:\n" + "\n".join(head))
    for document in API_DOCUMENTS:
        if not document.exists and document.path.exists():
            problems.append(f"{document.path.relative_to(ROOT)} is committed but {document.module} is gone")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate or check the committed OpenAPI documents.")
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    if args.command == "write":
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("The OpenAPI documents are out of date: run `make openapi` and commit them.", file=sys.stderr)
        return 1
    print(f"OpenAPI documents up to date: {', '.join(d.name for d in present())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
