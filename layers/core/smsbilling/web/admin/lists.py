"""Admin API: subscriber blacklists and reserved prefixes (logic/admin_lists.py).

A blacklist is platform-wide (no ``partner_id``) or one partner's (``partner_id`` in the body or
the query). MSISDNs are international, in any usual form (``+44 7700 900123``, ``00447700900123``,
``447700900123``); entries are keyed by the E.164 digits. Reserved prefixes are keyed by the folded
word, so ``/admin/reserved-prefixes/stop`` finds the entry made for ``STOP``. Path segments come
percent-encoded from API Gateway and are decoded here (``%2B44...``, Cyrillic words).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import BlacklistEntry, ReservedPrefix
from smsbilling.logic import admin_lists as lists
from smsbilling.logic.admin_common import Invalid, NotFound
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, created_status, page_size
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

PartnerQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="a partner's list; omitted: the platform-wide one"),
]
# API Gateway (REST) passes the path percent-encoded: these are decoded in the route, then checked.
Msisdn = Annotated[str, Path(min_length=6, max_length=64, description="international, e.g. 447700900123")]
Word = Annotated[
    str, Path(min_length=1, max_length=200, description="the word, in any spelling it folds from")
]


class BlacklistAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(min_length=6, max_length=32, description="international, e.g. +44 7700 900123")
    partner_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="null: every partner"
    )
    reason: str = Field(default="", max_length=200)


class BlacklistView(BaseModel):
    msisdn: str = Field(description="E.164 digits")
    partner_id: str | None = Field(description="null: platform-wide")
    reason: str
    created_at: datetime


class BlacklistPage(BaseModel):
    items: list[BlacklistView]
    next_cursor: str | None


class ReservedAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    word: str = Field(min_length=1, max_length=32, description="one word of letters and digits")
    kind: Literal["reserved", "forbidden"] = Field(description="reserved: the platform keeps it")
    reason: str = Field(default="", max_length=200)


class ReservedView(BaseModel):
    word: str
    folded: str = Field(description="the matching form: case and look-alikes folded")
    kind: Literal["reserved", "forbidden"]
    reason: str
    created_at: datetime


class ReservedPage(BaseModel):
    items: list[ReservedView]
    next_cursor: str | None


def blacklist_view(entry: BlacklistEntry) -> BlacklistView:
    partner_id = None if entry.scope == lists.GLOBAL_SCOPE else entry.scope
    return BlacklistView(
        msisdn=entry.msisdn, partner_id=partner_id, reason=entry.reason, created_at=entry.created_at
    )


def reserved_view(entry: ReservedPrefix) -> ReservedView:
    return ReservedView.model_validate(entry.model_dump())


# --- blacklists -------------------------------------------------------------------------------------------


@router.get("/admin/blacklist", summary="List a blacklist", tags=["blacklists"])
def list_blacklist(
    partner_id: PartnerQuery = None, limit: Limit = None, cursor: Cursor = None
) -> BlacklistPage:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id)
        found, after = store.blacklist(scope, limit=page_size(limit), cursor=cursor)
    return BlacklistPage(items=[blacklist_view(e) for e in found], next_cursor=after)


@router.post(
    "/admin/blacklist",
    summary="Blacklist a subscriber",
    tags=["blacklists"],
    responses={200: {"description": "Listed already, for the same reason."}, 409: {"description": "Listed."}},
)
def add_to_blacklist(body: Annotated[BlacklistAdd, Body()]) -> tuple[BlacklistView, int]:
    call = admin_call(router)
    store = deps().entities
    with admin_errors():
        try:
            scope = lists.blacklist_scope(store, body.partner_id)
        except NotFound:  # a reference in the body, not the path
            raise Invalid("partner_id", "no such partner") from None
        entry, created = lists.add_to_blacklist(store, call, scope, body.msisdn, body.reason)
    return blacklist_view(entry), created_status(created)


@router.get("/admin/blacklist/<msisdn>", summary="Get a blacklist entry", tags=["blacklists"])
def get_blacklisted(msisdn: Msisdn, partner_id: PartnerQuery = None) -> BlacklistView:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id)
        entry = store.get(BlacklistEntry, f"{scope}#{lists.international(unquote(msisdn))}")
        if entry is None:
            raise NotFound("blacklist entry")
    return blacklist_view(entry)


@router.delete(
    "/admin/blacklist/<msisdn>", summary="Remove a subscriber from a blacklist", tags=["blacklists"]
)
def remove_from_blacklist(msisdn: Msisdn, partner_id: PartnerQuery = None) -> BlacklistView:
    call = admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id)
        return blacklist_view(lists.remove_from_blacklist(store, call, scope, unquote(msisdn)))


# --- reserved prefixes ------------------------------------------------------------------------------------


@router.get("/admin/reserved-prefixes", summary="List reserved and forbidden prefixes", tags=["prefixes"])
def list_reserved(limit: Limit = None, cursor: Cursor = None) -> ReservedPage:
    admin_call(router)
    with admin_errors():
        found, after = deps().entities.reserved_prefixes(limit=page_size(limit), cursor=cursor)
    return ReservedPage(items=[reserved_view(e) for e in found], next_cursor=after)


@router.post(
    "/admin/reserved-prefixes",
    summary="Reserve or forbid a prefix",
    tags=["prefixes"],
    responses={
        200: {"description": "The same entry existed already."},
        409: {"description": "Entry exists."},
    },
)
def reserve_prefix(body: Annotated[ReservedAdd, Body()]) -> tuple[ReservedView, int]:
    call = admin_call(router)
    with admin_errors():
        entry, created = lists.reserve_prefix(deps().entities, call, body.word, body.kind, body.reason)
    return reserved_view(entry), created_status(created)


@router.get("/admin/reserved-prefixes/<word>", summary="Get a reserved prefix", tags=["prefixes"])
def get_reserved(word: Word) -> ReservedView:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        entry = store.get(ReservedPrefix, lists.folded_word(store, unquote(word)))
        if entry is None:
            raise NotFound("reserved prefix")
    return reserved_view(entry)


@router.delete("/admin/reserved-prefixes/<word>", summary="Release a reserved prefix", tags=["prefixes"])
def release_reserved(word: Word) -> ReservedView:
    call = admin_call(router)
    with admin_errors():
        return reserved_view(lists.release_prefix(deps().entities, call, unquote(word)))
