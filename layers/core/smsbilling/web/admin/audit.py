"""Admin API: the audit log of admin changes, and the admin keys themselves.

``GET /admin/audit?day=YYYY-MM-DD`` lists one UTC day's changes, oldest first: who (the admin key
id), when, the action, the entity key it touched and the fields it set (secrets redacted).
Admin keys are shown once, when created; revoking one takes effect on the next request.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import AdminKey
from smsbilling.logic import admin_auth
from smsbilling.web.admin.common import (
    ID_DESCRIPTION,
    ID_PATTERN,
    Cursor,
    Limit,
    admin_call,
    admin_errors,
    page_size,
)
from smsbilling.web.admin.deps import deps
from smsbilling.web.conventions import shown_once

router = Router()  # type: ignore[no-untyped-call]


class AuditView(BaseModel):
    audit_id: str
    at: datetime
    admin_key_id: str
    action: str
    target: str
    changes: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditView]
    next_cursor: str | None


class AdminKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(pattern=ID_PATTERN, description=ID_DESCRIPTION)
    name: str = Field(min_length=1, max_length=200, description="whose key it is")


class AdminKeyView(BaseModel):
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class NewAdminKey(AdminKeyView):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


class AdminKeyPage(BaseModel):
    items: list[AdminKeyView]
    next_cursor: str | None


def key_view(key: AdminKey) -> AdminKeyView:
    return AdminKeyView(
        key_id=key.key_id, name=key.name, created_at=key.created_at, revoked_at=key.revoked_at
    )


@router.get("/admin/audit", summary="One UTC day of admin changes", tags=["audit"])
def list_audit(
    day: Annotated[date | None, Query(description="UTC day, YYYY-MM-DD; default today")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> AuditPage:
    call = admin_call(router)
    with admin_errors():
        found, after = deps().entities.audit_entries(
            day or call.now.date(), limit=page_size(limit), cursor=cursor
        )
    return AuditPage(items=[AuditView.model_validate(e.model_dump()) for e in found], next_cursor=after)


@router.get("/admin/admin-keys", summary="List admin keys", tags=["audit"])
def list_admin_keys(limit: Limit = None, cursor: Cursor = None) -> AdminKeyPage:
    admin_call(router)
    with admin_errors():
        found, after = deps().entities.admin_keys(limit=page_size(limit), cursor=cursor)
    return AdminKeyPage(items=[key_view(k) for k in found], next_cursor=after)


@router.post(
    "/admin/admin-keys",
    summary="Issue an admin key (shown once)",
    tags=["audit"],
    responses={409: {"description": "The key id is taken."}},
)
def create_admin_key(body: Annotated[AdminKeyCreate, Body()]) -> Response[NewAdminKey]:
    call = admin_call(router)
    with admin_errors():
        entity, key = admin_auth.create_admin_key(deps().entities, call, body.key_id, body.name)
    return shown_once(NewAdminKey(**key_view(entity).model_dump(), key=key), 201)


@router.delete("/admin/admin-keys/<key_id>", summary="Revoke an admin key", tags=["audit"])
def revoke_admin_key(
    key_id: Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)],
) -> AdminKeyView:
    call = admin_call(router)
    with admin_errors():
        return key_view(admin_auth.revoke_admin_key(deps().entities, call, key_id))
