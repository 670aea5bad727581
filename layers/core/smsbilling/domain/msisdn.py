"""Subscriber numbers to E.164, and sender/recipient addresses in general.

**Canonical form: E.164 digits without the '+'** ("447700900123"), everywhere: stored items, keys,
blacklists, partner callbacks. SMPP ``TON=1`` addresses are already in that form, so it costs
nothing on the busiest path and never needs URL escaping.

Rules of :func:`normalise_msisdn`, in order:

1. spaces, tabs, dashes, dots and parentheses are removed (and "(0)", the optional trunk prefix
   of "+44 (0)20 ...", in international numbers); anything else that is not an ASCII digit
   (letters, full-width digits, a second '+') is an error;
2. a leading ``+`` or ``00`` (the ITU international prefix) means international, whatever the TON;
3. ``TON=1`` (international) means the digits already start with the country code;
4. a **trunk prefix** makes the number national: a leading ``0`` in general, and for country code 7
   (Russia/Kazakhstan) also a leading ``8`` on an 11-digit number ("89161234567" -> "79161234567").
   The length test keeps "8613800138000" (China, international) from being read as Russian. It is
   replaced by ``default_country_code``; without one, a national number is an error;
5. ``TON=2`` (national) without a trunk prefix is a national significant number: the country code is
   prepended ("7700900123" -> "447700900123");
6. otherwise (TON 0/unknown or not given) the digits are taken as international without '+'.
   Countries without a trunk prefix (Norway, Denmark, ...) therefore need TON=2 or full numbers.

The result must have 7..15 digits and must not start with 0. TON 3, 4, 5 and 6 are not subscriber
numbers here. NPI is informational: SMSCs send NPI 0 and 1 for the same numbers, so it never changes
the outcome. Invalid input raises :class:`MsisdnError` and nothing else (a malformed
``default_country_code`` is a configuration error: ``ValueError``).

:func:`parse_address` / :func:`normalise_address` also accept what can stand in a sender or short
number field: alphanumeric senders (TON 5, or letters with an unknown TON; at most 11 GSM 03.38
characters, returned as they are) and short codes (TON 3/4/6, or up to ``short_code_digits_max``
bare digits, returned as digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

from smsbilling.domain.text.gsm7 import gsm7_septets, is_gsm7

E164_DIGITS_MIN: Final = 7
E164_DIGITS_MAX: Final = 15
ALPHANUMERIC_SEPTETS_MAX: Final = 11
SHORT_CODE_DIGITS_MAX: Final = 6
RAW_LENGTH_MAX: Final = 64
_RUSSIAN_NATIONAL_DIGITS: Final = 11
_FORMATTING: Final = str.maketrans("", "", " \t-.()")
_ASCII_DIGITS: Final = frozenset("0123456789")


class MsisdnError(ValueError):
    """An address that cannot be normalised; the message says why."""


class Ton(IntEnum):
    """SMPP type of number."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class AddressKind(StrEnum):
    MSISDN = "msisdn"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"


@dataclass(frozen=True, slots=True)
class Address:
    kind: AddressKind
    value: str


def normalise_msisdn(
    raw: str,
    *,
    default_country_code: str | None,
    ton: int | None = None,
    npi: int | None = None,
) -> str:
    """E.164 digits without '+' for a subscriber number (rules in the module docstring)."""
    del npi  # informational, see the module docstring
    if ton not in (None, Ton.UNKNOWN, Ton.INTERNATIONAL, Ton.NATIONAL):
        raise MsisdnError(f"TON {ton} is not a subscriber number")
    international, digits = _clean(raw)
    if not (international or ton == Ton.INTERNATIONAL):
        digits = _apply_country_code(digits, default_country_code, national=ton == Ton.NATIONAL)
    return _checked(digits)


def _clean(raw: str) -> tuple[bool, str]:
    """(explicitly international, digits) after removing formatting and the '+'/'00' prefix."""
    text = _unformatted(raw)
    international = text.startswith(("+", "00"))
    if international:
        text = _unformatted(raw.replace("(0)", "", 1))  # "+44 (0)20 ...": an optional trunk prefix
    digits = text[1:] if text.startswith("+") else text[2:] if international else text
    return international, _digits(digits, raw)


