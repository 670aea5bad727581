"""The committed OpenAPI documents (docs/openapi/) are what the code declares, and what /docs serves.

Fails on drift with the diff and the command that fixes it: ``make openapi``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import openapi

DOCUMENTS = [pytest.param(document, id=document.name) for document in openapi.present()]


def test_the_partner_api_is_documented() -> None:
    assert "partner-api" in {document.name for document in openapi.present()}


def test_committed_documents_match_the_code() -> None:
    problems = openapi.check()
    assert not problems, (
        "\n\n".join(problems) + "\n\nThe OpenAPI documents are out of date: run `make openapi` and commit "
        "docs/openapi/."
    )


@pytest.mark.parametrize("document", DOCUMENTS)
def test_rendering_is_deterministic(document: openapi.ApiDocument) -> None:
    first, second = openapi.render(openapi.schema_of(document)), openapi.render(openapi.schema_of(document))
    assert first == second
    parsed = json.loads(first)
    assert parsed["openapi"].startswith("3.1")
    assert list(parsed) == sorted(parsed)
    assert [server["url"] for server in parsed["servers"]] == [server.url for server in openapi.SERVERS]


def swagger_path(app: Any) -> str:
    """Where the app serves Swagger UI (the route Powertools' enable_swagger registered)."""
    (path,) = [
        route.path
        for route in app._static_routes + app._dynamic_routes
        if route.func.__module__.startswith("aws_lambda_powertools") and route.method == "GET"
    ]
    return str(path)


def _event(app: Any, query: dict[str, str] | None) -> dict[str, Any]:
    path = swagger_path(app)
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": "GET", "path": f"/Prod{path}"},
        "body": None,
        "isBase64Encoded": False,
    }


def _served(app: Any) -> dict[str, Any]:
    """GET <swagger path>?format=json through the app, as API Gateway (stage Prod) delivers it."""
    answer = app.resolve(_event(app, {"format": "json"}), None)
    assert answer["statusCode"] == 200, answer
    served: dict[str, Any] = json.loads(answer["body"])
    return served


@pytest.mark.parametrize("document", DOCUMENTS)
def test_swagger_serves_the_committed_document(document: openapi.ApiDocument) -> None:
    """Everything but ``servers`` (the served copy names the host it came from) is the committed text."""
    committed = json.loads(document.path.read_text(encoding="utf-8"))
    served = _served(openapi.load_app(document))
    assert served.pop("servers") == [{"url": "/Prod"}]
    committed.pop("servers")
    assert served == committed


@pytest.mark.parametrize("document", DOCUMENTS)
def test_swagger_ui_assets_are_inlined(document: openapi.ApiDocument) -> None:
    """The UI page carries its JavaScript and CSS (works offline), and no third-party URL."""
    app = openapi.load_app(document)
    event = _event(app, None)
    answer = app.resolve(event, None)
    page = answer["body"]
    assert answer["statusCode"] == 200 and "SwaggerUIBundle" in page
    assert "<script src=" not in page and 'rel="stylesheet" href="http' not in page
