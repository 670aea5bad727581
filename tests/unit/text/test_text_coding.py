"""data_coding mapping, UCS-2 and the single-byte alphabets."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.text import (
    Alphabet,
    TextError,
    TextErrorCode,
    alphabet_for,
    decode_payload,
    encode_payload,
    ucs2_decode,
    ucs2_encode,
    ucs2_units,
)

PRIVET = "Привет 😀"
PRIVET_UCS2 = bytes.fromhex("041f 0440 0438 0432 0435 0442 0020 d83d de00")


def test_ucs2_capture() -> None:
    assert ucs2_encode(PRIVET) == PRIVET_UCS2
    assert ucs2_decode(PRIVET_UCS2) == PRIVET
    assert decode_payload(PRIVET_UCS2, 0x08) == PRIVET
    assert ucs2_units(PRIVET) == 9  # the emoji is a surrogate pair


@given(st.text())
def test_ucs2_round_trip_including_astral(text: str) -> None:
    data = ucs2_encode(text)
    assert len(data) == 2 * ucs2_units(text)
    assert ucs2_decode(data) == text


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\x00a\x00", "odd length"), (b"\xd8\x3d", "lone high surrogate"), (b"\xde\x00\x00a", "lone low")],
)
def test_ucs2_invalid(data: bytes, why: str) -> None:
    with pytest.raises(TextError) as err:
        ucs2_decode(data)
    assert err.value.code is TextErrorCode.INVALID_BYTES, why
    assert "\ufffd" in ucs2_decode(data, errors="replace")


def test_lone_surrogate_in_text_is_unencodable() -> None:
    with pytest.raises(TextError) as err:
        ucs2_encode("a\ud800")
    assert err.value.code is TextErrorCode.UNENCODABLE


@pytest.mark.parametrize(
    ("data_coding", "alphabet"),
    [
        (0x00, Alphabet.GSM7),
        (0x01, Alphabet.IA5),
        (0x02, Alphabet.BINARY),
        (0x03, Alphabet.LATIN1),
        (0x04, Alphabet.BINARY),
        (0x06, Alphabet.CYRILLIC),
        (0x07, Alphabet.HEBREW),
        (0x08, Alphabet.UCS2),
        (0x0A, Alphabet.ISO2022_JP),
        (0x10, Alphabet.GSM7),  # general group, class 0
        (0x14, Alphabet.BINARY),
        (0x18, Alphabet.UCS2),
        (0x48, Alphabet.UCS2),  # auto-deletion group
        (0xC0, Alphabet.GSM7),
        (0xD3, Alphabet.GSM7),
        (0xE0, Alphabet.UCS2),
        (0xF0, Alphabet.GSM7),  # flash
        (0xF1, Alphabet.GSM7),
        (0xF4, Alphabet.BINARY),
        (0xF5, Alphabet.BINARY),
    ],
)
def test_alphabet_for(data_coding: int, alphabet: Alphabet) -> None:
    assert alphabet_for(data_coding) is alphabet


@pytest.mark.parametrize("data_coding", [0x05, 0x09, 0x0D, 0x0E, 0x1C, 0x20, 0x3F, 0x60, 0x80, 0xBF, 256, -1])
def test_unsupported_codings(data_coding: int) -> None:
    with pytest.raises(TextError) as err:
        alphabet_for(data_coding)
    assert err.value.code is TextErrorCode.UNSUPPORTED_CODING


def test_smsc_default_alphabet_per_link() -> None:
    assert decode_payload(b"\xe9t\xe9", 0, default_alphabet=Alphabet.LATIN1) == "été"
    assert encode_payload("été", 0, default_alphabet=Alphabet.LATIN1) == b"\xe9t\xe9"


def test_binary_is_never_decoded() -> None:
    for data_coding in (0x02, 0x04, 0xF4):
        with pytest.raises(TextError) as err:
            decode_payload(b"\x01\x02", data_coding, errors="replace")
        assert err.value.code is TextErrorCode.BINARY


def test_single_byte_alphabets() -> None:
    assert decode_payload(b"Hello", 0x01) == "Hello"
    assert decode_payload(bytes(range(256)), 0x03) == "".join(map(chr, range(256)))
    assert decode_payload("Привет".encode("iso8859_5"), 0x06) == "Привет"
    with pytest.raises(TextError):
        decode_payload(b"\x80", 0x01)
    assert decode_payload(b"a\x80", 0x01, errors="replace") == "a\ufffd"


@pytest.mark.parametrize("data_coding", [0x00, 0x01, 0x03, 0x08, 0xF0])
def test_encode_decode_payload(data_coding: int) -> None:
    assert decode_payload(encode_payload("Hello {1}", data_coding), data_coding) == "Hello {1}"


def test_encode_unencodable_in_latin1() -> None:
    with pytest.raises(TextError) as err:
        encode_payload("€", 0x03)
    assert err.value.code is TextErrorCode.UNENCODABLE
