"""A partner's messages: one by id, or a filtered listing of its MOs and MTs in cursor pages.

Only the caller's messages exist for it: another partner's id, an MO not routed to the caller, an
unknown id are all :class:`MessageNotFound`. The listing holds what domain/message_search.py says
(decided MOs, final MTs), newest first; its cursor (domain/cursors.py) is only valid with the
filters it was made for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from smsbilling.domain.cursors import (
    Page,
    boundary_of,
    context_of,
    decode_cursor,
    encode_cursor,
    utc_iso,
)
from smsbilling.domain.inbound import StoredMo
from smsbilling.domain.message_search import Direction, MessageFilter
from smsbilling.ports import MtRecord

Listed = StoredMo | MtRecord


class MessageSearch(Protocol):
    def search(
        self, partner_id: str, query: MessageFilter, *, before: str | None, limit: int, examined_max: int
    ) -> Page[Listed]:
        """The partner's listed messages matching ``query``, newest first, keys below ``before``.

        At most ``limit``; fewer (with a boundary) when ``examined_max`` index entries were read.
        """
        ...


class MoReader(Protocol):
    def get(self, message_id: str) -> StoredMo | None: ...


class MtReader(Protocol):
    def get(self, message_id: str) -> MtRecord | None: ...


class MessageNotFound(LookupError):
    """No such message for this partner."""


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message as the partner API shows it (MO or MT)."""

    message_id: str
    direction: Direction
    status: str
    at: datetime
    msisdn: str | None
    short_number: str | None
    operator_id: str | None
    service_id: str | None
    text: str | None
    test: bool
    billed: bool
    price: int | None
    currency: str | None
    in_reply_to: str | None = None
    keyword: str | None = None
    parts: int | None = None
    final_at: datetime | None = None
    reason: str = ""


def view_of(record: Listed) -> MessageView:
    if isinstance(record, StoredMo):
        return MessageView(
            message_id=record.message_id,
            direction=Direction.MO,
            status=record.state.value,
            at=record.received_at,
            msisdn=record.msisdn,
            short_number=record.short_number,
            operator_id=record.operator_id,
            service_id=record.service_id,
            text=record.full_text if record.full_text is not None else record.text,
            test=record.is_test,
            billed=record.charged_amount is not None,
            price=record.charged_amount,
            currency=record.currency,
            keyword=record.prefix,
            reason=record.reason,
        )
    mt = record.mt
    return MessageView(
        message_id=record.message_id,
        direction=Direction.MT,
        status="held" if record.held_reason else mt.state.value,  # held by traffic control: queued
        at=record.created_at,
        msisdn=record.destination,
        short_number=record.source,
        operator_id=record.operator_id,
        service_id=record.service_id,
        text=record.text,
        test=record.is_test,
        billed=record.billed,
        price=None,
        currency=None,
        in_reply_to=record.in_reply_to,
        parts=len(mt.parts),
        final_at=None if mt.final_at_ms is None else datetime.fromtimestamp(mt.final_at_ms / 1000, tz=UTC),
        reason=record.held_reason or mt.reason,
    )


def get_message(partner_id: str, message_id: str, *, mos: MoReader, mts: MtReader) -> MessageView:
    mo = mos.get(message_id)
    if mo is not None and mo.partner_id == partner_id:
        return view_of(mo)
    mt = mts.get(message_id)
    if mt is not None and mt.partner_id == partner_id:
        return view_of(mt)
    raise MessageNotFound(message_id)


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: tuple[MessageView, ...]
    next_cursor: str | None


def _context(partner_id: str, query: MessageFilter) -> str:
    return context_of(
        partner_id,
        "messages",
        utc_iso(query.since) if query.since else None,
        utc_iso(query.until) if query.until else None,
        query.msisdn,
        query.status,
        query.service_id,
        query.direction,
    )


def search_messages(
    search: MessageSearch,
    partner_id: str,
    query: MessageFilter,
    *,
    cursor: str | None,
    limit: int,
    examined_max: int,
    cursor_key: bytes,
) -> MessagePage:
    """One page; CursorError for a cursor not made for this partner and these filters."""
    context = _context(partner_id, query)
    before = boundary_of(decode_cursor(cursor, key=cursor_key, context=context)) if cursor else None
    page = search.search(partner_id, query, before=before, limit=limit, examined_max=examined_max)
    following = (
        encode_cursor({"b": page.boundary}, key=cursor_key, context=context) if page.boundary else None
    )
    return MessagePage(tuple(view_of(record) for record in page.items), following)
