"""Subscriber blacklists: scopes, STOP entries, which MTs a STOP blocks, and CSV imports (pure).

A :class:`~smsbilling.domain.entities.BlacklistEntry` is keyed by ``(scope, msisdn)``, the MSISDN
as E.164 digits. Three kinds of scope, each its own listing (``gsi1pk = BLACKLIST#<scope>``):

=======================  =====================================================================
scope                    who the subscriber gets nothing from
=======================  =====================================================================
``*``                    every partner (the platform's list: admins only)
``<partner_id>``         one partner, every one of its services
``<partner_id>/<sid>``   one service of that partner
=======================  =====================================================================

Partner and service ids are ``[A-Za-z0-9._-]`` (web/admin/common.py ``ID_PATTERN``; generated ids
are ``ptr_<hex>``, ``svc_<hex>``), so ``/`` cannot occur in either and a scope names exactly one
list. The service scope keeps the partner id in it so that a partner's lists sort together and a
scope alone says whose it is.

**STOP entries.** A subscriber's stop word adds them to the partner's list with the reason
``STOP from subscriber at <UTC time>`` (:func:`stop_reason`) and ``created_at`` = the stop MO's
time. That reason prefix marks the entry as the subscriber's own opt-out, so nobody else may write
it (:func:`reason_problem`). An opt-out blocks what the partner sends on its own initiative (API
and SMPP sends, subscription charges, OTP), not what answers the subscriber (a reply to their MO,
the platform's confirmation notices: :data:`SOLICITED_PURPOSES`), and never the subscriber's own
MOs. Subscribing again lifts it; the partner cannot (docs/traffic/blacklists.md).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from smsbilling.contracts import MtPurpose
from smsbilling.domain.entities import BlacklistEntry
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn

GLOBAL_SCOPE: Final = "*"
SERVICE_SEPARATOR: Final = "/"
REASON_CHARS_MAX: Final = 200
STOP_REASON_PREFIX: Final = "STOP from subscriber at "
SOLICITED_PURPOSES: Final = frozenset({MtPurpose.REPLY, MtPurpose.NOTICE, MtPurpose.DEFAULT_REPLY})
"""MTs that answer the subscriber: a STOP entry does not block them (another entry does)."""
CSV_LINE_CHARS_MAX: Final = 1024
_HEADER_CELLS: Final = frozenset({"msisdn", "number", "phone", "subscriber"})


def scope_of(partner_id: str | None, service_id: str | None = None) -> str:
    """The scope of the platform's list, a partner's, or one of its services'."""
    if partner_id is None:
        if service_id is not None:
            raise ValueError("a service's list belongs to a partner")
        return GLOBAL_SCOPE
    if not partner_id or SERVICE_SEPARATOR in partner_id or partner_id == GLOBAL_SCOPE:
        raise ValueError(f"not a partner id: {partner_id!r}")
    if service_id is None:
        return partner_id
    if not service_id or SERVICE_SEPARATOR in service_id:
        raise ValueError(f"not a service id: {service_id!r}")
    return f"{partner_id}{SERVICE_SEPARATOR}{service_id}"


def parse_scope(scope: str) -> tuple[str | None, str | None]:
    """``(partner_id, service_id)`` of a scope (``(None, None)``: the platform's list)."""
    if scope == GLOBAL_SCOPE:
        return None, None
    partner_id, _, service_id = scope.partition(SERVICE_SEPARATOR)
    return partner_id, service_id or None


def entry_id(scope: str, msisdn: str) -> str:
    """The entity id of ``msisdn`` (E.164 digits) on the list ``scope``."""
    return f"{scope}#{msisdn}"


def stop_reason(at: datetime) -> str:
    return f"{STOP_REASON_PREFIX}{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def is_stop_entry(entry: BlacklistEntry) -> bool:
    """Whether the entry is a subscriber's opt-out (made by their stop word, nobody else)."""
    return entry.reason.startswith(STOP_REASON_PREFIX)


