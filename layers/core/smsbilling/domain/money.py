"""Money: integer amounts with the currency beside them, and the one rounding rule.

Scales
------
* ``Money.amount`` is in **minor units** of the currency (kopecks, cents): the ISO 4217 exponent
  gives the scale (``RUB``/``EUR``/``USD`` 2, ``JPY`` 0, ``KWD`` 3). Unknown codes default to 2.
* Credits (the prepaid sending balance) are the pseudo-currency :data:`CREDITS` (``XCR``, from the
  ISO 4217 user-assigned ``X..`` range) with scale 0: one unit is one credit.
* Tariff rates that need more precision than a minor unit (the cost of one outgoing SMS) are
  ``MicroMoney``: **micro-units, 10**-6 of the major unit** (1 RUB = 1,000,000 micro-units). They
  become ``Money`` through :meth:`MicroMoney.to_money`, which rounds with the helper below.

Rounding
--------
There is exactly one rounding helper, :func:`round_half_up_div`: integer division rounded
**half away from zero** ("commercial" rounding, as on invoices and VAT returns). Every share,
tax and conversion goes through it (``apply_bps`` is a thin wrapper), and every split assigns the
remainder to one named party so the parts always add up to the whole.

``float`` never touches money (a test scans these modules' AST); ``Decimal`` is used only in
:func:`parse_money`, to read what a person typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

BPS_DENOMINATOR: Final = 10_000
"""Basis points: 10,000 bps = 100 %."""

MICROS_EXPONENT: Final = 6
CREDITS: Final = "XCR"

_EXPONENTS: Final[dict[str, int]] = {
    CREDITS: 0,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
}
_DEFAULT_EXPONENT: Final = 2


class MoneyError(ValueError):
    """Invalid money: a bad currency code, mixed currencies, a non-integer amount, bad input text."""


def round_half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero.

    The single rounding rule of the platform. ``round_half_up_div(5, 2) == 3``,
    ``round_half_up_div(-5, 2) == -3``, ``round_half_up_div(7, 3) == 2``.
    """
    if denominator <= 0:
        raise MoneyError(f"denominator must be positive, got {denominator}")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def apply_bps(amount: int, bps: int) -> int:
    """``amount * bps / 10,000`` rounded by :func:`round_half_up_div`."""
    return round_half_up_div(amount * bps, BPS_DENOMINATOR)


def check_bps(bps: int, name: str = "bps") -> int:
    """Validate a basis-point rate (0..10,000) and return it."""
    if type(bps) is not int or not 0 <= bps <= BPS_DENOMINATOR:
        raise MoneyError(f"{name} must be an int in 0..{BPS_DENOMINATOR}, got {bps!r}")
    return bps


def check_currency(code: str) -> str:
    """Validate a three-letter upper-case currency code and return it."""
    ok = isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()
    if not (ok and code.isupper()):
        raise MoneyError(f"currency must be a 3-letter upper-case code, got {code!r}")
    return code


def minor_exponent(currency: str) -> int:
    """Decimal places of the minor unit of ``currency``."""
    return _EXPONENTS.get(currency, _DEFAULT_EXPONENT)


def _check_int(amount: int) -> int:
    if type(amount) is not int:
        raise MoneyError(f"amount must be an int, got {type(amount).__name__}")
    return amount


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in minor units of ``currency``."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.amount)
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{format_minor(self.amount, minor_exponent(self.currency))} {self.currency}"


@dataclass(frozen=True, slots=True)
class MicroMoney:
    """A tariff rate in micro-units (10**-6 of the major unit) of ``currency``."""

    micros: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.micros)
        check_currency(self.currency)

    def times(self, count: int) -> MicroMoney:
        return MicroMoney(self.micros * _check_int(count), self.currency)

    def to_money(self) -> Money:
        """Convert to minor units with :func:`round_half_up_div`."""
        step = 10 ** (MICROS_EXPONENT - minor_exponent(self.currency))
        return Money(round_half_up_div(self.micros, step), self.currency)


def format_minor(amount: int, exponent: int) -> str:
    """``12345, 2 -> "123.45"`` without any float."""
    if exponent == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}"


def _parse_scaled(text: str, exponent: int) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not a finite number: {text!r}")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{text!r} has more than {exponent} decimal places")
    return int(scaled)


def parse_money(text: str, currency: str) -> Money:
    """Parse human input (``"123.45"``) into :class:`Money`; too many decimals is an error, not a rounding."""
    return Money(_parse_scaled(text, minor_exponent(check_currency(currency))), currency)


def parse_micro(text: str, currency: str) -> MicroMoney:
    """Parse a human-entered rate (``"0.0045"``) into :class:`MicroMoney`."""
    return MicroMoney(_parse_scaled(text, MICROS_EXPONENT), check_currency(currency))
