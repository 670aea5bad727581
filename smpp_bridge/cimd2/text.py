"""Text on CIMD2 links: the user data (033) character set, binary user data, DCS and UDH.

**User data (033)** carries the GSM 03.38 default alphabet in printable ASCII: characters that
ASCII and GSM share go as themselves, every other GSM character as a three-character escape
introduced by ``_`` (``_Oa`` for "@", ``_L-`` for "£", ``_gd`` for "Δ", ``_XX`` for the escape to
the extension table, so "€" is ``_XXe`` and "{" is ``_XX(``). The table is the specification's
default character conversion (as Kannel implements it). We *send* only the shared characters and
escapes, which every reading agrees on. On *receipt*, an octet outside that set is read by the
link's choice (:class:`RawOctets`): as ISO-8859-1 (the specification's 8-bit link, our default)
or, as Kannel does, as the GSM code of the same value (a 7-bit "national" link where "]" is "Å").

**Binary user data (034)** carries octets (UCS-2 text with DCS 0x08 in 030, or 8-bit data); the
UDH (032) is separate hex. :func:`message_text` decodes either through
:mod:`smsbilling.domain.text`; only :class:`~.errors.Cimd2Error` escapes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from smsbilling.domain.text import (
    Errors,
    TextError,
    TextErrorCode,
    decode_payload,
    gsm7_decode,
    gsm7_encode,
    is_gsm7,
    ucs2_encode,
)

from . import constants as c
from .errors import Cimd2Error
from .packets import DeliverMessage, DeliverStatusReport, SubmitMessage

ESCAPE: Final = "_"
ESC_SEPTET: Final = 0x1B
UCS2_DCS: Final = 0x08
ALPHANUMERIC_ORIGINATOR_CHARS_MAX: Final = 11

#: GSM septet -> the two characters after "_" (the default character conversion table).
SEPTET_ESCAPES: Final[dict[int, str]] = {
    0x00: "Oa",  # @
    0x01: "L-",  # £
    0x03: "Y-",  # ¥
    0x04: "e`",  # è
    0x05: "e'",  # é
    0x06: "u`",  # ù
    0x07: "i`",  # ì
    0x08: "o`",  # ò
    0x09: "C,",  # Ç
    0x0B: "O/",  # Ø
    0x0C: "o/",  # ø
    0x0E: "A*",  # Å
    0x0F: "a*",  # å
    0x10: "gd",  # Δ
    0x11: "--",  # _
    0x12: "gf",  # Φ
    0x13: "gg",  # Γ
    0x14: "gl",  # Λ
    0x15: "go",  # Ω
    0x16: "gp",  # Π
    0x17: "gi",  # Ψ
    0x18: "gs",  # Σ
    0x19: "gt",  # Θ
    0x1A: "gx",  # Ξ
    ESC_SEPTET: "XX",  # escape to the extension table
    0x1C: "AE",  # Æ
    0x1D: "ae",  # æ
    0x1E: "ss",  # ß
    0x1F: "E'",  # É
    0x22: "qq",  # "
    0x24: "ox",  # ¤
    0x40: "!!",  # ¡
    0x5B: 'A"',  # Ä
    0x5C: 'O"',  # Ö
    0x5D: "N~",  # Ñ
    0x5E: 'U"',  # Ü
    0x5F: "so",  # §
    0x60: "??",  # ¿
    0x7B: 'a"',  # ä
    0x7C: 'o"',  # ö
    0x7D: "n~",  # ñ
    0x7E: 'u"',  # ü
    0x7F: "a`",  # à
}
ESCAPE_SEPTETS: Final = {pair: septet for septet, pair in SEPTET_ESCAPES.items()}
#: Septets sent as the ASCII character of the same code ("$" is GSM 0x02, sent as ASCII "$").
_PLAIN: Final = frozenset(range(0x20, 0x7B)) - set(SEPTET_ESCAPES) | {0x0A, 0x0D}
_WIRE_FOR: Final[list[str]] = [
    ESCAPE + SEPTET_ESCAPES[s] if s in SEPTET_ESCAPES else "$" if s == 0x02 else chr(s) for s in range(0x80)
]
# Kannel's 7-bit reading of the four ASCII characters that are not their own GSM code.
_KANNEL_7BIT: Final = {ord("@"): 0x00, ord("$"): 0x02, ord("]"): 0x0E, ord("}"): 0x0F}


class RawOctets(StrEnum):
    """How to read a user-data octet that is neither a shared character nor part of an escape."""

    LATIN1 = "latin1"  # ISO-8859-1 (8-bit link)
    GSM = "gsm"  # GSM code of the same value below 0x80, Latin-1 above (Kannel)


def _text_error(exc: TextError, what: str) -> Cimd2Error:
    return Cimd2Error(int(c.Code.USER_DATA_SYNTAX_ERROR), f"{what}: {exc.reason}")


def encode_user_data(text: str) -> str:
    """The 033 wire form of ``text``; :class:`Cimd2Error` 302 for a character outside GSM 03.38."""
    try:
        septets = gsm7_encode(text)
    except TextError as exc:
        raise _text_error(exc, "user data") from None
    return "".join(_WIRE_FOR[s] for s in septets)


def _raw_septet(char: str, raw: RawOctets) -> int | None:
    """The GSM septet a plain wire character stands for, or ``None`` to keep it as Latin-1."""
    code = ord(char)
    if code in _PLAIN or code == ord("$"):
        return 0x02 if char == "$" else code
    if char == "@":
        return 0x00
    if raw is RawOctets.GSM and code < 0x80:
        return _KANNEL_7BIT.get(code, code)
    return None


def decode_user_data(wire: str, *, raw: RawOctets = RawOctets.LATIN1, errors: Errors = "strict") -> str:
    """033 wire form to text. An unknown escape is :class:`Cimd2Error` 302 (kept as typed with
    ``errors="replace"``); an octet outside GSM reads per ``raw``."""
    out: list[str] = []
    septets = bytearray()
    pos = 0
    while pos < len(wire):
        pair = wire[pos + 1 : pos + 3]
        if wire[pos] == ESCAPE and pair in ESCAPE_SEPTETS:
            septets.append(ESCAPE_SEPTETS[pair])
            pos += 3
            continue
        if wire[pos] == ESCAPE and errors == "strict":
            raise Cimd2Error(int(c.Code.USER_DATA_SYNTAX_ERROR), f"unknown escape {wire[pos : pos + 3]!r}")
        septet = _raw_septet(wire[pos], raw)
        if septet is None:
            out.append(_decode_septets(septets, errors))
            septets.clear()
            out.append(wire[pos])
        else:
            septets.append(septet)
        pos += 1
    out.append(_decode_septets(septets, errors))
    return "".join(out)


def _decode_septets(septets: bytearray, errors: Errors) -> str:
    if not septets:
        return ""
    try:
        return gsm7_decode(bytes(septets), errors=errors)
    except TextError as exc:
        raise _text_error(exc, "user data") from None


def message_text(
    op: SubmitMessage | DeliverMessage | DeliverStatusReport,
    *,
    raw: RawOctets = RawOctets.LATIN1,
    errors: Errors = "replace",
) -> str:
    """The text of a packet: 033 decoded, or 034 decoded by its DCS (030; UDH apart in 032).
    Binary user data is :class:`Cimd2Error` 304."""
    if op.user_data is not None:
        return decode_user_data(op.user_data, raw=raw, errors=errors)
    binary = getattr(op, "user_data_binary", None)
    if binary is None:
        return ""
    dcs = getattr(op, "data_coding_scheme", None)
    try:
        return decode_payload(binary, 0x04 if dcs is None else dcs, errors=errors)
    except TextError as exc:
        code = (
            c.Code.INCORRECT_DCS
            if exc.code is not TextErrorCode.INVALID_BYTES
            else c.Code.USER_DATA_SYNTAX_ERROR
        )
        raise Cimd2Error(int(code), f"binary user data: {exc.reason}") from None


def submit_for_text(
    destination: str,
    originator: str,
    text: str,
    *,
    udh: bytes = b"",
    status_report: bool = True,
) -> SubmitMessage:
    """An op 03 for one segment of text: 033 when GSM 03.38 carries it, else UCS-2 in 034 with DCS
    0x08. A digit originator goes in 023, anything else in 027 (alphanumeric, up to 11
    characters). ``status_report`` asks for the final states (056 = 14, as Kannel)."""
    numeric = originator.removeprefix("+")
    alphanumeric = not (numeric.isdigit() and numeric.isascii())
    if alphanumeric and not 0 < len(originator) <= ALPHANUMERIC_ORIGINATOR_CHARS_MAX:
        raise Cimd2Error(
            int(c.Code.INCORRECT_ORIGINATOR_ADDRESS), "alphanumeric originator of 1-11 characters"
        )
    user_data: str | None = None
    binary: bytes | None = None
    dcs: int | None = None
    if is_gsm7(text):
        user_data = encode_user_data(text)
    else:
        try:
            binary = ucs2_encode(text)
        except TextError as exc:
            raise _text_error(exc, "UCS-2 text") from None
        dcs = UCS2_DCS
    return SubmitMessage(
        destination_address=destination,
        originating_address=None if alphanumeric else originator,
        alphanumeric_originating_address=originator if alphanumeric else None,
        data_coding_scheme=dcs,
        user_data_header=udh or None,
        user_data=user_data,
        user_data_binary=binary,
        status_report_request=c.SRR_FINAL_STATES if status_report else None,
    )


def originator_text(op: DeliverMessage) -> str:
    """The sender of an MO: the alphanumeric originator if given, else the originating address."""
    return op.alphanumeric_originating_address or op.originating_address or ""
