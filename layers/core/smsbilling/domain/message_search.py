"""What a partner's message listing holds and how it is filtered (pure; the stores index, the API asks).

Listed: the partner's MOs once decided with its id on them (routed, or blacklisted by the partner),
keyed by ``received_at``; the partner's MTs once final, keyed by ``created_at`` (an MT still on
its way is found by id, not listed). Keys are :func:`~smsbilling.domain.cursors.listing_key`, so
both kinds merge into one newest-first listing.

Filters: a time range (``since`` inclusive, ``until`` exclusive), the subscriber's number (the MO's
sender, the MT's recipient; E.164 digits), a status (an MO state or an MT state: ``accepted`` is
both), a service, a direction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from smsbilling.domain.cursors import listing_key
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.mt import MtState

STATUSES: Final = frozenset(state.value for state in MoState) | frozenset(state.value for state in MtState)
_NOT_DIGITS = re.compile(r"[\s().+-]")
_MSISDN = re.compile(r"^[1-9][0-9]{5,14}$")


class Direction(StrEnum):
    MO = "mo"
    MT = "mt"


@dataclass(frozen=True, slots=True)
class MessageFilter:
    since: datetime | None = None
    until: datetime | None = None
    msisdn: str | None = None
    status: str | None = None
    service_id: str | None = None
    direction: Direction | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.msisdn is not None and not _MSISDN.match(self.msisdn):
            raise ValueError("msisdn must be normalised E.164 digits")

    def directions(self) -> tuple[Direction, ...]:
        return (self.direction,) if self.direction is not None else (Direction.MO, Direction.MT)


def msisdn_filter(raw: str) -> str:
    """A number as a partner types it (``+44 7700 900123``, ``0044...``) as E.164 digits.

    Raises ValueError for anything that is not an international number.
    """
    digits = _NOT_DIGITS.sub("", raw)
    if digits.startswith("00"):
        digits = digits[2:]
    if not _MSISDN.match(digits):
        raise ValueError("not an international number (country code first)")
    return digits


def mo_listed_for(mo: StoredMo) -> str | None:
    """The partner whose listing holds the MO (None: in no listing)."""
    return mo.partner_id if mo.state.is_decided else None


def mo_key(mo: StoredMo) -> str:
    return listing_key(mo.received_at, mo.message_id)


def mo_matches(mo: StoredMo, query: MessageFilter) -> bool:
    return (
        (query.msisdn is None or mo.msisdn == query.msisdn)
        and (query.status is None or mo.state.value == query.status)
        and (query.service_id is None or mo.service_id == query.service_id)
    )


def mt_matches(*, destination: str, state: MtState, service_id: str | None, query: MessageFilter) -> bool:
    return (
        (query.msisdn is None or destination == query.msisdn)
        and (query.status is None or state.value == query.status)
        and (query.service_id is None or service_id == query.service_id)
    )
