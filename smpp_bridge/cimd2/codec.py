"""Encode and decode single CIMD2 packets (``STX OO:NNN TAB {PPP:value TAB} [CC] ETX``).

Wire form (CIMD interface specification, "Packet format"): ``OO`` the two-digit operation code,
``NNN`` the three-digit packet number, each parameter ``PPP:value`` followed by a TAB, then an
optional checksum: the sum of every octet from STX up to and including the last TAB, modulo 256,
as two upper-case hex digits (lower case accepted). NUL never appears in a packet.

Decoding policy: a header that cannot be read gives an error without opcode/number (the packet is
dropped); a NUL or a malformed trailer is a syntax error; a wrong checksum is a *transmission*
error (answered with a NACK); an unknown operation code is code 1 (answered with a general error
response); a malformed parameter is a syntax error (code 2) or the parameter's own code (300
destination, 302 user data, ...; see :mod:`.packets`); two values for a typed parameter are code 2
(301 for destinations); user data and binary user data together are code 303. Parameters a packet
does not type are kept in ``extra``. Encoding validates the same rules, so
``decode(encode(x)) == x`` holds, with or without the checksum.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from . import constants as c
from .errors import Cimd2Error
from .packets import (
    ADDRESS,
    HEX,
    INT,
    REQUEST_CLASSES,
    RESPONSE_OPCODES,
    STRING,
    TIME,
    USER_DATA,
    Layout,
    Message,
    Packet,
    ParamSpec,
    Response,
)

_HEADER: Final = re.compile(rb"([0-9]{2}):([0-9]{3})\t")
_PARAM: Final = re.compile(r"([0-9]{3}):(.*)", re.S)
_INT: Final = re.compile(r"-?[0-9]+")
_STRING: Final = re.compile(r"[\x20-\x7e]*")
_ADDRESS: Final = re.compile(r"\+?[0-9]*")
_TIME: Final = re.compile(r"[0-9]{12}")
_HEX: Final = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_CHECKSUM: Final = re.compile(rb"[0-9A-Fa-f]{2}")
_FORBIDDEN: Final = re.compile(r"[\x00\x02\x03\t]")
_SYNTAX: Final = int(c.Code.SYNTAX_ERROR)
_ENCODE_ERRORS: Final = (TypeError, ValueError, AttributeError, OverflowError, UnicodeError)


class _ParamError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def checksum(data: bytes) -> int:
    """Sum of the octets modulo 256 (``data`` from STX to the last TAB)."""
    return sum(data) & 0xFF


# --- parameter values ------------------------------------------------------------------------------
def _read(spec: ParamSpec, raw: str) -> Any:
    name, _, kind, size, low, high, code = spec
    if len(raw) > size + (kind == INT and low < 0):
        raise _ParamError(code, f"{name} of {len(raw)} characters (max {size})")
    if kind == INT:
        if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
            raise _ParamError(code, f"{name} {raw!r} is not an integer in {low}..{high}")
        return int(raw)
    if kind == HEX:
        if not _HEX.fullmatch(raw):
            raise _ParamError(code, f"{name} is not an even number of hex digits")
        return bytes.fromhex(raw)
    pattern = {STRING: _STRING, ADDRESS: _ADDRESS, TIME: _TIME}.get(kind)
    if pattern is not None and not pattern.fullmatch(raw):
        raise _ParamError(code, f"{name} {raw!r} is malformed")
    if kind == USER_DATA and "\x00" in raw:
        raise _ParamError(code, f"{name} holds a NUL")
    return raw


def _write(spec: ParamSpec, value: Any) -> str:
    kind = spec[2]
    if kind == INT:
        if type(value) is not int:
            raise _ParamError(spec[6], f"{spec[0]} must be an int")
        raw = str(value)
    elif kind == HEX:
        if not isinstance(value, bytes):
            raise _ParamError(spec[6], f"{spec[0]} must be bytes")
        raw = value.hex().upper()
    else:
        if not isinstance(value, str):
            raise _ParamError(spec[6], f"{spec[0]} must be a str")
        raw = value
        if _FORBIDDEN.search(raw):
            raise _ParamError(spec[6], f"{spec[0]} holds NUL, STX, ETX or TAB")
    _read(spec, raw)
    return raw


# --- packets ---------------------------------------------------------------------------------------
def _parse_params(body: bytes) -> list[tuple[int, str]]:
    """``body`` is everything between the header TAB and the last TAB, TAB-separated."""
    if not body:
        return []
    out: list[tuple[int, str]] = []
    for item in body.decode("latin-1").split("\t"):
        match = _PARAM.fullmatch(item)
        if match is None:
            raise _ParamError(_SYNTAX, f"parameter {item[:12]!r} is not PPP:value")
        out.append((int(match.group(1)), match.group(2)))
    return out


def _layout_of(opcode: int) -> tuple[Layout, Callable[..., Message]]:
    cls = REQUEST_CLASSES.get(opcode)
    if cls is not None:
        return cls.layout, cls
    layout = Response(opcode).layout
    return layout, lambda **values: Response(opcode, **values)


def _typed(opcode: int, params: list[tuple[int, str]]) -> dict[str, Any]:
    layout, _ = _layout_of(opcode)
    by_number = {spec[1]: spec for spec in layout}
    values: dict[str, Any] = {}
    extra: list[tuple[int, str]] = []
    for number, raw in params:
        spec = by_number.get(number)
        if spec is None:
            if "\x00" in raw:
                raise _ParamError(_SYNTAX, f"parameter {number:03d} holds a NUL")
            extra.append((number, raw))
        elif spec[0] in values:
            if number == c.P_DESTINATION_ADDRESS and opcode == c.SUBMIT_MESSAGE:
                raise _ParamError(int(c.Code.INCORRECT_NUMBER_OF_DESTINATIONS), "more than one destination")
            raise _ParamError(_SYNTAX, f"parameter {number:03d} given twice")
        else:
            values[spec[0]] = _read(spec, raw)
    if values.get("user_data") is not None and values.get("user_data_binary") is not None:
        raise _ParamError(
            int(c.Code.INCORRECT_USER_DATA_COMBINATION), "user data and binary user data together"
        )
    values["extra"] = tuple(extra)
    return values


def split_frame(frame: bytes) -> tuple[int, int, bytes]:
    """Check framing, header, trailer and checksum; return (opcode, number, parameter octets)."""
    if len(frame) < c.HEADER_SIZE + 2 or frame[0] != c.STX or frame[-1] != c.ETX:
        raise Cimd2Error(_SYNTAX, f"a packet of {len(frame)} octets is not STX OO:NNN TAB ... ETX")
    header = _HEADER.match(frame, 1)
    if header is None:
        raise Cimd2Error(_SYNTAX, "unreadable header")
    opcode, number = int(header.group(1)), int(header.group(2))
    if number > c.NUMBER_MAX:
        raise Cimd2Error(_SYNTAX, f"packet number {number} above {c.NUMBER_MAX}", opcode=opcode)
    if b"\x00" in frame:
        raise Cimd2Error(_SYNTAX, "a NUL in the packet", opcode=opcode, number=number)
    last_tab = frame.rindex(c.TAB)
    trailer = frame[last_tab + 1 : -1]
    if trailer and not _CHECKSUM.fullmatch(trailer):
        raise Cimd2Error(_SYNTAX, f"trailer {trailer[:8]!r} is not a checksum", opcode=opcode, number=number)
    if trailer and int(trailer, 16) != checksum(frame[: last_tab + 1]):
        message = f"checksum {trailer!r} (expected {checksum(frame[: last_tab + 1]):02X})"
        raise Cimd2Error(_SYNTAX, message, opcode=opcode, number=number, transmission=True)
    return opcode, number, frame[1 + c.HEADER_SIZE : last_tab]


def decode_frame(frame: bytes) -> Message:
    """Decode one packet (STX ... ETX). Raises :class:`Cimd2Error` (and nothing else) on bad input."""
    opcode, number, body = split_frame(frame)
    if opcode not in REQUEST_CLASSES and opcode not in RESPONSE_OPCODES:
        raise Cimd2Error(
            int(c.Code.UNEXPECTED_OPERATION), f"operation code {opcode:02d}", opcode=opcode, number=number
        )
    try:
        values = _typed(opcode, _parse_params(body))
    except _ParamError as exc:
        message = f"{c.opcode_name(opcode)}: {exc}"
        raise Cimd2Error(exc.code, message, opcode=opcode, number=number) from None
    _, build = _layout_of(opcode)
    return build(number=number, **values)


def encode(message: Message, *, with_checksum: bool = True) -> bytes:
    """The wire form of a packet. Raises :class:`Cimd2Error` on bad values."""
    opcode = getattr(message, "opcode", -1)
    number = getattr(message, "number", -1)
    try:
        if not isinstance(message, Packet | Response):
            raise _ParamError(_SYNTAX, f"{type(message).__name__} is not a CIMD2 packet")
        known = opcode in REQUEST_CLASSES if isinstance(message, Packet) else opcode in RESPONSE_OPCODES
        if not known or type(number) is not int or not 0 <= number <= c.NUMBER_MAX:
            raise _ParamError(_SYNTAX, f"opcode {opcode} / packet number {number} out of range")
        return _encode(message, opcode, number, with_checksum)
    except _ParamError as exc:
        raise Cimd2Error(exc.code, f"cannot encode {type(message).__name__}: {exc}", opcode=opcode) from None
    except _ENCODE_ERRORS as exc:
        raise Cimd2Error(_SYNTAX, f"cannot encode {type(message).__name__}: {exc}", opcode=opcode) from None


def _encode(message: Message, opcode: int, number: int, with_checksum: bool) -> bytes:
    layout = message.layout
    parts = [f"\x02{opcode:02d}:{number:03d}\t"]
    typed_numbers = set()
    if isinstance(message, Response):
        for name in ("destination_address", "mc_timestamp"):
            if getattr(message, name) is not None and name not in {spec[0] for spec in layout}:
                raise _ParamError(_SYNTAX, f"{c.opcode_name(opcode)} has no {name}")
    for spec in layout:
        typed_numbers.add(spec[1])
        value = getattr(message, spec[0])
        if value is not None:
            parts.append(f"{spec[1]:03d}:{_write(spec, value)}\t")
    if (
        getattr(message, "user_data", None) is not None
        and getattr(message, "user_data_binary", None) is not None
    ):
        raise _ParamError(
            int(c.Code.INCORRECT_USER_DATA_COMBINATION), "user data and binary user data together"
        )
    for extra_number, raw in message.extra:
        if extra_number in typed_numbers or not 0 <= extra_number <= 999:
            raise _ParamError(_SYNTAX, f"extra parameter {extra_number} is typed or out of range")
        if _FORBIDDEN.search(raw):
            raise _ParamError(_SYNTAX, f"extra parameter {extra_number} holds NUL, STX, ETX or TAB")
        parts.append(f"{extra_number:03d}:{raw}\t")
    data = "".join(parts).encode("latin-1")
    trailer = f"{checksum(data):02X}".encode() if with_checksum else b""
    return data + trailer + b"\x03"