def _unformatted(raw: str) -> str:
    if len(raw) > RAW_LENGTH_MAX:
        raise MsisdnError(f"address is longer than {RAW_LENGTH_MAX} characters")
    return raw.strip().translate(_FORMATTING)


def _digits(digits: str, raw: str) -> str:
    if not digits or not _ASCII_DIGITS.issuperset(digits):
        raise MsisdnError(f"{raw!r} is not a phone number")
    return digits


def _apply_country_code(digits: str, country_code: str | None, *, national: bool) -> str:
    """Replace a trunk prefix (or, for TON=2, prepend) with the default country code."""
    trunk = _trunk_prefix_length(digits, country_code)
    if not (trunk or national):
        return digits
    if country_code is None:
        raise MsisdnError(f"{digits!r} is a national number and no default country code is set")
    if not (country_code.isascii() and country_code.isdigit() and 1 <= len(country_code) <= 3):
        raise ValueError(f"default_country_code must be 1-3 digits, got {country_code!r}")
    return country_code + digits[trunk:]


def _trunk_prefix_length(digits: str, country_code: str | None) -> int:
    if digits.startswith("0"):
        return 1
    if country_code == "7" and digits.startswith("8") and len(digits) == _RUSSIAN_NATIONAL_DIGITS:
        return 1
    return 0


def _checked(digits: str) -> str:
    if digits.startswith("0"):
        raise MsisdnError(f"{digits!r}: a country code never starts with 0")
    if not E164_DIGITS_MIN <= len(digits) <= E164_DIGITS_MAX:
        raise MsisdnError(
            f"{digits!r} has {len(digits)} digits, E.164 needs {E164_DIGITS_MIN}..{E164_DIGITS_MAX}"
        )
    return digits


def parse_address(
    raw: str,
    *,
    default_country_code: str | None,
    ton: int | None = None,
    npi: int | None = None,
    short_code_digits_max: int = SHORT_CODE_DIGITS_MAX,
) -> Address:
    """Classify and normalise a sender/recipient: MSISDN, short code or alphanumeric."""
    if ton == Ton.ALPHANUMERIC or (ton in (None, Ton.UNKNOWN) and _looks_alphanumeric(raw)):
        return Address(AddressKind.ALPHANUMERIC, _checked_alphanumeric(raw))
    if ton in (Ton.NETWORK_SPECIFIC, Ton.SUBSCRIBER, Ton.ABBREVIATED):
        return Address(AddressKind.SHORT_CODE, _short_code(raw))
    if ton in (None, Ton.UNKNOWN):
        international, digits = _clean(raw)
        if not international and len(digits) <= short_code_digits_max:
            return Address(AddressKind.SHORT_CODE, digits)
    value = normalise_msisdn(raw, default_country_code=default_country_code, ton=ton, npi=npi)
    return Address(AddressKind.MSISDN, value)


def normalise_address(
    raw: str,
    *,
    default_country_code: str | None,
    ton: int | None = None,
    npi: int | None = None,
    short_code_digits_max: int = SHORT_CODE_DIGITS_MAX,
) -> str:
    """:func:`parse_address`'s value: alphanumeric as-is, short codes as digits, MSISDNs as E.164."""
    return parse_address(
        raw,
        default_country_code=default_country_code,
        ton=ton,
        npi=npi,
        short_code_digits_max=short_code_digits_max,
    ).value


def _looks_alphanumeric(raw: str) -> bool:
    return any(ch.isalpha() for ch in raw)


def _checked_alphanumeric(raw: str) -> str:
    if not raw.strip() or len(raw) > ALPHANUMERIC_SEPTETS_MAX or not is_gsm7(raw):
        raise MsisdnError(f"{raw!r} is not an alphanumeric address (1..11 GSM 03.38 characters)")
    if gsm7_septets(raw) > ALPHANUMERIC_SEPTETS_MAX:
        raise MsisdnError(f"{raw!r} is longer than {ALPHANUMERIC_SEPTETS_MAX} septets")
    return raw


def _short_code(raw: str) -> str:
    digits = _digits(_unformatted(raw), raw)
    if len(digits) > E164_DIGITS_MAX:
        raise MsisdnError(f"short code {raw!r} is longer than {E164_DIGITS_MAX} digits")
    return digits
