"""Admin API: subscriber blacklists and reserved prefixes (logic/admin_lists.py).

A blacklist is platform-wide (no ``partner_id``), one partner's (``partner_id`` in the body or the
query) or one service's (``service_id``; its partner is implied). ``POST /admin/blacklist/import``
takes a ``text/csv`` list (web/blacklist_csv.py). MSISDNs are international, in any usual form
(``+44 7700 900123``, ``00447700900123``, ``447700900123``); entries are keyed by the E.164
digits. Reserved prefixes are keyed by the folded word, so ``/admin/reserved-prefixes/stop`` finds
the entry made for ``STOP``. Path segments come percent-encoded from API Gateway and are decoded
here (``%2B44...``, Cyrillic words).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.blacklists import entry_id, is_stop_entry, parse_scope
from smsbilling.domain.entities import BlacklistEntry, ReservedPrefix
from smsbilling.logic import admin_lists as lists
from smsbilling.logic.admin_common import Invalid, NotFound
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, created_status, page_size
from smsbilling.web.admin.deps import deps
from smsbilling.web.blacklist_csv import CSV_REQUEST_BODY, ImportView, csv_text

router = Router()  # type: ignore[no-untyped-call]

PartnerQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="a partner's list; omitted: the platform-wide one"),
]
ServiceQuery = Annotated[
    str | None, Query(min_length=1, max_length=64, description="one service's list (its partner's)")
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
    service_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="one service's list (partner_id implied)"
    )
    reason: str = Field(default="", max_length=200)


class BlacklistView(BaseModel):
    msisdn: str = Field(description="E.164 digits")
    partner_id: str | None = Field(description="null: platform-wide")
    service_id: str | None = Field(description="set: one service's list")
    reason: str
    opted_out: bool = Field(description="the subscriber's own STOP (lifted when they subscribe again)")
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
    partner_id, service_id = parse_scope(entry.scope)
    return BlacklistView(
        msisdn=entry.msisdn,
        partner_id=partner_id,
        service_id=service_id,
        reason=entry.reason,
        opted_out=is_stop_entry(entry),
        created_at=entry.created_at,
    )


def reserved_view(entry: ReservedPrefix) -> ReservedView:
    return ReservedView.model_validate(entry.model_dump())


# --- blacklists -------------------------------------------------------------------------------------------


@router.get("/admin/blacklist", summary="List a blacklist", tags=["blacklists"])
def list_blacklist(
    partner_id: PartnerQuery = None,
    service_id: ServiceQuery = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> BlacklistPage:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id, service_id)
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
            scope = lists.blacklist_scope(store, body.partner_id, body.service_id)
        except NotFound as error:  # a reference in the body, not the path
            field = "service_id" if body.service_id is not None else "partner_id"
            raise Invalid(field, f"no such {error.what}") from None
        entry, created = lists.add_to_blacklist(store, call, scope, body.msisdn, body.reason)
    return blacklist_view(entry), created_status(created)


@router.get("/admin/blacklist/<msisdn>", summary="Get a blacklist entry", tags=["blacklists"])
def get_blacklisted(
    msisdn: Msisdn, partner_id: PartnerQuery = None, service_id: ServiceQuery = None
) -> BlacklistView:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id, service_id)
        entry = store.get(BlacklistEntry, entry_id(scope, lists.international(unquote(msisdn))))
        if entry is None:
            raise NotFound("blacklist entry")
    return blacklist_view(entry)


@router.delete(
    "/admin/blacklist/<msisdn>", summary="Remove a subscriber from a blacklist", tags=["blacklists"]
)
def remove_from_blacklist(
    msisdn: Msisdn, partner_id: PartnerQuery = None, service_id: ServiceQuery = None
) -> BlacklistView:
    call = admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = lists.blacklist_scope(store, partner_id, service_id)
        return blacklist_view(lists.remove_from_blacklist(store, call, scope, unquote(msisdn)))


@router.post(
    "/admin/blacklist/import",
    summary="Import a blacklist from CSV",
    description="Adds each valid line (idempotent); lines that cannot be imported are listed with why.",
    tags=["blacklists"],
    openapi_extensions=CSV_REQUEST_BODY,
    responses={
        413: {"description": "Larger than the API takes: split the file."},
        415: {"description": "Not text/csv."},
        422: {"description": "More rows than one import takes (traffic.blacklist_import_rows_max)."},
    },
)
def import_blacklist(partner_id: PartnerQuery = None, service_id: ServiceQuery = None) -> ImportView:
    call = admin_call(router)
    current = deps()
    with admin_errors():
        scope = lists.blacklist_scope(current.entities, partner_id, service_id)
        text = csv_text(router, bytes_max=current.api.request_body_bytes_max)
        report = lists.import_blacklist(
            current.entities, call, scope, text, rows_max=current.traffic.blacklist_import_rows_max
        )
    return ImportView.of(report)


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
