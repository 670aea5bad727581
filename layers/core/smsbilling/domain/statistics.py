"""A partner's statistics: billed messages and income per day, service, short number and operator.

Pure. Counted where the charge is booked (logic/charging.py), once per message, in the
partner's share the ledger posts (``Split.partner``, minor units, with its currency):

==================  ==========================================================================
field               what
==================  ==========================================================================
``charged``         charges posted: MO-billing at the MO, MT-billing when the DLR says delivered
``income``          the partner's share of those (what its ``earned_pending`` account received)
``pending``         MT-billing charges waiting for their DLR
``pending_income``  their share, not yet income
``voided``          MT-billing charges voided (undelivered, expired, rejected): never income
==================  ==========================================================================

A message counts on the UTC day of its charge (the transfer's ``at_ms``), also when its DLR comes
the next day. Free messages post nothing and are not counted; nor are test MOs, which are never
charged. The period-close recount (a single ``recount`` transfer per period) is not spread over
days and services: it shows in the statement, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum


def day_of(at_ms: int) -> date:
    return datetime.fromtimestamp(at_ms // 1000, tz=UTC).date()


@dataclass(frozen=True, slots=True)
class Counts:
    charged: int = 0
    income: int = 0
    pending: int = 0
    pending_income: int = 0
    voided: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)))

    def __neg__(self) -> Counts:
        return Counts(*(-getattr(self, f.name) for f in fields(Counts)))

    def changed(self) -> dict[str, int]:
        """The non-zero fields."""
        return {f.name: getattr(self, f.name) for f in fields(Counts) if getattr(self, f.name)}


def booked(income: int, *, pending: bool) -> Counts:
    """A charge booked: posted at once (MO-billing) or pending (MT-billing)."""
    return Counts(pending=1, pending_income=income) if pending else Counts(charged=1, income=income)


def settled(income: int, *, delivered: bool) -> Counts:
    """A pending charge resolved: posted (delivered) or voided."""
    moved = Counts(charged=1, income=income) if delivered else Counts(voided=1)
    return moved + Counts(pending=-1, pending_income=-income)


@dataclass(frozen=True, slots=True)
class ChargeEntry:
    """One message's charge as statistics count it."""

    message_id: str
    partner_id: str
    service_id: str
    short_number: str
    operator_id: str
    at_ms: int
    currency: str
    income: int
    """The partner's share (``Split.partner``)."""

    @property
    def day(self) -> date:
        return day_of(self.at_ms)


@dataclass(frozen=True, slots=True)
class StatLine:
    """The counts of one day, service, short number, operator and currency (as stored)."""

    day: date
    service_id: str
    short_number: str
    operator_id: str
    currency: str
    counts: Counts


class Dimension(StrEnum):
    DAY = "day"
    SERVICE = "service"
    SHORT_NUMBER = "short_number"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class StatRow:
    """Counts summed over the dimensions not grouped by (those are None)."""

    currency: str
    counts: Counts
    day: date | None = None
    service_id: str | None = None
    short_number: str | None = None
    operator_id: str | None = None


def summarise(lines: Iterable[StatLine], group_by: Iterable[Dimension]) -> list[StatRow]:
    """Rows per currency and the grouped dimensions, ordered by them; empty counts dropped."""
    dims = frozenset(group_by)
    sums: dict[tuple[str, date | None, str | None, str | None, str | None], Counts] = {}
    for line in lines:
        key = (
            line.currency,
            line.day if Dimension.DAY in dims else None,
            line.service_id if Dimension.SERVICE in dims else None,
            line.short_number if Dimension.SHORT_NUMBER in dims else None,
            line.operator_id if Dimension.OPERATOR in dims else None,
        )
        sums[key] = sums.get(key, Counts()) + line.counts
    rows = [
        StatRow(currency, counts, day, service_id, short_number, operator_id)
        for (currency, day, service_id, short_number, operator_id), counts in sums.items()
        if counts.changed()
    ]
    rows.sort(
        key=lambda r: (
            r.day or date.min,
            r.service_id or "",
            r.short_number or "",
            r.operator_id or "",
            r.currency,
        )
    )
    return rows