def reason_problem(reason: str) -> str | None:
    """Why a reason given by an admin or a partner cannot be stored, or None."""
    if len(reason) > REASON_CHARS_MAX:
        return f"at most {REASON_CHARS_MAX} characters"
    if reason.startswith(STOP_REASON_PREFIX):
        return f"{STOP_REASON_PREFIX.strip()!r} marks a subscriber's own STOP; write another reason"
    return None


def refusal(entry: BlacklistEntry) -> str:
    """What a blocked message says (its MO or MT ``reason``)."""
    partner_id, service_id = parse_scope(entry.scope)
    if partner_id is None:
        return "the subscriber is blacklisted"  # the platform's reason is the admins' note: not shown
    where = f"by {partner_id}" if service_id is None else f"by {partner_id} for service {service_id}"
    return f"the subscriber is blacklisted {where}" + (f": {entry.reason}" if entry.reason else "")


# --- CSV imports -------------------------------------------------------------------------------------


class TooManyRows(ValueError):
    def __init__(self, rows_max: int) -> None:
        super().__init__(f"more than {rows_max} rows; split the file")
        self.rows_max = rows_max


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # 1-based line of the file
    msisdn: str  # E.164 digits
    reason: str


@dataclass(frozen=True, slots=True)
class CsvError:
    line: int
    value: str  # the line's first cell as given (cut to 64 characters)
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    rows: tuple[CsvRow, ...]
    errors: tuple[CsvError, ...]


def parse_csv(text: str, *, rows_max: int) -> ParsedCsv:
    """The rows of a blacklist CSV: ``msisdn[,reason]`` per line, a header line optional.

    Numbers are international in any usual form (``+44 7700 900123``, ``0044...``, ``44...``) and
    come out as E.164 digits. Blank lines are skipped. The first line is a header when its first
    cell names the column (``msisdn``, ``number``, ``phone``, ``subscriber``). A line that cannot
    be imported is an error naming its line number; the others are rows. The delimiter is ``,``,
    or ``;`` when the first line has a ``;`` and no ``,`` (spreadsheets in many locales). More
    than ``rows_max`` non-blank lines (the header not counted): :class:`TooManyRows`.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = ";" if ";" in first and "," not in first else ","
    rows: list[CsvRow] = []
    errors: list[CsvError] = []
    seen_first = False
    counted = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = _cells(line, delimiter)
        head = (cells[0] if cells else line.split(delimiter, 1)[0]).strip()
        if not seen_first:
            seen_first = True
            if head.lower() in _HEADER_CELLS:
                continue
        counted += 1
        if counted > rows_max:
            raise TooManyRows(rows_max)
        found = _row(number, line, cells, head)
        if isinstance(found, CsvError):
            errors.append(found)
        else:
            rows.append(found)
    return ParsedCsv(tuple(rows), tuple(errors))


def _cells(line: str, delimiter: str) -> list[str] | None:
    """The line's cells, or None when it is not valid CSV (an unbalanced quote)."""
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [""])
    except csv.Error:
        return None


def _row(number: int, line: str, cells: list[str] | None, head: str) -> CsvRow | CsvError:
    def error(reason: str) -> CsvError:
        return CsvError(number, head[:64], reason)

    if len(line) > CSV_LINE_CHARS_MAX:
        return error(f"longer than {CSV_LINE_CHARS_MAX} characters")
    if cells is None:
        return error("malformed CSV (unbalanced quotes)")
    if len(cells) > 2:  # msisdn and reason
        return error("expected msisdn[,reason]")
    try:
        msisdn = normalise_msisdn(head, default_country_code=None)
    except MsisdnError as failure:
        return error(f"not an international number: {failure}")
    reason = cells[1].strip() if len(cells) == 2 else ""
    problem = reason_problem(reason)
    if problem is not None:
        return error(f"reason: {problem}")
    return CsvRow(number, msisdn, reason)
