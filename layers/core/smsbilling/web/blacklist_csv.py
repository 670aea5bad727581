"""The CSV body of the blacklist imports (admin and partner API) and what an import answers.

The APIs take JSON everywhere else: Powertools refuses any other media type with 415 for a route
that declares a body model (web/problems.py). The import routes declare none, so the validation
middleware leaves their body alone; :func:`csv_text` reads it here and answers 415 for anything
but ``text/csv``, 413 past ``request_body_bytes_max``, 422 for a body that is not UTF-8. The
OpenAPI document gets the request body from :data:`CSV_REQUEST_BODY`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from pydantic import BaseModel, Field

from smsbilling.logic.blacklists import ImportReport
from smsbilling.web.problems import ApiProblem

CSV_MEDIA_TYPE: Final = "text/csv"
CSV_REQUEST_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": (
            "One subscriber per line: msisdn[,reason] (international numbers in any usual form; a "
            "header line msisdn,reason optional; ';' instead of ',' also read). UTF-8."
        ),
        "content": {
            CSV_MEDIA_TYPE: {
                "schema": {"type": "string"},
                "example": "msisdn,reason\n+44 7700 900123,complained\n447700900124\n",
            }
        },
    }
}


class ImportLineError(BaseModel):
    line: int = Field(description="1-based line of the file")
    value: str = Field(description="the line's number as given")
    reason: str


class ImportView(BaseModel):
    rows: int = Field(description="lines with a number (header and blank lines not counted)")
    added: int = Field(description="new entries")
    already_listed: int = Field(description="listed before (or twice in the file): left as they were")
    errors: list[ImportLineError] = Field(description="lines not imported, and why")

    @classmethod
    def of(cls, report: ImportReport) -> ImportView:
        return cls(
            rows=report.rows,
            added=len(report.added),
            already_listed=report.listed,
            errors=[ImportLineError(line=e.line, value=e.value, reason=e.reason) for e in report.errors],
        )


def csv_text(router: BaseRouter, *, bytes_max: int) -> str:
    """The request's CSV body as text, or the problem answering why it cannot be read."""
    event = router.current_event
    content_type = (event.headers or {}).get("content-type", "") or ""
    if content_type.split(";", 1)[0].strip().lower() != CSV_MEDIA_TYPE:
        raise ApiProblem(415, "unsupported_media_type", "Send the list as text/csv.")
    raw: bytes
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ApiProblem(400, "malformed_body", "The body is not valid base64.") from None
    else:
        raw = body.encode("utf-8")
    if len(raw) > bytes_max:
        raise ApiProblem(413, "payload_too_large", f"The list is larger than {bytes_max} bytes; split it.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": "body", "reason": "not UTF-8 text"}],
        ) from None
