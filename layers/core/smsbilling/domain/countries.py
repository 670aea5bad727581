"""Where an MT may go: the destination's country calling code and the premium-rate ranges.

**Country codes.** An E.164 number starts with its country calling code (ITU-T E.164 assignments):
one digit for zones 1 (the North American Numbering Plan) and 7 (Russia, Kazakhstan), two digits
for the codes in :data:`TWO_DIGIT_CODES`, three digits for every other number. The codes are
prefix-free, so the rule needs no full table; a country here is a calling code, so every NANP
country is "1".

**Allowed countries** (per partner, ``PartnerTrafficSettings.allowed_countries``): the calling
codes a partner's MTs may go to; ``None`` means the countries of the platform's operators.

**Premium ranges** (:class:`PremiumRange`, admin-managed): E.164 prefixes known as premium-rate or
high-cost numbers (the targets of SMS pumping). An MT to such a number is refused unless the
partner's ``premium_ranges_allowed`` covers every range the number is in (deny by default).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Final

from pydantic import Field

from smsbilling.domain.entities import Entity, Operator
from smsbilling.domain.msisdn import MsisdnError
from smsbilling.domain.traffic import PartnerTrafficSettings

ONE_DIGIT_CODES: Final = frozenset({"1", "7"})
TWO_DIGIT_CODES: Final = frozenset(
    {
        "20", "27",
        "30", "31", "32", "33", "34", "36", "39",
        "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58",
        "60", "61", "62", "63", "64", "65", "66",
        "81", "82", "84", "86",
        "90", "91", "92", "93", "94", "95", "98",
    }
)  # fmt: skip
PREMIUM_PREFIX_PATTERN: Final = r"^[1-9][0-9]{1,14}$"
NOTE_CHARS_MAX: Final = 200


def country_code_of(msisdn: str) -> str:
    """The country calling code of an E.164 number (digits, no '+'); MsisdnError if it is none."""
    if not msisdn or not msisdn.isascii() or not msisdn.isdigit() or msisdn.startswith("0"):
        raise MsisdnError(f"{msisdn!r} is not an E.164 number")
    if msisdn[0] in ONE_DIGIT_CODES:
        return msisdn[0]
    if msisdn[:2] in TWO_DIGIT_CODES:
        return msisdn[:2]
    if len(msisdn) < 3:
        raise MsisdnError(f"{msisdn!r} is too short for a country code")
    return msisdn[:3]


def is_country_code(code: str) -> bool:
    """Whether ``code`` is a whole calling code (``44``; not ``4`` nor ``441``)."""
    if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 3):
        return False
    try:
        return country_code_of(code + "0000000") == code
    except MsisdnError:
        return False


class PremiumRange(Entity):
    """An E.164 prefix of premium-rate / high-cost numbers, kept by the admin (listed by prefix)."""

    type_name: ClassVar[str] = "PREMIUM"
    id_fields: ClassVar[tuple[str, ...]] = ("prefix",)
    prefix: str = Field(pattern=PREMIUM_PREFIX_PATTERN, description="E.164 digits, country code first")
    note: str = Field(default="", max_length=NOTE_CHARS_MAX, description="what the range is, who reported it")
    created_at: datetime
    updated_at: datetime | None = None

    def listing(self) -> tuple[str, str]:
        return "PREMIUM", self.prefix


def operator_countries(operators: Iterable[Operator]) -> frozenset[str]:
    """The calling codes of the platform's operators (a partner's countries when none are set)."""
    return frozenset(operator.country_code for operator in operators)


def allowed_countries(
    settings: PartnerTrafficSettings | None, operators: Iterable[Operator]
) -> frozenset[str]:
    """The calling codes a partner's MTs may go to."""
    if settings is None or settings.allowed_countries is None:
        return operator_countries(operators)
    return frozenset(settings.allowed_countries)


class RefusalKind(StrEnum):
    COUNTRY = "country"
    PREMIUM = "premium"


@dataclass(frozen=True, slots=True)
class DestinationRefusal:
    """Why an MT may not go to its destination; ``rule_id`` names the country or the range."""

    kind: RefusalKind
    rule_id: str
    reason: str


def premium_ranges_of(msisdn: str, ranges: Iterable[PremiumRange]) -> list[PremiumRange]:
    """The premium ranges ``msisdn`` is in, the longest (most specific) first."""
    found = [r for r in ranges if msisdn.startswith(r.prefix)]
    return sorted(found, key=lambda r: (-len(r.prefix), r.prefix))


def destination_refusal(
    msisdn: str,
    *,
    countries: Collection[str],
    premium_ranges: Iterable[PremiumRange],
    premium_allowed: Collection[str] = (),
) -> DestinationRefusal | None:
    """None when an MT may go to ``msisdn`` (E.164 digits); else the first reason it may not.

    The country comes first: a number in a country the partner may not send to is refused as such,
    whatever range it is in. A number in premium ranges passes only when every one of them is
    covered by an allowance (an allowed prefix that is the range's prefix or a prefix of it).
    """
    try:
        country = country_code_of(msisdn)
    except MsisdnError:
        return DestinationRefusal(RefusalKind.COUNTRY, "invalid", f"{msisdn!r} is not an E.164 number")
    if country not in countries:
        return DestinationRefusal(
            RefusalKind.COUNTRY, country, f"destination country +{country} is not allowed for this partner"
        )
    for found in premium_ranges_of(msisdn, premium_ranges):
        if not any(found.prefix.startswith(allowed) for allowed in premium_allowed):
            note = f" ({found.note})" if found.note else ""
            return DestinationRefusal(
                RefusalKind.PREMIUM,
                found.prefix,
                f"destination is in premium-rate range +{found.prefix}{note}, not allowed for this partner",
            )
    return None


def premium_range(prefix: str, note: str, now: datetime) -> PremiumRange:
    """A new range (``now`` as UTC)."""
    return PremiumRange(prefix=prefix, note=note, created_at=now.astimezone(UTC))


__all__ = [
    "ONE_DIGIT_CODES",
    "TWO_DIGIT_CODES",
    "DestinationRefusal",
    "PremiumRange",
    "RefusalKind",
    "allowed_countries",
    "country_code_of",
    "destination_refusal",
    "is_country_code",
    "operator_countries",
    "premium_range",
    "premium_ranges_of",
]
