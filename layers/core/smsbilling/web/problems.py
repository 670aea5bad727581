"""HTTP problem responses (RFC 9457): the one place domain errors become HTTP answers.

Every API function installs these handlers, so a client always gets ``application/problem+json``
with a stable ``code`` and, for validation errors, the fields at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

PROBLEM_JSON = "application/problem+json"

logger = Logger(child=True)


class ApiProblem(Exception):
    """Raised by handlers and logic adapters to answer with a specific problem."""

    def __init__(
        self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[str]:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers)


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        fields.append({"field": ".".join(location), "reason": str(item.get("msg", "invalid"))})
    return fields


def install_problem_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiProblem)
    def _api_problem(error: ApiProblem) -> Response[str]:
        return problem(error.status, error.code, error.detail, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        return problem(422, "validation_failed", "The request is not valid.", errors=_field_errors(error))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        return problem(404, "not_found", "No such resource.")

    @app.exception_handler(json.JSONDecodeError)
    def _bad_json(_: json.JSONDecodeError) -> Response[str]:
        return problem(400, "malformed_json", "The request body is not valid JSON.")

    # The API takes JSON only. Powertools answers other media types itself (not as a problem), and
    # fails on a multipart body without a boundary with a bare ValueError before any route runs.
    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response[str]:
        return _not_json()

    @app.exception_handler(ValueError)
    def _unparsable(error: ValueError) -> Response[str]:
        content_type = (app.current_event.headers or {}).get("content-type", "")
        if content_type.strip().lower().startswith("multipart/"):
            return _not_json()
        raise error


def answer_refused_requests_first(
    app: APIGatewayRestResolver, first: Callable[[], Response[Any] | None]
) -> None:
    """Ask ``first`` before answering a request Powertools refuses ahead of every middleware (an
    invalid body or parameter, malformed JSON); its answer, when it has one, goes out instead.

    The admin gate (401/403 before any validation detail) and the rate limits (a refused request
    counts too) both stand there. Install after :func:`install_problem_handlers`.
    """
    for kind in (RequestValidationError, json.JSONDecodeError):
        answer = app.exception_handler_manager.lookup_exception_handler(kind)
        if answer is None:
            raise RuntimeError("install the problem handlers first")
        app.exception_handler(kind)(_first(first, answer))


def _first(
    first: Callable[[], Response[Any] | None], answer: Callable[[Exception], Any]
) -> Callable[[Exception], Any]:
    def handler(error: Exception) -> Any:
        found = first()
        return found if found is not None else answer(error)

    return handler


def _not_json() -> Response[str]:
    return problem(415, "unsupported_media_type", "Send the request body as application/json.")
