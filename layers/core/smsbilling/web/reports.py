"""What the messages, statistics and balance routers share: the scoped caller, page sizes, 422s."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from smsbilling.domain.api_scopes import Scope, has_scope
from smsbilling.domain.entities import ApiKey
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import ReportLimits
from smsbilling.web.partner_auth import current_key
from smsbilling.web.problems import ApiProblem


def scoped_key(source: BaseRouter, entities: EntityReader, scope: Scope) -> ApiKey:
    """The caller's key (401 if none) holding ``scope`` (403 if it does not)."""
    key = current_key(source, entities)
    if not has_scope(key.scopes, scope):
        raise ApiProblem(403, "insufficient_scope", f"This API key lacks the {scope.value} scope.")
    return key


def invalid(field: str, reason: str) -> ApiProblem:
    return ApiProblem(
        422, "validation_failed", "The request is not valid.", errors=[{"field": field, "reason": reason}]
    )


def page_size(asked: int | None, limits: ReportLimits, page_size_max: int) -> int:
    return min(asked or limits.page_size_default, page_size_max)


def utc(at: datetime | None, field: str) -> datetime | None:
    """A query parameter's instant in UTC (one without an offset is taken as UTC); 422 off the calendar."""
    if at is None:
        return None
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise invalid(field, "out of range") from None
