"""Partner API: the partner's own subscriber blacklist (logic/blacklists.py, docs/traffic/blacklists.md).

A listed subscriber gets no MT from the partner and their MOs to it are dropped unbilled. Each
route works on the partner's list, or with ``?service_id=`` on the list of one of its services
(another partner's service, or none: 404, as for a listed number that is not on the list).

- ``GET /v1/blacklist`` (``services:read``): a page of entries, by MSISDN.
- ``POST /v1/blacklist`` (``services:write``) ``{"msisdn", "reason"?, "service_id"?}``: 201; 200
  when the same entry is there (a retry); 409 ``already_exists`` when listed for another reason.
- ``GET /v1/blacklist/{msisdn}`` (``services:read``): one entry.
- ``DELETE /v1/blacklist/{msisdn}`` (``services:write``): 200 with the entry removed; a
  subscriber's own STOP (``opted_out``) is 409 ``opted_out``: only they lift it, by subscribing
  again (or the platform's staff).
- ``POST /v1/blacklist/import`` (``services:write``): a ``text/csv`` body (web/blacklist_csv.py);
  200 with what was added and the lines that were not.

The platform's own list is not shown to partners. Its stores are built from the settings on first
use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Protocol
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore, InvalidCursor
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.blacklists import TooManyRows, is_stop_entry, parse_scope
from smsbilling.domain.entities import BlacklistEntry
from smsbilling.logic import blacklists
from smsbilling.settings import ApiLimits, TrafficLimits, load_settings
from smsbilling.web.account_deps import authorised, page_size, responses
from smsbilling.web.blacklist_csv import CSV_REQUEST_BODY, ImportView, csv_text
from smsbilling.web.problems import ApiProblem

router = Router()  # type: ignore[no-untyped-call]


class Store(blacklists.BlacklistStore, Protocol):
    """The entities table (DynamoEntityStore, MemoryEntityStore): the lists and the API keys."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BlacklistDeps:
    entities: Store
    traffic: TrafficLimits
    api: ApiLimits
    clock: Callable[[], datetime] = field(default=_utc_now)


_override: list[BlacklistDeps] = []


def use(deps: BlacklistDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> BlacklistDeps:
    settings = load_settings()
    return BlacklistDeps(
        entities=DynamoEntityStore(aws.dynamodb(), settings.tables.entities),
        traffic=settings.traffic,
        api=settings.api,
    )


def _deps() -> BlacklistDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------------

ServiceQuery = Annotated[
    str | None, Query(min_length=1, max_length=64, description="one of your services' lists")
]
# API Gateway (REST) passes the path percent-encoded: decoded in the route, then checked.
Msisdn = Annotated[str, Path(min_length=6, max_length=64, description="international, e.g. 447700900123")]


class EntryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str = Field(min_length=6, max_length=32, description="international, e.g. +44 7700 900123")
    reason: str = Field(default="", max_length=200, description="your note")
    service_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="one of your services; null: all of them"
    )


class EntryView(BaseModel):
    msisdn: str = Field(description="E.164 digits")
    service_id: str | None = Field(description="null: every service of yours")
    reason: str
    opted_out: bool = Field(description="the subscriber sent STOP; lifted only when they subscribe again")
    created_at: datetime

    @classmethod
    def of(cls, entry: BlacklistEntry) -> EntryView:
        return cls(
            msisdn=entry.msisdn,
            service_id=parse_scope(entry.scope)[1],
            reason=entry.reason,
            opted_out=is_stop_entry(entry),
            created_at=entry.created_at,
        )


class EntryPage(BaseModel):
    items: list[EntryView]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: the last page")


# --- what every route shares ------------------------------------------------------------------------------


def _caller(scope: Scope) -> tuple[Store, str]:
    """The store and the calling partner's id: 401, or 403 (inactive partner, scope missing)."""
    store = _deps().entities
    _, partner = authorised(router, store, scope)
    return store, partner.partner_id


@contextmanager
def _problems() -> Iterator[None]:
    """The one place the list operations' refusals become problems."""
    try:
        yield
    except (blacklists.UnknownService, blacklists.EntryNotFound):
        raise ApiProblem(404, "not_found", "No such resource.") from None
    except blacklists.InvalidEntry as error:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": error.field, "reason": error.reason}],
        ) from None
    except blacklists.EntryExists as error:
        raise ApiProblem(409, "already_exists", f"{error.entry.msisdn} is listed already.") from None
    except blacklists.OptedOut:
        raise ApiProblem(
            409, "opted_out", "The subscriber sent STOP; only they can lift it, by subscribing again."
        ) from None
    except TooManyRows as error:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": "body", "reason": str(error)}],
        ) from None
    except InvalidCursor:
        raise ApiProblem(400, "invalid_cursor", "The cursor is not one this listing handed out.") from None


