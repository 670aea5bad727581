"""MSISDN and address normalisation: a table of cases."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.msisdn import (
    Address,
    AddressKind,
    MsisdnError,
    Ton,
    normalise_address,
    normalise_msisdn,
    parse_address,
)

VALID = [
    # raw, default country code, ton, expected
    ("+447700900123", "44", None, "447700900123"),
    ("+447700900123", None, None, "447700900123"),
    ("00447700900123", "44", None, "447700900123"),
    ("447700900123", "44", 1, "447700900123"),
    ("447700900123", None, 1, "447700900123"),
    ("447700900123", "44", 0, "447700900123"),  # unknown TON, no trunk prefix: international
    ("447700900123", "44", None, "447700900123"),
    ("07700900123", "44", None, "447700900123"),
    ("07700900123", "44", 2, "447700900123"),
    ("7700900123", "44", 2, "447700900123"),  # national significant number
    ("89161234567", "7", None, "79161234567"),
    ("89161234567", "7", 2, "79161234567"),
    ("+7 (916) 123-45-67", "7", None, "79161234567"),
    ("8 916 123 45 67", "7", None, "79161234567"),
    ("8613800138000", "7", None, "8613800138000"),  # China, international: not an 8 trunk prefix
    ("89161234567", "44", None, "89161234567"),  # 8 is only a trunk prefix for country code 7
    ("+44 (0)7700 900123", None, None, "447700900123"),
    ("(0)7700-900.123", "44", None, "447700900123"),
    (" +1-202-555-0143 ", None, 1, "12025550143"),
    ("+447700900123", "44", 2, "447700900123"),  # explicit '+' wins over TON
    ("1234567", None, 1, "1234567"),  # 7 digits: the shortest accepted
    ("123456789012345", None, 1, "123456789012345"),  # 15: E.164 maximum
]


@pytest.mark.parametrize(("raw", "country", "ton", "expected"), VALID)
def test_valid(raw: str, country: str | None, ton: int | None, expected: str) -> None:
    assert normalise_msisdn(raw, default_country_code=country, ton=ton, npi=1) == expected


INVALID = [
    ("", "44", None),
    ("+", "44", None),
    ("00", "44", None),
    ("+44770090012a", "44", None),
    ("BILLING", "44", None),
    ("+44 7700 900123 ext 5", "44", None),
    ("++447700900123", "44", None),
    ("+4477009001231234", "44", None),  # 16 digits
    ("123456", None, 1),  # too short
    ("07700900123", None, None),  # national without a default country code
    ("7700900123", None, 2),
    ("07700900123", "44", 1),  # international cannot start with 0
    ("+0447700900123", "44", None),
    ("".join(chr(0xFF10 + int(d)) for d in "447700900123"), "44", None),  # full-width digits
    ("".join(chr(0x0660 + int(d)) for d in "447700900123"), "44", None),  # Arabic-Indic digits
    ("447700900123", "44", 5),  # alphanumeric TON
    ("7494", "44", 3),  # network-specific TON
    ("1" * 100, "44", None),
]


@pytest.mark.parametrize(("raw", "country", "ton"), INVALID)
def test_invalid(raw: str, country: str | None, ton: int | None) -> None:
    with pytest.raises(MsisdnError):
        normalise_msisdn(raw, default_country_code=country, ton=ton)


def test_bad_default_country_code_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="default_country_code"):
        normalise_msisdn("07700900123", default_country_code="+44")


@pytest.mark.parametrize(
    ("raw", "ton", "expected"),
    [
        ("BILLING", 5, Address(AddressKind.ALPHANUMERIC, "BILLING")),
        ("BILLING", None, Address(AddressKind.ALPHANUMERIC, "BILLING")),
        ("BILLING", 0, Address(AddressKind.ALPHANUMERIC, "BILLING")),
        ("12345", 5, Address(AddressKind.ALPHANUMERIC, "12345")),
        ("My Shop", 5, Address(AddressKind.ALPHANUMERIC, "My Shop")),
        ("7494", None, Address(AddressKind.SHORT_CODE, "7494")),
        ("7494", 3, Address(AddressKind.SHORT_CODE, "7494")),
        ("0800 123", 6, Address(AddressKind.SHORT_CODE, "0800123")),
        ("07700900123", None, Address(AddressKind.MSISDN, "447700900123")),
        ("+447700900123", 1, Address(AddressKind.MSISDN, "447700900123")),
    ],
)
def test_parse_address(raw: str, ton: int | None, expected: Address) -> None:
    assert parse_address(raw, default_country_code="44", ton=ton) == expected
    assert normalise_address(raw, default_country_code="44", ton=ton) == expected.value


@pytest.mark.parametrize(
    ("raw", "ton"),
    [("TOOLONGSENDER", 5), ("", 5), ("   ", 5), ("Привет", 5), ("{{{{{{", 5), ("BILLING", Ton.INTERNATIONAL)],
)
def test_bad_addresses(raw: str, ton: int) -> None:
    with pytest.raises(MsisdnError):
        parse_address(raw, default_country_code="44", ton=ton)


@given(st.text(max_size=80), st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6, 7, 255]))
def test_fuzz_only_msisdn_error(raw: str, ton: int | None) -> None:
    for call in (normalise_msisdn, normalise_address):
        try:
            result = call(raw, default_country_code="7", ton=ton)
        except MsisdnError:
            continue
        assert isinstance(result, str)


@given(st.from_regex(r"\A[1-9][0-9]{6,14}\Z"))
def test_international_digits_are_a_fixed_point(digits: str) -> None:
    once = normalise_msisdn(digits, default_country_code="44", ton=1)
    assert once == digits
    assert normalise_msisdn("+" + once, default_country_code=None) == once
