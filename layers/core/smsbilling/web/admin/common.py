"""Shared by the admin routers: the caller, paging, and the one place admin errors become problems."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query

from smsbilling.adapters.dynamodb_entities import InvalidCursor
from smsbilling.domain.ledger import LedgerBusy, LedgerUnavailable
from smsbilling.logic.admin_common import AdminCall, AuditNotWritten, Conflict, Invalid, NotFound
from smsbilling.web.admin.deps import deps
from smsbilling.web.admin_auth import current_admin
from smsbilling.web.problems import ApiProblem

logger = Logger(child=True)

# Ids the admin chooses (operators, links, plans, adjustments, keys): safe in keys, paths and accounts.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ID_DESCRIPTION = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

Limit = Annotated[int | None, Query(ge=1, description="items per page (default 50, at most 200)")]
Cursor = Annotated[str | None, Query(min_length=1, max_length=1024, description="next_cursor of a page")]


def admin_call(router: BaseRouter) -> AdminCall:
    """Authenticate the caller (401 / 403) and stamp the request's time."""
    current = deps()
    key = current_admin(router, current.entities)
    return AdminCall(admin_key_id=key.key_id, now=current.clock())


def page_size(limit: int | None) -> int:
    current = deps()
    size = current.limits.page_size_default if limit is None else limit
    if size > current.api.page_size_max:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": "limit", "reason": f"at most {current.api.page_size_max}"}],
        )
    return size


def created_status(created: bool) -> int:
    """201 for a new entity; 200 when the same one was there already (a retried create)."""
    return 201 if created else 200


@contextmanager
def admin_errors() -> Iterator[None]:
    """Map what the admin logic raises to problem responses."""
    try:
        yield
    except NotFound as error:
        raise ApiProblem(404, "not_found", f"No such {error.what}.") from None
    except Conflict as error:
        raise ApiProblem(409, error.code, error.detail) from None
    except Invalid as error:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": error.field, "reason": error.reason}],
        ) from None
    except InvalidCursor:
        raise ApiProblem(400, "invalid_cursor", "The cursor is not one this listing handed out.") from None
    except AuditNotWritten as error:
        logger.error("admin change not audited", extra={"audit": error.entry.model_dump(mode="json")})
        raise ApiProblem(
            503, "audit_unavailable", "The change was made but its audit record could not be stored."
        ) from error
    except (LedgerBusy, LedgerUnavailable) as error:
        logger.warning("ledger unavailable", extra={"error": type(error).__name__})
        raise ApiProblem(
            503, "temporarily_unavailable", "The ledger is busy; retry.", headers={"Retry-After": "1"}
        ) from error
