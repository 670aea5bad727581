"""Money: the one rounding rule, parsing human input, scales."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.money import (
    CREDITS,
    MicroMoney,
    Money,
    MoneyError,
    apply_bps,
    check_bps,
    parse_micro,
    parse_money,
    round_half_up_div,
)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 2, 3), (-5, 2, -3), (7, 3, 2), (8, 3, 3), (-7, 3, -2), (0, 9, 0), (1, 2, 1), (1, 3, 0), (15, 10, 2)],
)
def test_round_half_up_div_examples(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up_div(numerator, denominator) == expected


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_round_half_up_div_matches_decimal_half_up(numerator: int, denominator: int) -> None:
    reference = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_half_up_div(numerator, denominator) == int(reference)


def test_round_half_up_div_rejects_bad_denominator() -> None:
    with pytest.raises(MoneyError):
        round_half_up_div(1, 0)


def test_apply_bps() -> None:
    assert apply_bps(25_000, 4_500) == 11_250  # 250.00 * 45 % = 112.50
    assert apply_bps(1, 5_000) == 1  # 0.5 rounds up
    assert apply_bps(333, 3_333) == 111  # 110.99 -> 111
    with pytest.raises(MoneyError):
        check_bps(10_001)
    with pytest.raises(MoneyError):
        check_bps(True)  # a bool is not a rate


def test_money_arithmetic_and_currency_safety() -> None:
    assert Money(150, "RUB") + Money(50, "RUB") == Money(200, "RUB")
    assert Money(150, "RUB") - Money(200, "RUB") == Money(-50, "RUB")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert Money(1, "RUB") < Money(2, "RUB")
    with pytest.raises(MoneyError):
        Money(1, "RUB") + Money(1, "EUR")
    with pytest.raises(MoneyError):
        Money(1.5, "RUB")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1, "rub")
    assert str(Money(-12345, "RUB")) == "-123.45 RUB"
    assert str(Money(7, CREDITS)) == "7 XCR"
    assert str(Money(1005, "KWD")) == "1.005 KWD"


@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [
        ("123.45", "RUB", 12345),
        ("0.1", "RUB", 10),
        ("-3", "EUR", -300),
        ("7", CREDITS, 7),
        (" 12 ", "JPY", 12),
    ],
)
def test_parse_money(text: str, currency: str, amount: int) -> None:
    assert parse_money(text, currency) == Money(amount, currency)


@pytest.mark.parametrize("text", ["1.234", "abc", "NaN", "Infinity", "", "1e-3"])
def test_parse_money_refuses_rather_than_rounds(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_money(text, "RUB")


def test_micro_units_round_once_to_minor_units() -> None:
    rate = parse_micro("0.0045", "USD")  # 0.45 cent per part
    assert rate == MicroMoney(4_500, "USD")
    assert rate.to_money() == Money(0, "USD")  # 0.45 cent -> 0
    assert rate.times(3).to_money() == Money(1, "USD")  # 1.35 cent -> 1
    assert MicroMoney(5_000, "USD").to_money() == Money(1, "USD")  # 0.5 cent -> 1 (half up)
    assert MicroMoney(1_500_000, "JPY").to_money() == Money(2, "JPY")
