"""The schemathesis checks shared by the in-process and the local-cloud runs.

Every response: no 5xx. A 2xx: its content type and body conform to the committed document. A 4xx
from the app: an ``application/problem+json`` body with a stable ``code`` (API Gateway's own
answers, such as its 403 for a method it does not route, are not the app's and are left alone).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "openapi"
# Per operation: enough to reach every documented status on 2 CPUs in a few minutes for the whole API.
EXAMPLES_PER_OPERATION_MAX = 12
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION_MAX,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: a failure reproduces, and the run time is stable
    suppress_health_check=list(HealthCheck),
)


def committed(name: str) -> Any:
    """The committed document as schemathesis reads it (an empty API when it is not committed)."""
    path = DOCS / f"{name}.json"
    raw = (
        json.loads(path.read_text())
        if path.exists()
        else {"openapi": "3.1.0", "info": {"title": name, "version": "0"}, "paths": {}}
    )
    return schemathesis.openapi.from_dict(raw)


def call_and_check(case: Any, base_url: str, key: str) -> Any:
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    status = response.status_code
    if 200 <= status < 300:
        case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
    elif 400 <= status < 500 and not _gateway_answer(response):
        content_type = _header(response, "content-type")
        assert content_type.startswith("application/problem+json"), (
            f"{case.method} {case.formatted_path} answered {status} as {content_type!r}, not a problem: "
            f"{response.text[:300]}"
        )
        assert isinstance(response.json().get("code"), str), response.text[:300]
    return response


def _header(response: Any, name: str) -> str:
    value = response.headers.get(name, "")
    return str(value[-1] if isinstance(value, list) and value else value or "")


def _gateway_answer(response: Any) -> bool:
    """API Gateway's own refusals carry ``{"message": ...}`` and no problem type."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and set(body) == {"message"}
