"""Encode and decode single UCP frames (``STX header/fields/checksum ETX``).

Wire form (EMI-UCP 4.x, "Structure of EMI messages")::

    STX TRN "/" LEN "/" O|R "/" OT "/" field "/" ... field "/" CHECKSUM ETX

``TRN`` two digits, ``LEN`` five digits counting every octet between STX and ETX, ``OT`` two
digits, ``CHECKSUM`` the sum of the octets from TRN up to and including the last "/", modulo 256,
as two upper-case hex digits (lower case is accepted on input). Every field is IRA (printable
ASCII) and may be empty; each operation has a fixed number of fields.

Decoding policy: a header that cannot be read gives an error without TRN/OT (the frame is dropped);
then the checksum (EC 01), LEN (EC 02), the operation type (EC 03 when unknown), the number of
fields (EC 02) and each field by the layout in :mod:`.operations` (the field's EC: 06 for AdC,
22 for time fields, 23 for MT, 24 for an over-long message, 02 otherwise). Encoding validates the
same rules, so the core never sends what it would refuse, and ``decode(encode(x)) == x``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import constants as c
from .errors import UcpError
from .operations import (
    DIGITS,
    HEX_TEXT,
    MSG,
    MSG_OCTETS_MAX,
    MT,
    NB,
    NMSG_DIGITS_MAX,
    OADC,
    OPERATION_CLASSES,
    TEXT,
    XSER,
    Ack,
    FieldSpec,
    Message,
    Nack,
    Operation,
    XSer,
)

_PRINTABLE: Final = re.compile(rb"[\x20-\x7e]*")
_DIGITS: Final = re.compile(r"[0-9]*")
_HEX: Final = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_SLASH: Final = ord("/")
_SYNTAX: Final = int(c.Ec.SYNTAX_ERROR)
_MT_01: Final = frozenset({c.MT_NUMERIC, c.MT_ALPHANUMERIC})
_MT_50: Final = frozenset({c.MT_NUMERIC, c.MT_ALPHANUMERIC, c.MT_TRANSPARENT})
_ENCODE_ERRORS: Final = (TypeError, ValueError, AttributeError, OverflowError, UnicodeError)


class _FieldError(Exception):
    def __init__(self, ec: int, message: str) -> None:
        super().__init__(message)
        self.ec = ec


def checksum(body: bytes) -> int:
    """Sum of the octets modulo 256 (``body`` from TRN to the "/" before the checksum)."""
    return sum(body) & 0xFF


def hex_decode(text: str, ec: int = _SYNTAX, what: str = "field") -> bytes:
    """Hex (either case, even length) to octets; a bad value is a :class:`_FieldError`."""
    if not _HEX.fullmatch(text):
        raise _FieldError(ec, f"{what} is not an even number of hex digits")
    return bytes.fromhex(text)


def hex_octets(text: str) -> bytes:
    """Public form of :func:`hex_decode`: :class:`UcpError` EC 02 when ``text`` is not hex."""
    try:
        return hex_decode(text)
    except _FieldError as exc:
        raise UcpError(exc.ec, str(exc)) from None


# --- field readers: wire string -> value ---------------------------------------------------------
Reader = Callable[[str, FieldSpec, Mapping[str, str]], Any]


def _check_size(raw: str, spec: FieldSpec) -> None:
    name, _, size, exact, ec = spec
    if len(raw) > size or (exact and raw and len(raw) != size):
        want = f"exactly {size}" if exact else f"at most {size}"
        raise _FieldError(ec, f"{name} has {len(raw)} characters, {want}")


def _read_digits(raw: str, spec: FieldSpec, _: Mapping[str, str]) -> str:
    _check_size(raw, spec)
    if not _DIGITS.fullmatch(raw):
        raise _FieldError(spec[4], f"{spec[0]} is not numeric")
    return raw


def _read_text(raw: str, spec: FieldSpec, _: Mapping[str, str]) -> str:
    _check_size(raw, spec)
    return raw


def _read_hex_text(raw: str, spec: FieldSpec, _: Mapping[str, str]) -> str:
    _check_size(raw, spec)
    return hex_decode(raw, spec[4], spec[0]).decode("latin-1")


def _read_oadc(raw: str, spec: FieldSpec, fields: Mapping[str, str]) -> str:
    if fields.get("otoa") == c.OTOA_ALPHANUMERIC:
        _check_size(raw, spec)
        hex_decode(raw, spec[4], "alphanumeric OAdC")
        return raw
    return _read_digits(raw, ("oadc", DIGITS, 16, False, spec[4]), fields)


def _mt_value(raw: str, spec: FieldSpec, allowed: frozenset[int]) -> int | None:
    if not raw:
        return None
    if len(raw) != 1 or not raw.isdigit() or int(raw) not in allowed:
        raise _FieldError(spec[4], f"MT {raw!r} is not one of {sorted(allowed)}")
    return int(raw)


def _read_mt(raw: str, spec: FieldSpec, fields: Mapping[str, str]) -> int | None:
    allowed = _MT_50 if "nb" in fields else _MT_01
    mt = _mt_value(raw, spec, allowed)
    if mt is None and "nb" not in fields:
        raise _FieldError(spec[4], "MT is mandatory")
    return mt


def _read_nb(raw: str, spec: FieldSpec, _: Mapping[str, str]) -> int | None:
    return int(_read_digits(raw, spec, _)) if raw else None


def _read_msg(raw: str, spec: FieldSpec, fields: Mapping[str, str]) -> bytes:
    mt_raw = fields.get("mt", "")
    mt = int(mt_raw) if mt_raw.isdigit() else None
    if fields.get("nb") and mt != c.MT_TRANSPARENT:
        raise _FieldError(_SYNTAX, "NB belongs to MT 4 only")
    if mt is None:
        if raw:
            raise _FieldError(_SYNTAX, "a message without MT")
        return b""
    if mt == c.MT_NUMERIC:
        if len(raw) > NMSG_DIGITS_MAX:
            raise _FieldError(spec[4], f"NMsg of {len(raw)} digits")
        if not _DIGITS.fullmatch(raw):
            raise _FieldError(_SYNTAX, "NMsg is not numeric")
        return raw.encode("ascii")
    _check_size(raw, spec)
    data = hex_decode(raw, _SYNTAX, "AMsg/TMsg")
    if mt == c.MT_TRANSPARENT:
        nb_raw = fields.get("nb", "")
        nb = int(nb_raw) if nb_raw.isdigit() else None
        if nb is None or (nb + 7) // 8 != len(data):
            raise _FieldError(_SYNTAX, f"NB {nb_raw!r} does not match {len(data)} octets of TMsg")
    return data


def _read_xser(raw: str, spec: FieldSpec, _: Mapping[str, str]) -> tuple[XSer, ...]:
    _check_size(raw, spec)
    data = hex_decode(raw, spec[4], "XSer")
    out: list[XSer] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise _FieldError(spec[4], "XSer ends inside an entry header")
        service, length = data[pos], data[pos + 1]
        end = pos + 2 + length
        if end > len(data):
            raise _FieldError(spec[4], f"XSer entry {service:02X} of {length} octets is truncated")
        out.append(XSer(service, data[pos + 2 : end]))
        pos = end
    return tuple(out)


_READERS: Final[dict[int, Reader]] = {
    DIGITS: _read_digits,
    TEXT: _read_text,
    HEX_TEXT: _read_hex_text,
    OADC: _read_oadc,
    MT: _read_mt,
    NB: _read_nb,
    MSG: _read_msg,
    XSER: _read_xser,
}


# --- field writers: value -> wire string ---------------------------------------------------------
Writer = Callable[[Any, FieldSpec, Operation], str]


def _write_checked(value: str, spec: FieldSpec, op: Operation) -> str:
    if not isinstance(value, str):
        raise _FieldError(spec[4], f"{spec[0]} must be a str")
    if not _PRINTABLE.fullmatch(value.encode("latin-1")) or "/" in value:
        raise _FieldError(spec[4], f"{spec[0]} holds a character that is not printable IRA or a '/'")
    fields = {"otoa": getattr(op, "otoa", ""), "nb": ""} if spec[1] == OADC else {}
    _READERS[spec[1]](value, spec, fields)
    return value


def _write_hex_text(value: str, spec: FieldSpec, _: Operation) -> str:
    encoded = value.encode("latin-1").hex().upper()
    _check_size(encoded, spec)
    return encoded


def _write_mt(value: int | None, spec: FieldSpec, op: Operation) -> str:
    raw = "" if value is None else str(value)
    _read_mt(raw, spec, {"nb": ""} if "nb" in _names(op) else {})
    return raw


def _write_nb(value: int | None, spec: FieldSpec, _: Operation) -> str:
    raw = "" if value is None else str(value)
    return _read_digits(raw, spec, {})


def _write_msg(value: bytes, spec: FieldSpec, op: Operation) -> str:
    if not isinstance(value, bytes):
        raise _FieldError(_SYNTAX, "msg must be bytes")
    mt: int | None = getattr(op, "mt", None)
    nb: int | None = getattr(op, "nb", None)
    if mt == c.MT_NUMERIC:
        raw = value.decode("latin-1")
    else:
        if len(value) > MSG_OCTETS_MAX:
            raise _FieldError(spec[4], f"message of {len(value)} octets (max {MSG_OCTETS_MAX})")
        raw = value.hex().upper()
    fields = {"mt": "" if mt is None else str(mt), "nb": "" if nb is None else str(nb)}
    _read_msg(raw, spec, fields)
    return raw


def _write_xser(value: tuple[XSer, ...], spec: FieldSpec, _: Operation) -> str:
    out = bytearray()
    for entry in value:
        if len(entry.data) > 0xFF or not 0 <= entry.type <= 0xFF:
            raise _FieldError(spec[4], f"XSer entry {entry.type} with {len(entry.data)} octets")
        out += bytes((entry.type, len(entry.data))) + entry.data
    raw = out.hex().upper()
    _check_size(raw, spec)
    return raw


_WRITERS: Final[dict[int, Writer]] = {
    DIGITS: _write_checked,
    TEXT: _write_checked,
    OADC: _write_checked,
    HEX_TEXT: _write_hex_text,
    MT: _write_mt,
    NB: _write_nb,
    MSG: _write_msg,
    XSER: _write_xser,
}


def _names(op: Operation) -> frozenset[str]:
    return frozenset(spec[0] for spec in op.layout)


# --- frames --------------------------------------------------------------------------------------
def _header(body: bytes) -> tuple[int | None, int | None, str | None]:
    """(TRN, OT, O/R) as far as they can be read; ``None`` for a part that cannot."""
    trn = int(body[0:2]) if body[0:2].isdigit() and len(body) >= 2 else None
    o_r = chr(body[9]) if len(body) > 9 and body[9] in b"OR" else None
    ot = int(body[11:13]) if len(body) >= 13 and body[11:13].isdigit() else None
    return trn, ot, o_r


def _check_frame(frame: bytes) -> tuple[bytes, int, int, str]:
    if len(frame) < c.FRAME_SIZE_MIN or frame[0] != c.STX or frame[-1] != c.ETX:
        raise UcpError(_SYNTAX, f"a frame of {len(frame)} octets is not STX ... ETX with a header")
    body = frame[1:-1]
    trn, ot, o_r = _header(body)
    shape_ok = body[2] == body[8] == body[10] == body[13] == _SLASH and body[3:8].isdigit()
    if trn is None or ot is None or o_r is None or not shape_ok:
        raise UcpError(_SYNTAX, "unreadable header", trn=trn, ot=ot, o_r=o_r)
    where: dict[str, Any] = {"trn": trn, "ot": ot, "o_r": o_r}
    given = body[-2:]
    if body[-3] != _SLASH or not _HEX.fullmatch(given.decode("latin-1")):
        raise UcpError(_SYNTAX, "no checksum after the last '/'", **where)
    expected = checksum(body[:-2])
    if int(given, 16) != expected:
        raise UcpError(int(c.Ec.CHECKSUM_ERROR), f"checksum {given!r} (expected {expected:02X})", **where)
    length = int(body[3:8])
    if length != len(body):
        raise UcpError(_SYNTAX, f"LEN {length} for {len(body)} octets", **where)
    if not _PRINTABLE.fullmatch(body):
        raise UcpError(_SYNTAX, "a character that is not printable IRA", **where)
    return body, trn, ot, o_r


def decode_frame(frame: bytes) -> Message:
    """Decode one frame (STX ... ETX). Raises :class:`UcpError` (and nothing else) on bad input."""
    body, trn, ot, o_r = _check_frame(frame)
    fields = body[c.HEADER_SIZE : -3].decode("ascii").split("/")
    if o_r == "R":
        return _decode_result(fields, trn, ot)
    cls = OPERATION_CLASSES.get(ot)
    if cls is None:
        raise UcpError(int(c.Ec.OPERATION_NOT_SUPPORTED), f"operation type {ot:02d}", trn=trn, ot=ot, o_r="O")
    layout = cls.layout
    if len(fields) != len(layout):
        message = f"{c.ot_name(ot)} with {len(fields)} fields (expected {len(layout)})"
        raise UcpError(_SYNTAX, message, trn=trn, ot=ot, o_r="O")
    raw = {spec[0]: value for spec, value in zip(layout, fields, strict=True)}
    values: dict[str, Any] = {}
    for spec in layout:
        try:
            values[spec[0]] = _READERS[spec[1]](raw[spec[0]], spec, raw)
        except _FieldError as exc:
            raise UcpError(exc.ec, f"{c.ot_name(ot)}: {exc}", trn=trn, ot=ot, o_r="O") from None
    return cls(trn=trn, **values)


def _decode_result(fields: list[str], trn: int, ot: int) -> Ack | Nack:
    where: dict[str, Any] = {"trn": trn, "ot": ot, "o_r": "R"}
    if ot not in OPERATION_CLASSES:
        raise UcpError(int(c.Ec.OPERATION_NOT_SUPPORTED), f"result to operation type {ot:02d}", **where)
    try:
        if fields[0] == "A":
            expected = 3 if ot in c.SERIES_50 else 2
            if len(fields) != expected:
                raise _FieldError(_SYNTAX, f"positive result with {len(fields)} fields (expected {expected})")
            mvp = _read_digits(fields[1], _MVP, {}) if expected == 3 else ""
            return Ack(ot, trn, _read_text(fields[-1], _SM, {}), mvp)
        if fields[0] == "N":
            if len(fields) != 3:
                raise _FieldError(_SYNTAX, f"negative result with {len(fields)} fields (expected 3)")
            ec = _read_digits(fields[1], _EC, {})
            if not ec:
                raise _FieldError(_SYNTAX, "negative result without EC")
            return Nack(ot, trn, int(ec), _read_text(fields[2], _SM, {}))
        raise _FieldError(_SYNTAX, f"result with ACK/NACK {fields[0]!r}")
    except _FieldError as exc:
        raise UcpError(exc.ec, f"result to {c.ot_name(ot)}: {exc}", **where) from None


_MVP: Final[FieldSpec] = ("mvp", DIGITS, 10, False, _SYNTAX)
_SM: Final[FieldSpec] = ("sm", TEXT, 256, False, _SYNTAX)
_EC: Final[FieldSpec] = ("ec", DIGITS, 3, False, _SYNTAX)


def _result_fields(result: Ack | Nack) -> list[str]:
    sm = _write_checked(result.sm, _SM, Operation())
    if isinstance(result, Nack):
        if not 0 <= result.ec <= 999:
            raise _FieldError(_SYNTAX, f"EC {result.ec} outside 0-999")
        return ["N", f"{result.ec:02d}", sm]
    if result.ot in c.SERIES_50:
        return ["A", _write_checked(result.mvp, _MVP, Operation()), sm]
    if result.mvp:
        raise _FieldError(_SYNTAX, "MVP exists only in results to the 50 series")
    return ["A", sm]


def _frame(trn: int, o_r: str, ot: int, fields: list[str]) -> bytes:
    if not 0 <= trn <= c.TRN_MAX or ot not in OPERATION_CLASSES:
        raise _FieldError(_SYNTAX, f"TRN {trn} or OT {ot} out of range")
    data = "/".join(fields) + "/"
    length = c.HEADER_SIZE + len(data) + 2
    if length > c.LEN_MAX:
        raise _FieldError(int(c.Ec.MESSAGE_TOO_LONG), f"frame of {length} octets")
    body = f"{trn:02d}/{length:05d}/{o_r}/{ot:02d}/{data}".encode("ascii")
    return b"\x02" + body + f"{checksum(body):02X}".encode("ascii") + b"\x03"


def encode(message: Message) -> bytes:
    """The wire form of an operation or result. Raises :class:`UcpError` on bad field values."""
    ot = getattr(message, "ot", -1)
    trn = getattr(message, "trn", -1)
    try:
        if isinstance(message, Ack | Nack):
            return _frame(message.trn, "R", message.ot, _result_fields(message))
        if not isinstance(message, Operation) or type(message).ot not in OPERATION_CLASSES:
            raise _FieldError(_SYNTAX, f"{type(message).__name__} is not a UCP operation")
        fields = [_WRITERS[spec[1]](getattr(message, spec[0]), spec, message) for spec in message.layout]
        return _frame(message.trn, "O", message.ot, fields)
    except _FieldError as exc:
        raise UcpError(exc.ec, f"cannot encode {type(message).__name__}: {exc}", trn=trn, ot=ot) from None
    except _ENCODE_ERRORS as exc:
        message_text = f"cannot encode {type(message).__name__}: {exc}"
        raise UcpError(_SYNTAX, message_text, trn=trn, ot=ot) from None
