"""GSM 03.38 (3GPP TS 23.038) default alphabet with the basic-character-set extension table.

Two wire forms exist and both are needed:

* **unpacked** septets, one per octet, which is what SMPP ``data_coding=0`` carries in
  ``short_message`` (Kannel, smpplib and most SMSCs): :func:`gsm7_encode` / :func:`gsm7_decode`;
* **packed** septets, eight in seven octets, least significant bit first, as on the air interface,
  in UCP/EMI ``AMsg``/``XSer`` and behind a UDH (where *fill bits* realign the text to a septet
  boundary): :func:`gsm7_pack` / :func:`gsm7_unpack`.

Extension characters (form feed, ``^ { } \\ [ ~ ] |`` and ``€``) are ESC (0x1B) plus a code and cost
two septets; :func:`gsm7_septets` counts them that way.

Decoding policy (why it is not simply "strict"): the spec tells a receiver what to show for codes it
does not understand, so those are *not* errors:

* ESC + a code with no extension character decodes as the main-table character for that code
  (TS 23.038 §6.2.1.1);
* ESC + ESC (reserved for a further extension table) decodes as a space.

What *is* invalid is an octet above 0x7F (not a septet) and a lone ESC at the very end. With
``errors="strict"`` (the default) those raise :class:`TextError`; with ``errors="replace"`` each
becomes U+FFFD, for inbound traffic that must not be lost over one bad byte.

ASCII text is encoded with one ``bytes.translate``, anything else with :func:`codecs.charmap_encode`;
decoding is one charmap pass plus a few ``str.replace`` passes over ESC pairs, so the per-character
work runs in C.
"""

from __future__ import annotations

import codecs
from typing import Final, Literal

from smsbilling.domain.text.errors import TextError, TextErrorCode

type Errors = Literal["strict", "replace"]

ESC: Final = 0x1B
SEPTET_MAX: Final = 0x7F
FILL_BITS_MAX: Final = 6

# Main table, indexed by septet; index 0x1B is ESC, never produced from a character.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Basic-character-set extension table: septet after ESC -> character.
EXTENSION: Final[dict[int, str]] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_REPLACEMENT: Final = "\ufffd"

_ENCODE_MAP: Final[dict[int, int | bytes]] = {
    ord(ch): code for code, ch in enumerate(_BASIC) if code != ESC
} | {ord(ch): bytes((ESC, code)) for code, ch in EXTENSION.items()}
# Fast path for ASCII text: ASCII -> septet, 0xFF where the character is not a single septet.
_ASCII_TO_SEPTET: Final = bytes(
    code if isinstance(code := _ENCODE_MAP.get(octet), int) else 0xFF for octet in range(256)
)
# Octet -> character; ESC stays ESC for the pair pass, non-septets become U+FFFD.
_DECODE_TABLE: Final = _BASIC + _REPLACEMENT * 128
# ESC + (the main-table character of the code) -> extension character, applied after ESC ESC.
_EXTENSION_PAIRS: Final = tuple(("\x1b" + _BASIC[code], ch) for code, ch in EXTENSION.items())

GSM7_CHARACTERS: Final = frozenset(chr(c) for c in _ENCODE_MAP)
EXTENSION_CHARACTERS: Final = frozenset(EXTENSION.values())


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` has a GSM 03.38 representation."""
    return GSM7_CHARACTERS.issuperset(text)


def gsm7_encode(text: str) -> bytes:
    """Encode to unpacked septets (one per octet); extension characters become ESC + code."""
    if text.isascii() and (septets := text.encode("ascii").translate(_ASCII_TO_SEPTET)).isascii():
        return septets
    try:
        # typeshed omits the bytes values that CPython's charmap codec accepts (ESC pairs)
        return codecs.charmap_encode(text, "strict", _ENCODE_MAP)[0]  # type: ignore[arg-type]
    except UnicodeEncodeError as exc:
        raise TextError(
            TextErrorCode.UNENCODABLE,
            f"{text[exc.start]!r} at index {exc.start} has no GSM 03.38 representation",
        ) from None


def gsm7_septets(text: str) -> int:
    """Septets ``text`` costs in GSM 7-bit: 1 per character, 2 per extension character."""
    return len(gsm7_encode(text))


def gsm7_decode(data: bytes, *, errors: Errors = "strict") -> str:
    """Decode unpacked septets; see the module docstring for what counts as invalid."""
    if errors == "strict" and not data.isascii():
        offset = next(i for i, octet in enumerate(data) if octet > SEPTET_MAX)
        raise TextError(
            TextErrorCode.INVALID_BYTES, f"octet 0x{data[offset]:02x} at offset {offset} is not a septet"
        )
    # typeshed omits the str decoding table that CPython's charmap codec accepts
    text = codecs.charmap_decode(data, "strict", _DECODE_TABLE)[0]  # type: ignore[arg-type]
    return _unescape(text, errors) if ESC in data else text


def _unescape(text: str, errors: Errors) -> str:
    """Resolve ESC pairs left to right, as a receiver reads them, with C-speed replaces.

    ESC ESC goes first (reserved: a space); after it no ESC is followed by ESC, so every remaining
    pair is unambiguous: an extension character, else the main-table character alone (the spec's
    fallback), and a final lone ESC is invalid.
    """
    text = text.replace("\x1b\x1b", " ")
    for pair, character in _EXTENSION_PAIRS:
        text = text.replace(pair, character)
    if text.endswith("\x1b"):
        text = text[:-1] + _invalid(errors, "lone ESC at the end")
    return text.replace("\x1b", "")


def _invalid(errors: Errors, message: str) -> str:
    if errors == "replace":
        return _REPLACEMENT
    raise TextError(TextErrorCode.INVALID_BYTES, message)


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= FILL_BITS_MAX:
        raise ValueError(f"fill_bits must be 0..{FILL_BITS_MAX}, got {fill_bits}")


def gsm7_fill_bits(header_octets: int) -> int:
    """Fill bits after a UDH of ``header_octets`` (UDHL included) so the text starts on a septet."""
    return (7 - (header_octets * 8) % 7) % 7


def gsm7_pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets LSB first, after ``fill_bits`` zero bits (0..6, see :func:`gsm7_fill_bits`)."""
    _check_fill_bits(fill_bits)
    if not septets:
        return b""
    out = bytearray()
    acc = 0
    nbits = fill_bits
    for septet in septets:
        if septet > SEPTET_MAX:
            raise TextError(TextErrorCode.INVALID_BYTES, f"0x{septet:02x} is not a septet")
        acc |= septet << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc)
    return bytes(out)


def gsm7_unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack ``count`` septets (the count is needed: 7 spare bits look like '@')."""
    _check_fill_bits(fill_bits)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if count == 0:
        return b""
    if fill_bits + 7 * count > 8 * len(data):
        raise TextError(
            TextErrorCode.INVALID_BYTES,
            f"{len(data)} octets cannot hold {count} septets after {fill_bits} fill bits",
        )
    out = bytearray()
    acc = 0
    nbits = 0
    skip = fill_bits  # only the first octet carries fill bits, in its low bits
    for octet in data:
        acc |= (octet >> skip) << nbits
        nbits += 8 - skip
        skip = 0
        while nbits >= 7 and len(out) < count:
            out.append(acc & SEPTET_MAX)
            acc >>= 7
            nbits -= 7
        if len(out) == count:
            break
    return bytes(out)
