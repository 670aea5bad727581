"""Cursor pagination for the partner API's listings: signed opaque cursors, and merging index streams.

**Listing keys.** A listed record sorts by a *listing key*, ``<UTC ISO 8601 time>#<id>``
(:func:`listing_key`): unique (the id is in it), and ordered by time, then id, as strings, as
long as every time is UTC (``isoformat`` writes ``+00:00``; ``+`` sorts before ``.``, so a time
without microseconds sorts before the same second with them). Listings run **newest first**.

**Boundaries.** A page ends at a *boundary*: the next page holds only keys strictly below it. A
listing key is a valid boundary, and so is a bound built from a bare time (:func:`time_bound`),
which sorts before every key of that instant.

**Merging.** One listing may read several index partitions (MOs and MTs; the shards of one
partner's journal). Each is read newest first into a :class:`Window`: what it found, and how far
it looked (its *frontier*). :func:`merge_newest_first` returns only what every window has looked
past, so a page never holds a record older than one a later page would return.

**Cursors.** :func:`encode_cursor` wraps a boundary (and anything else the listing needs) in
base64url JSON with an HMAC-SHA256 tag over the payload and a *context* string (the caller's
partner, the listing and its filters). :func:`decode_cursor` refuses anything it did not sign for
the same context: :class:`CursorError`, which the API answers with 400. Nothing secret or
authoritative is in a cursor (the partner comes from the API key); the tag keeps clients from
depending on its shape and catches a cursor reused with other filters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

CURSOR_CHARS_MAX: Final = 1024
_TAG_BYTES: Final = 16
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{2,1000}\.[A-Za-z0-9_-]{22}$")
KEY_SEP: Final = "#"


class CursorError(ValueError):
    """A cursor this listing did not hand out, altered, or handed out for other filters."""


def utc_iso(at: datetime) -> str:
    """``at`` in UTC as ISO 8601 (``+00:00``); a naive time is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat()


def listing_key(at: datetime, record_id: str) -> str:
    return f"{utc_iso(at)}{KEY_SEP}{record_id}"


def time_bound(at: datetime) -> str:
    """A boundary at ``at``: below every listing key at ``at`` or later, above every earlier one."""
    return utc_iso(at)


def ms_key(at_ms: int, record_id: str) -> str:
    """A listing key from epoch milliseconds (fixed width: 13 digits until the year 2286)."""
    return f"{at_ms:013d}{KEY_SEP}{record_id}"


def ms_bound(at_ms: int) -> str:
    return f"{at_ms:013d}"


def key_id(key: str) -> str:
    """The record id of a listing key."""
    return key.split(KEY_SEP, 1)[1]


# --- merging newest-first windows ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window[T]:
    """What one index partition gave, newest first, and how far down it was read.

    ``frontier`` is the last key examined (inclusive: nothing at or above it was missed); None
    when the partition has nothing more below the items given.
    """

    items: tuple[tuple[str, T], ...]
    frontier: str | None


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: tuple[T, ...]
    boundary: str | None
    """Where the next page starts (keys strictly below it); None: this was the last page."""


def merge_newest_first[T](windows: Sequence[Window[T]], limit: int) -> Page[T]:
    """The newest ``limit`` items of the windows that every window has read past.

    A window that stopped early (a read budget, a page of its own) caps the page at its frontier:
    items of other windows below it wait for the next page, which reads that window further.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    frontiers = [w.frontier for w in windows if w.frontier is not None]
    floor = max(frontiers) if frontiers else None
    eligible = sorted(
        (pair for w in windows for pair in w.items if floor is None or pair[0] >= floor),
        key=lambda pair: pair[0],
        reverse=True,
    )
    page = eligible[:limit]
    if len(eligible) > limit:
        boundary: str | None = page[-1][0]
    else:
        boundary = floor
    return Page(tuple(item for _, item in page), boundary)


# --- signed cursors -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, context: str, payload: str) -> bytes:
    message = f"{len(context)}:{context}|{payload}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:_TAG_BYTES]


def context_of(*parts: object) -> str:
    """A context string from the things a cursor is only valid for (partner, listing, filters)."""
    return json.dumps([str(part) if part is not None else None for part in parts], separators=(",", ":"))


def encode_cursor(values: dict[str, Any], *, key: bytes, context: str) -> str:
    if not key:
        raise ValueError("empty cursor key")
    payload = _b64(json.dumps(values, separators=(",", ":"), sort_keys=True).encode())
    token = f"{payload}.{_b64(_tag(key, context, payload))}"
    if len(token) > CURSOR_CHARS_MAX:
        raise ValueError("cursor too long")
    return token


def decode_cursor(token: str, *, key: bytes, context: str) -> dict[str, Any]:
    """The values of a cursor made by :func:`encode_cursor` with this key and context."""
    if not key:
        raise ValueError("empty cursor key")
    if len(token) > CURSOR_CHARS_MAX or not _CURSOR.match(token):
        raise CursorError("malformed cursor")
    payload, tag = token.split(".")
    try:
        given = _unb64(tag)
    except (binascii.Error, ValueError):
        raise CursorError("malformed cursor") from None
    if not hmac.compare_digest(given, _tag(key, context, payload)):
        raise CursorError("cursor not valid for this request")
    try:
        values = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):  # pragma: no cover - we signed it, so we wrote it
        raise CursorError("malformed cursor") from None
    if not isinstance(values, dict):  # pragma: no cover - same
        raise CursorError("malformed cursor")
    return values


def boundary_of(values: dict[str, Any]) -> str:
    """The boundary a decoded cursor carries (``b``), checked to be a non-empty string."""
    boundary = values.get("b")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 300:
        raise CursorError("malformed cursor")
    return boundary
