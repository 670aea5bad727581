"""Text on UCP links: IRA/hex, the alphanumeric OAdC, AMsg/TMsg to text and back.

* **AMsg** (MT 3) is hex on the wire; the octets are one character each. EMI-UCP calls the
  alphabet IRA, and SMSCs disagree on what an octet above 0x7F (or "@", "$") means, so the link
  chooses: :attr:`UcpCharset.GSM` (one GSM 03.38 septet per octet, extension characters as ESC +
  code: what Kannel sends and expects) or :attr:`UcpCharset.LATIN1` (ISO-8859-1, the 8-bit "IRA"
  some SMSCs use). ASCII letters, digits and most punctuation are the same in both.
* **TMsg** (MT 4) carries octets with NB bits; XSer type 02 holds the GSM DCS and XSer type 01 the
  UDH. UCS-2 text goes as MT 4 with DCS 0x08.
* **Alphanumeric OAdC** (OTOA 5039): the name in GSM 7-bit *packed*, hex, after one octet giving the
  number of useful semi-octets (3GPP TS 23.040 address length). Up to 11 characters.

The GSM 03.38 tables are :mod:`smsbilling.domain.text`'s; only :class:`~.errors.UcpError` escapes.
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
    gsm7_pack,
    gsm7_unpack,
    is_gsm7,
    ucs2_encode,
)

from . import constants as c
from .codec import hex_octets
from .errors import UcpError
from .operations import Message50, SubmitShortMessage, XSer

ALPHANUMERIC_OADC_CHARS_MAX: Final = 11
NUMERIC_ADDRESS_DIGITS_MAX: Final = 16
UCS2_DCS: Final = 0x08
_SYNTAX: Final = int(c.Ec.SYNTAX_ERROR)


class UcpCharset(StrEnum):
    """What one AMsg octet means on a link."""

    GSM = "gsm"  # GSM 03.38, one septet per octet (Kannel's choice)
    LATIN1 = "latin1"  # ISO-8859-1


def _text_error(exc: TextError, what: str) -> UcpError:
    ec = c.Ec.MESSAGE_TOO_LONG if exc.code is TextErrorCode.TOO_LONG else c.Ec.SYNTAX_ERROR
    return UcpError(int(ec), f"{what}: {exc.reason}")


def hex_to_octets(text: str) -> bytes:
    """IRA hex (either case) to octets; :class:`UcpError` EC 02 when it is not hex."""
    return hex_octets(text)


def octets_to_hex(data: bytes) -> str:
    return data.hex().upper()


# --- alphanumeric originator ---------------------------------------------------------------------
def encode_alphanumeric_oadc(name: str) -> str:
    """The OAdC of an alphanumeric originator (send it with ``otoa="5039"``)."""
    if not 0 < len(name) <= ALPHANUMERIC_OADC_CHARS_MAX:
        raise UcpError(_SYNTAX, f"alphanumeric originator of {len(name)} characters (1-11)")
    try:
        septets = gsm7_encode(name)
    except TextError as exc:
        raise _text_error(exc, "alphanumeric originator") from None
    if len(septets) > ALPHANUMERIC_OADC_CHARS_MAX:
        raise UcpError(_SYNTAX, f"alphanumeric originator of {len(septets)} septets (max 11)")
    semi_octets = (len(septets) * 7 + 3) // 4
    return f"{semi_octets:02X}{gsm7_pack(septets).hex().upper()}"


def decode_alphanumeric_oadc(oadc: str, *, errors: Errors = "strict") -> str:
    """Read an OTOA 5039 OAdC. The length octet counts useful semi-octets; some senders write the
    number of octets times two instead, which reads the same except for a trailing "@" when 7
    characters fill 7 octets exactly (we read what the length says)."""
    raw = hex_to_octets(oadc)
    if len(raw) < 2:
        raise UcpError(_SYNTAX, "alphanumeric OAdC without characters")
    packed = raw[1:]
    count = min(raw[0] * 4 // 7, len(packed) * 8 // 7)
    try:
        return gsm7_decode(gsm7_unpack(packed, count), errors=errors)
    except TextError as exc:
        raise _text_error(exc, "alphanumeric OAdC") from None


def originator_fields(originator: str) -> tuple[str, str]:
    """(OAdC, OTOA) for an originator: digits as they are, ``+`` digits as international (1139),
    anything else as an alphanumeric name (5039)."""
    digits = originator.removeprefix("+")
    if digits.isdigit() and digits.isascii() and len(digits) <= NUMERIC_ADDRESS_DIGITS_MAX:
        return digits, c.OTOA_INTERNATIONAL if originator.startswith("+") else ""
    return encode_alphanumeric_oadc(originator), c.OTOA_ALPHANUMERIC


def originator_text(op: Message50, *, errors: Errors = "replace") -> str:
    """The originator of a 50-series operation as text (decoding an alphanumeric OAdC)."""
    if op.otoa == c.OTOA_ALPHANUMERIC:
        return decode_alphanumeric_oadc(op.oadc, errors=errors)
    return op.oadc


# --- AMsg / TMsg ---------------------------------------------------------------------------------
def encode_amsg(text: str, charset: UcpCharset = UcpCharset.GSM) -> bytes:
    """The AMsg octets of ``text`` (the codec hex-encodes them)."""
    try:
        if charset is UcpCharset.GSM:
            return gsm7_encode(text)
        return text.encode("latin-1")
    except TextError as exc:
        raise _text_error(exc, "AMsg") from None
    except UnicodeEncodeError as exc:
        raise UcpError(_SYNTAX, f"AMsg: {text[exc.start]!r} is not Latin-1") from None


def decode_amsg(data: bytes, charset: UcpCharset = UcpCharset.GSM, *, errors: Errors = "strict") -> str:
    """AMsg octets to text; a GSM octet above 0x7F is invalid (U+FFFD with ``errors="replace"``)."""
    if charset is UcpCharset.LATIN1:
        return data.decode("latin-1")
    try:
        return gsm7_decode(data, errors=errors)
    except TextError as exc:
        raise _text_error(exc, "AMsg") from None


def message_text(op: Message50, charset: UcpCharset = UcpCharset.GSM, *, errors: Errors = "replace") -> str:
    """The text of a 50-series operation: AMsg in the link's charset, NMsg digits, or TMsg decoded
    by its XSer DCS (UDH already apart in XSer 01). Binary TMsg is :class:`UcpError` EC 23."""
    if op.mt == c.MT_ALPHANUMERIC:
        return decode_amsg(op.msg, charset, errors=errors)
    if op.mt == c.MT_NUMERIC:
        return op.msg.decode("ascii", "replace")
    if op.mt is None:
        return ""
    dcs = op.data_coding
    try:
        return decode_payload(op.msg, 0x04 if dcs is None else dcs, errors=errors)
    except TextError as exc:
        ec = c.Ec.MESSAGE_TYPE_NOT_SUPPORTED if exc.code is TextErrorCode.BINARY else c.Ec.SYNTAX_ERROR
        raise UcpError(int(ec), f"TMsg: {exc.reason}") from None


def submit_for_text(
    recipient: str,
    originator: str,
    text: str,
    *,
    charset: UcpCharset = UcpCharset.GSM,
    udh: bytes = b"",
    notify: bool = True,
) -> SubmitShortMessage:
    """An OT 51 for one segment of text: MT 3 when the link's charset can carry the text, else
    MT 4 with UCS-2 (XSer DCS 0x08). ``udh`` (a concatenation header) goes in XSer 01; ``notify``
    asks for delivered and non-delivered notifications (NRq 1, NT 3)."""
    oadc, otoa = originator_fields(originator)
    adc = recipient.removeprefix("+")
    xser: tuple[XSer, ...] = (XSer(c.XSER_GSM_UDH, udh),) if udh else ()
    fits = is_gsm7(text) if charset is UcpCharset.GSM else _is_latin1(text)
    nb: int | None = None
    if fits:
        mt, msg = c.MT_ALPHANUMERIC, encode_amsg(text, charset)
    else:
        try:
            msg = ucs2_encode(text)
        except TextError as exc:
            raise _text_error(exc, "UCS-2 text") from None
        mt, nb = c.MT_TRANSPARENT, 8 * len(msg)
        xser += (XSer(c.XSER_GSM_DCS, bytes((UCS2_DCS,))),)
    return SubmitShortMessage(
        adc=adc,
        oadc=oadc,
        otoa=otoa,
        mt=mt,
        nb=nb,
        msg=msg,
        xser=xser,
        nrq="1" if notify else "",
        nt=str(c.NT_DELIVERED | c.NT_NON_DELIVERED) if notify else "",
    )


def _is_latin1(text: str) -> bool:
    return all(ord(ch) < 0x100 for ch in text)
