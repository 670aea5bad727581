"""SMPP ``data_coding`` values to alphabets, and payload bytes to text and back.

Mapping (SMPP 3.4 §5.2.19 for 0x00-0x0F; 3GPP TS 23.038 §4 coding groups above that, because SMSCs
pass GSM DCS values through):

===============  ===========================================================
0x00             SMSC default alphabet: GSM 03.38 unpacked, unless the link's contract says Latin-1 or
                 IA5 (``default_alphabet``)
0x01             IA5 = ASCII (octets above 0x7F are invalid)
0x02, 0x04       8-bit binary: **never decoded**, :class:`TextError` ``BINARY``; a caller that must show
                 it uses ``data.hex()``, the domain does not pretend binary is text
0x03             Latin-1 (every octet is valid)
0x06, 0x07       ISO-8859-5 (Cyrillic), ISO-8859-8 (Hebrew)
0x08             UCS-2, in practice UTF-16BE: surrogate pairs are decoded, lengths are UTF-16 code units
0x0A             ISO-2022-JP
0x10-0x1F,       GSM general data coding, uncompressed (with class / auto-deletion): bits 3-2 choose
0x40-0x5F        GSM 7-bit, 8-bit (binary) or UCS-2
0xC0-0xDF        message waiting indication, GSM 7-bit
0xE0-0xEF        message waiting indication, UCS-2
0xF0-0xFF        data coding / message class: bit 2 clear = GSM 7-bit, set = 8-bit binary
anything else    :class:`TextError` ``UNSUPPORTED_CODING`` (JIS 0x05, pictogram 0x09, kanji 0x0D,
                 KS C 5601 0x0E, compressed and reserved groups): the bridge passes such messages
                 through untouched
===============  ===========================================================

Invalid bytes: ``errors="strict"`` (default) raises :class:`TextError` ``INVALID_BYTES``;
``errors="replace"`` puts U+FFFD in their place and never raises for a text alphabet. Use "replace"
for inbound paid traffic (losing an MO over one bad octet is worse than a visible U+FFFD) and
"strict" to validate what a partner submits. No other exception escapes these functions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from smsbilling.domain.text.errors import TextError, TextErrorCode
from smsbilling.domain.text.gsm7 import Errors, gsm7_decode, gsm7_encode

DATA_CODING_MAX: Final = 0xFF


class Alphabet(StrEnum):
    """A text alphabet (or binary) that a ``data_coding`` value selects."""

    GSM7 = "gsm7"
    IA5 = "ia5"
    LATIN1 = "latin1"
    UCS2 = "ucs2"
    CYRILLIC = "iso8859_5"
    HEBREW = "iso8859_8"
    ISO2022_JP = "iso2022_jp"
    BINARY = "binary"


# The data_coding we put on the wire when we choose an alphabet.
DATA_CODING: Final[dict[Alphabet, int]] = {
    Alphabet.GSM7: 0x00,
    Alphabet.IA5: 0x01,
    Alphabet.BINARY: 0x04,
    Alphabet.LATIN1: 0x03,
    Alphabet.CYRILLIC: 0x06,
    Alphabet.HEBREW: 0x07,
    Alphabet.UCS2: 0x08,
    Alphabet.ISO2022_JP: 0x0A,
}
_SMPP_CODINGS: Final[dict[int, Alphabet]] = {
    0x01: Alphabet.IA5,
    0x02: Alphabet.BINARY,
    0x03: Alphabet.LATIN1,
    0x04: Alphabet.BINARY,
    0x06: Alphabet.CYRILLIC,
    0x07: Alphabet.HEBREW,
    0x08: Alphabet.UCS2,
    0x0A: Alphabet.ISO2022_JP,
}
# GSM DCS bits 3-2 in the general data coding groups; 0b11 is reserved.
_GENERAL_ALPHABETS: Final = (Alphabet.GSM7, Alphabet.BINARY, Alphabet.UCS2, None)
_GENERAL_GROUPS: Final = frozenset({0x1, 0x4, 0x5})
_PY_CODECS: Final[dict[Alphabet, str]] = {
    Alphabet.IA5: "ascii",
    Alphabet.LATIN1: "latin-1",
    Alphabet.UCS2: "utf-16-be",
    Alphabet.CYRILLIC: "iso8859_5",
    Alphabet.HEBREW: "iso8859_8",
    Alphabet.ISO2022_JP: "iso2022_jp",
}


def alphabet_for(data_coding: int, *, default_alphabet: Alphabet = Alphabet.GSM7) -> Alphabet:
    """The alphabet of an SMPP ``data_coding``; ``default_alphabet`` is what 0x00 means on this link."""
    if data_coding == 0:
        return default_alphabet
    alphabet = _SMPP_CODINGS.get(data_coding) or _gsm_dcs_alphabet(data_coding)
    if alphabet is None:
        raise TextError(TextErrorCode.UNSUPPORTED_CODING, f"data_coding 0x{data_coding:02x} is not supported")
    return alphabet


def _gsm_dcs_alphabet(data_coding: int) -> Alphabet | None:
    """TS 23.038 coding groups for values SMPP leaves to the GSM DCS."""
    if not 0x10 <= data_coding <= DATA_CODING_MAX:
        return None
    group = data_coding >> 4
    if group in _GENERAL_GROUPS:
        return _GENERAL_ALPHABETS[(data_coding >> 2) & 0b11]
    if group in (0xC, 0xD):
        return Alphabet.GSM7
    if group == 0xE:
        return Alphabet.UCS2
    if group == 0xF:
        return Alphabet.BINARY if data_coding & 0x04 else Alphabet.GSM7
    return None


def decode_payload(
    data: bytes,
    data_coding: int,
    *,
    errors: Errors = "strict",
    default_alphabet: Alphabet = Alphabet.GSM7,
) -> str:
    """Decode a ``short_message``/``message_payload`` (UDH already removed) to text."""
    return decode_text(data, alphabet_for(data_coding, default_alphabet=default_alphabet), errors=errors)


def decode_text(data: bytes, alphabet: Alphabet, *, errors: Errors = "strict") -> str:
    """Decode bytes in a known alphabet; binary is refused (see the module docstring)."""
    if alphabet is Alphabet.GSM7:
        return gsm7_decode(data, errors=errors)
    if alphabet is Alphabet.BINARY:
        raise TextError(TextErrorCode.BINARY, f"{len(data)} octets of 8-bit binary data are not text")
    try:
        return data.decode(_PY_CODECS[alphabet], errors)
    except UnicodeDecodeError as exc:
        raise TextError(
            TextErrorCode.INVALID_BYTES, f"invalid {alphabet.value} at offset {exc.start}: {exc.reason}"
        ) from None


def encode_payload(text: str, data_coding: int, *, default_alphabet: Alphabet = Alphabet.GSM7) -> bytes:
    """Encode text for an SMPP ``data_coding`` (GSM 7-bit unpacked for 0x00)."""
    return encode_text(text, alphabet_for(data_coding, default_alphabet=default_alphabet))


def encode_text(text: str, alphabet: Alphabet) -> bytes:
    """Encode text in an alphabet; a character it cannot represent raises ``UNENCODABLE``."""
    if alphabet is Alphabet.GSM7:
        return gsm7_encode(text)
    if alphabet is Alphabet.BINARY:
        raise TextError(TextErrorCode.BINARY, "text cannot be sent as 8-bit binary")
    try:
        return text.encode(_PY_CODECS[alphabet])
    except UnicodeEncodeError as exc:
        raise TextError(
            TextErrorCode.UNENCODABLE,
            f"{text[exc.start]!r} at index {exc.start} cannot be encoded in {alphabet.value}",
        ) from None


def ucs2_encode(text: str) -> bytes:
    """UTF-16BE, astral characters as surrogate pairs; a lone surrogate raises ``UNENCODABLE``."""
    return encode_text(text, Alphabet.UCS2)


def ucs2_decode(data: bytes, *, errors: Errors = "strict") -> str:
    """UTF-16BE; odd length or an unpaired surrogate is invalid."""
    return decode_text(data, Alphabet.UCS2, errors=errors)


def ucs2_units(text: str) -> int:
    """UTF-16 code units: what UCS-2 limits (70/67) count; an emoji costs 2."""
    return len(text.encode("utf-16-be", "surrogatepass")) // 2
