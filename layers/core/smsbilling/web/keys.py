"""Partner API: API keys (logic/partner_accounts.py, docs/partner-api.md "API keys").

All need a key with ``keys:manage``:

- ``POST /v1/keys`` ``{"scopes": [...], "label": "..."}``: 201 with the new key; its secret is in
  this answer only (the platform keeps its SHA-256).
- ``GET /v1/keys``: the partner's keys, revoked ones too, without secrets (``hint``: the last four
  characters), a page at a time (``limit``, ``cursor``).
- ``DELETE /v1/keys/{key_id}``: revoke (200, the key as it is now). Another partner's key, a
  random id or a key revoked already: 404. The last active ``keys:manage`` key: 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.api_scopes import Scope, effective_scopes
from smsbilling.domain.entities import ApiKey
from smsbilling.logic import partner_accounts as accounts
from smsbilling.web.account_deps import caller, deps, page_limit, problem_of, responses
from smsbilling.web.conventions import shown_once

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]
_FORBIDDEN = "The key lacks keys:manage, or the account is not active (e-mail not confirmed)."


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Scope] | None = Field(
        default=None, min_length=1, max_length=len(Scope), description="default: every scope"
    )
    label: str = Field(default="", max_length=100, description="your name for the key")


class KeyView(BaseModel):
    key_id: str
    label: str
    scopes: list[str]
    hint: str = Field(description="the key's last characters (empty for keys made outside the API)")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(
            key_id=key.key_id,
            label=key.label,
            scopes=list(effective_scopes(key.scopes)),
            hint=key.hint,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class NewKeyView(KeyView):
    secret: str = Field(description="the API key itself: shown once, send it as Authorization: Bearer")

    @classmethod
    def of(cls, issued: accounts.IssuedKey) -> NewKeyView:  # type: ignore[override]
        return cls(**KeyView.of(issued.key).model_dump(), secret=issued.secret)


class KeyPage(BaseModel):
    items: list[KeyView]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: the last page")


@router.post(
    "/v1/keys",
    summary="Create an API key",
    tags=["keys"],
    responses=responses(
        (201, "The key; its secret is shown only in this answer."),
        {
            403: _FORBIDDEN,
            409: "The account has as many active keys as it may (key_limit_reached).",
            422: "Invalid request: unknown scopes or fields.",
        },
    ),
)
def create_key(body: Annotated[KeyRequest, Body()]) -> Response[NewKeyView]:
    key, partner = caller(router, Scope.KEYS_MANAGE)
    d = deps()
    try:
        issued = accounts.create_key(
            partner.partner_id,
            None if body.scopes is None else [scope.value for scope in body.scopes],
            body.label,
            now=d.clock(),
            store=d.store,
            limits=d.limits,
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("api key created", extra={"key_id": issued.key.key_id, "by": key.key_id})
    return shown_once(NewKeyView.of(issued), 201)


@router.get(
    "/v1/keys",
    summary="List API keys",
    tags=["keys"],
    responses=responses(
        (200, "A page of keys, without secrets."),
        {400: "A cursor this listing did not hand out.", 403: _FORBIDDEN, 422: "Invalid limit."},
    ),
)
def list_keys(
    limit: Annotated[int | None, Query(description="page size")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> KeyPage:
    _, partner = caller(router, Scope.KEYS_MANAGE)
    try:
        found, after = deps().store.keys_of(partner.partner_id, limit=page_limit(limit), cursor=cursor)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    return KeyPage(items=[KeyView.of(k) for k in found], next_cursor=after)


@router.delete(
    "/v1/keys/<key_id>",
    summary="Revoke an API key",
    tags=["keys"],
    responses=responses(
        (200, "The key, revoked."),
        {
            403: _FORBIDDEN,
            404: "No such active key for this partner.",
            409: "The last active key with keys:manage (last_manage_key).",
            422: "Invalid key id.",
        },
    ),
)
def revoke_key(key_id: Annotated[str, Path(min_length=1, max_length=64)]) -> KeyView:
    key, partner = caller(router, Scope.KEYS_MANAGE)
    d = deps()
    try:
        revoked = accounts.revoke_key(partner.partner_id, key_id, now=d.clock(), store=d.store)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("api key revoked", extra={"key_id": key_id, "by": key.key_id})
    return KeyView.of(revoked)
