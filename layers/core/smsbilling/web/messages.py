"""Partner API: the caller's messages (logic/message_queries.py, docs/partner-api.md).

``GET /v1/messages`` lists the caller's MOs (once decided) and MTs (once final), newest first,
filtered by time (``from`` inclusive, ``to`` exclusive), ``msisdn``, ``status``, ``service_id``
and ``direction``, in pages of ``limit`` (at most ``api.page_size_max``) with an opaque
``next_cursor``; ``GET /v1/messages/{message_id}`` shows one MO or MT, also one on its way.
Another partner's message, or none, is 404; a cursor made for other filters or altered is 400
``invalid_cursor``. Both need the ``messages:read`` scope.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_message_search import DynamoMessageSearch
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.cursors import CursorError
from smsbilling.domain.message_search import STATUSES, Direction, MessageFilter, msisdn_filter
from smsbilling.logic import message_queries as queries
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import ReportLimits, load_settings
from smsbilling.web.problems import ApiProblem
from smsbilling.web.reports import invalid, page_size, scoped_key, utc

router = Router()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class MessagesDeps:
    entities: EntityReader
    search: queries.MessageSearch
    mos: queries.MoReader
    mts: queries.MtReader
    limits: ReportLimits
    page_size_max: int
    cursor_key: bytes


_override: list[MessagesDeps] = []


def use(deps: MessagesDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> MessagesDeps:
    settings = load_settings()
    client = aws.dynamodb()
    messages = settings.tables.messages
    return MessagesDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        search=DynamoMessageSearch(client, messages),
        mos=DynamoInboundStore(client, messages),
        mts=DynamoMtStore(client, messages, shards=settings.messages.mt_due_shards_count),
        limits=settings.reports,
        page_size_max=settings.api.page_size_max,
        cursor_key=settings.reports.cursor_signing_key.encode(),
    )


def _deps() -> MessagesDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------


class MessageOut(BaseModel):
    message_id: str
    direction: Direction = Field(description="mo: from the subscriber; mt: to the subscriber")
    status: str = Field(
        description="MO: routed, blacklisted, ...; MT: queued ... delivered, undelivered, ..."
    )
    at: datetime = Field(description="MO: received; MT: created (UTC)")
    msisdn: str | None = Field(description="the subscriber, E.164 digits without '+'")
    short_number: str | None = Field(description="the number the MO went to, or the MT came from")
    operator_id: str | None
    service_id: str | None
    text: str | None = Field(description="MO: decoded and reassembled; MT: as requested")
    keyword: str | None = Field(default=None, description="MO: the prefix as the subscriber wrote it")
    test: bool = Field(description="test traffic (the test tool): never billed, never sent to an operator")
    billed: bool = Field(description="MO: charged (MO-billing); MT: the billed MT of MT-billing")
    price: int | None = Field(default=None, description="MO: what the subscriber was charged, minor units")
    currency: str | None = None
    in_reply_to: str | None = Field(default=None, description="MT: the MO it answers")
    parts: int | None = Field(default=None, description="MT: SMS parts")
    final_at: datetime | None = Field(default=None, description="MT: when its state became final")
    reason: str = ""


class MessagePageOut(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = Field(description="pass as ?cursor= with the same filters; None: the end")


def _out(view: queries.MessageView) -> MessageOut:
    return MessageOut(
        message_id=view.message_id,
        direction=view.direction,
        status=view.status,
        at=view.at,
        msisdn=view.msisdn,
        short_number=view.short_number,
        operator_id=view.operator_id,
        service_id=view.service_id,
        text=view.text,
        keyword=view.keyword,
        test=view.test,
        billed=view.billed,
        price=view.price,
        currency=view.currency,
        in_reply_to=view.in_reply_to,
        parts=view.parts,
        final_at=view.final_at,
        reason=view.reason,
    )


# --- routes -----------------------------------------------------------------------------------------


@router.get(
    "/v1/messages",
    summary="List and search your messages (MOs and MTs)",
    tags=["messages"],
    responses={
        200: {"description": "One page, newest first, and the cursor of the next (null at the end)."},
        400: {
            "description": "A cursor this listing did not hand out, or for other filters (invalid_cursor)."
        },
        403: {"description": "The API key lacks the messages:read scope."},
        422: {"description": "A filter is not valid."},
    },
)
def list_messages(  # noqa: PLR0917 (Powertools passes query parameters by name)
    from_: Annotated[
        datetime | None, Query(alias="from", description="received / created at or after (ISO 8601)")
    ] = None,
    to: Annotated[datetime | None, Query(description="before this instant (ISO 8601)")] = None,
    msisdn: Annotated[str | None, Query(min_length=1, max_length=32, description="the subscriber")] = None,
    status: Annotated[
        str | None, Query(min_length=1, max_length=32, description=", ".join(sorted(STATUSES)))
    ] = None,
    service_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    direction: Annotated[Direction | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="page size (capped)")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> MessagePageOut:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_READ)
    from_, to = utc(from_, "from"), utc(to, "to")
    if from_ is not None and to is not None and to <= from_:
        raise invalid("to", "must be after 'from'")
    if status is not None and status not in STATUSES:
        raise invalid("status", f"one of {', '.join(sorted(STATUSES))}")
    number = None
    if msisdn is not None:
        try:
            number = msisdn_filter(msisdn)
        except ValueError as error:
            raise invalid("msisdn", str(error)) from None
    query = MessageFilter(
        since=from_, until=to, msisdn=number, status=status, service_id=service_id, direction=direction
    )
    try:
        page = queries.search_messages(
            deps.search,
            key.partner_id,
            query,
            cursor=cursor,
            limit=page_size(limit, deps.limits, deps.page_size_max),
            examined_max=deps.limits.messages_examined_max,
            cursor_key=deps.cursor_key,
        )
    except CursorError:
        raise ApiProblem(400, "invalid_cursor", "This cursor is not valid here.", field="cursor") from None
    return MessagePageOut(items=[_out(view) for view in page.items], next_cursor=page.next_cursor)


@router.get(
    "/v1/messages/<message_id>",
    summary="One of your messages (MO or MT)",
    tags=["messages"],
    responses={
        200: {"description": "The MO or MT."},
        403: {"description": "The API key lacks the messages:read scope."},
        404: {"description": "No such message for this partner."},
    },
)
def get_message(message_id: Annotated[str, Path(min_length=1, max_length=64)]) -> MessageOut:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_READ)
    try:
        view = queries.get_message(key.partner_id, message_id, mos=deps.mos, mts=deps.mts)
    except queries.MessageNotFound:
        raise ApiProblem(404, "not_found", "No such resource.") from None
    return _out(view)
