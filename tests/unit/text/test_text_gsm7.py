"""GSM 03.38: worked examples from the captures, round trips, packing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.text import (
    EXTENSION_CHARACTERS,
    GSM7_CHARACTERS,
    TextError,
    TextErrorCode,
    gsm7_decode,
    gsm7_encode,
    gsm7_fill_bits,
    gsm7_pack,
    gsm7_septets,
    gsm7_unpack,
    is_gsm7,
)

gsm_text = st.text(alphabet=sorted(GSM7_CHARACTERS))
septets = st.lists(st.integers(0, 0x7F)).map(bytes)


def test_euro_is_esc_0x65() -> None:
    assert gsm7_encode("€") == bytes.fromhex("1b65")
    assert gsm7_decode(bytes.fromhex("1b65")) == "€"


def test_basic_and_extension_table() -> None:
    assert gsm7_encode("@£$¥") == b"\x00\x01\x02\x03"
    assert gsm7_encode("Hello") == b"Hello"
    assert gsm7_encode("¡¿ÄäΔ_") == bytes([0x40, 0x60, 0x5B, 0x7B, 0x10, 0x11])
    assert gsm7_encode("\f^{}\\[~]|€") == bytes.fromhex("1b0a1b141b281b291b2f1b3c1b3d1b3e1b401b65")
    assert set("\f^{}\\[~]|€") == EXTENSION_CHARACTERS


def test_septet_length_counts_escapes_as_two() -> None:
    assert gsm7_septets("a€{") == 5
    assert gsm7_septets("") == 0


def test_is_gsm7() -> None:
    assert is_gsm7("Hello @ £5 {ok}")
    assert not is_gsm7("Привет")
    assert not is_gsm7("ç")  # only capital Ç is in the table
    assert not is_gsm7("\x1b")  # ESC is not a character


def test_unencodable_names_the_character() -> None:
    with pytest.raises(TextError) as err:
        gsm7_encode("ab😀")
    assert err.value.code is TextErrorCode.UNENCODABLE
    assert "index 2" in str(err.value)


def test_decode_fallbacks_from_the_spec() -> None:
    assert gsm7_decode(b"\x1bA") == "A"  # unknown extension code -> main table
    assert gsm7_decode(b"\x1b\x1b") == " "  # reserved double escape -> space


@pytest.mark.parametrize("data", [b"\x80", b"ab\xff", b"a\x1b", b"\x1b\x90"])
def test_decode_invalid_strict_and_replace(data: bytes) -> None:
    with pytest.raises(TextError) as err:
        gsm7_decode(data)
    assert err.value.code is TextErrorCode.INVALID_BYTES
    assert "\ufffd" in gsm7_decode(data, errors="replace")


@given(gsm_text)
def test_encode_decode_round_trip(text: str) -> None:
    encoded = gsm7_encode(text)
    assert max(encoded, default=0) <= 0x7F
    assert len(encoded) == gsm7_septets(text)
    assert gsm7_decode(encoded) == text


def test_pack_classic_example() -> None:
    assert gsm7_pack(gsm7_encode("hellohello")).hex().upper() == "E8329BFD4697D9EC37"
    assert gsm7_unpack(bytes.fromhex("E8329BFD4697D9EC37"), 10) == b"hellohello"


def test_fill_bits_for_udh() -> None:
    assert gsm7_fill_bits(6) == 1  # 05 00 03 RR TT SS
    assert gsm7_fill_bits(7) == 0  # 06 08 04 RRRR TT SS
    assert gsm7_fill_bits(0) == 0


def test_unpack_too_short_is_text_error() -> None:
    with pytest.raises(TextError):
        gsm7_unpack(b"\x00", 2)


def test_pack_refuses_non_septets() -> None:
    with pytest.raises(TextError):
        gsm7_pack(b"\x80")


@pytest.mark.parametrize("fill_bits", [-1, 7])
def test_fill_bits_out_of_range_is_a_programming_error(fill_bits: int) -> None:
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7_pack(b"a", fill_bits)


@given(septets, st.integers(0, 6))
def test_pack_unpack_round_trip(data: bytes, fill_bits: int) -> None:
    packed = gsm7_pack(data, fill_bits)
    expected_octets = (fill_bits + 7 * len(data) + 7) // 8 if data else 0
    assert len(packed) == expected_octets
    assert gsm7_unpack(packed, len(data), fill_bits) == data


@given(septets)
def test_pack_with_fill_bits_is_shifted_stream(data: bytes) -> None:
    plain = int.from_bytes(gsm7_pack(data), "little")
    assert int.from_bytes(gsm7_pack(data, 1), "little") == plain << 1


def _reference_decode(data: bytes) -> str:
    """A receiver reading septets one by one (TS 23.038 §6.2.1.1), for differential testing."""
    extension = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~"}
    extension |= {0x3E: "]", 0x40: "|", 0x65: "€"}
    out = []
    i = 0
    while i < len(data):
        if data[i] != 0x1B:
            out.append(gsm7_decode(data[i : i + 1]))
            i += 1
        elif i + 1 == len(data):
            out.append("\ufffd")
            i += 1
        else:
            code = data[i + 1]
            out.append(extension.get(code) or (" " if code == 0x1B else gsm7_decode(bytes([code]))))
            i += 2
    return "".join(out)


escape_heavy = st.lists(
    st.sampled_from([0x1B, 0x1B, 0x65, 0x28, 0x0A, 0x41, 0x00, 0x7F]) | st.integers(0, 0x7F)
)


@given(escape_heavy.map(bytes))
def test_decode_matches_a_sequential_reader(data: bytes) -> None:
    assert gsm7_decode(data, errors="replace") == _reference_decode(data)


@pytest.mark.parametrize("text", ["`", "a\tb", "\x1b", "x\x00"])
def test_ascii_characters_outside_gsm(text: str) -> None:
    assert not is_gsm7(text)
    with pytest.raises(TextError):
        gsm7_encode(text)