def _page_size(limit: int | None) -> int:
    return page_size(limit, _deps().api.page_size_max)


_FORBIDDEN = "The key lacks the scope, or the account is not active."
_NO_SERVICE = "service_id is not one of your services."


# --- routes -----------------------------------------------------------------------------------------------


@router.get(
    "/v1/blacklist",
    summary="List your blacklist",
    tags=["blacklist"],
    responses=responses(
        (200, "A page of entries, by MSISDN."),
        {
            400: "A cursor this listing did not hand out.",
            403: _FORBIDDEN,
            404: _NO_SERVICE,
            422: "Invalid limit.",
        },
    ),
)
def list_blacklist(
    service_id: ServiceQuery = None,
    limit: Annotated[int | None, Query(description="page size")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> EntryPage:
    store, partner_id = _caller(Scope.SERVICES_READ)
    with _problems():
        scope = blacklists.service_scope(store, partner_id, service_id)
        found, after = store.blacklist(scope, limit=_page_size(limit), cursor=cursor)
    return EntryPage(items=[EntryView.of(entry) for entry in found], next_cursor=after)


@router.post(
    "/v1/blacklist",
    summary="Blacklist a subscriber",
    tags=["blacklist"],
    responses=responses(
        (201, "Listed."),
        {
            403: _FORBIDDEN,
            404: _NO_SERVICE,
            409: "Listed already, for another reason (already_exists).",
            422: "Invalid request: the number is not international, unknown fields.",
        },
    )
    | {200: {"description": "Listed already, for the same reason."}},
)
def add_to_blacklist(body: Annotated[EntryRequest, Body()]) -> tuple[EntryView, int]:
    store, partner_id = _caller(Scope.SERVICES_WRITE)
    with _problems():
        scope = blacklists.service_scope(store, partner_id, body.service_id)
        wanted = blacklists.new_entry(scope, body.msisdn, body.reason, _deps().clock())
        entry, created = blacklists.add(store, wanted)
    return EntryView.of(entry), 201 if created else 200


@router.get(
    "/v1/blacklist/<msisdn>",
    summary="Get a blacklist entry",
    tags=["blacklist"],
    responses=responses(
        (200, "The entry."),
        {403: _FORBIDDEN, 404: "Not on the list (or service_id is not yours).", 422: "Not a number."},
    ),
)
def get_blacklisted(msisdn: Msisdn, service_id: ServiceQuery = None) -> EntryView:
    store, partner_id = _caller(Scope.SERVICES_READ)
    with _problems():
        scope = blacklists.service_scope(store, partner_id, service_id)
        return EntryView.of(blacklists.find(store, scope, unquote(msisdn)))


@router.delete(
    "/v1/blacklist/<msisdn>",
    summary="Remove a subscriber from your blacklist",
    tags=["blacklist"],
    responses=responses(
        (200, "The entry removed."),
        {
            403: _FORBIDDEN,
            404: "Not on the list (or service_id is not yours).",
            409: "The subscriber's own STOP (opted_out).",
            422: "Not a number.",
        },
    ),
)
def remove_from_blacklist(msisdn: Msisdn, service_id: ServiceQuery = None) -> EntryView:
    store, partner_id = _caller(Scope.SERVICES_WRITE)
    with _problems():
        scope = blacklists.service_scope(store, partner_id, service_id)
        return EntryView.of(blacklists.remove(store, scope, unquote(msisdn), lift_opt_outs=False))


@router.post(
    "/v1/blacklist/import",
    summary="Import subscribers to your blacklist from CSV",
    description="Adds each valid line (idempotent); lines that cannot be imported are listed with why.",
    tags=["blacklist"],
    openapi_extensions=CSV_REQUEST_BODY,
    responses=responses(
        (200, "What the import added, and the lines it did not."),
        {
            403: _FORBIDDEN,
            404: _NO_SERVICE,
            413: "Larger than the API takes: split the file.",
            415: "Not text/csv.",
            422: "More rows than one import takes, or not UTF-8.",
        },
    ),
)
def import_blacklist(service_id: ServiceQuery = None) -> ImportView:
    store, partner_id = _caller(Scope.SERVICES_WRITE)
    deps = _deps()
    with _problems():
        scope = blacklists.service_scope(store, partner_id, service_id)
        text = csv_text(router, bytes_max=deps.api.request_body_bytes_max)
        report = blacklists.import_csv(
            store, scope, text, at=deps.clock(), rows_max=deps.traffic.blacklist_import_rows_max
        )
    return ImportView.of(report)
