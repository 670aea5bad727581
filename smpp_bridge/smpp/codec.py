"""Encode and decode single PDUs.

Two paths produce the same results. The *reference* path interprets each class's ``layout``
field by field and is the one that reports precise errors. The *fast* path
(:mod:`.fastpath`) is hand-unrolled for the hot PDUs (submit_sm, deliver_sm, their responses,
the header-only PDUs); whenever anything is unusual it returns ``None`` and the reference path
decides. A property test checks the two agree.

Decoding policy, per SMPP 3.4 and what real peers send:

* a body that ends before its mandatory fields: ``ESME_RINVCMDLEN`` (the command_length does
  not fit the command); ``sm_length`` over 254 or past the end: ``ESME_RINVMSGLEN``;
* a C-octet string without its NUL within the field's maximum: the field's own status
  (``ESME_RINVSRCADR`` for source_addr, ``ESME_RINVSYSID`` for system_id, ...);
* octets after the mandatory body are TLVs; a broken TLV stream: ``ESME_RINVOPTPARSTREAM`` /
  ``ESME_RINVPARLEN``;
* a response with an empty body decodes with default fields (error responses are header-only).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from . import constants as c
from .errors import SmppError
from .fastpath import FAST_DECODERS, FAST_ENCODERS
from .pdus import (
    CSTR,
    DEST_ADDRESSES,
    HEADER_ONLY_ON_ERROR,
    PDU_CLASSES,
    SHORT_MESSAGE,
    U8,
    UNSUCCESS_SMES,
    DestAddress,
    DistributionList,
    FieldSpec,
    Pdu,
    SmeAddress,
    UnsuccessSme,
    builder,
)
from .tlv import BodyError, decode_tlvs, encode_tlvs

HEADER: Final = struct.Struct(">IIII")
_U32: Final = struct.Struct(">I")
_ENCODE_ERRORS: Final = (struct.error, ValueError, TypeError, OverflowError, AttributeError)

Reader = Callable[[bytes, int, FieldSpec], tuple[Any, int]]
Writer = Callable[[bytearray, Any, FieldSpec], None]


# --- reference decoder ----------------------------------------------------------------------
def _read_u8(data: bytes, pos: int, spec: FieldSpec) -> tuple[int, int]:
    if pos >= len(data):
        raise BodyError(c.ESME_RINVCMDLEN, f"body ends before {spec[0]}")
    return data[pos], pos + 1


def _read_cstr(data: bytes, pos: int, spec: FieldSpec) -> tuple[str, int]:
    name, _, size, status = spec
    nul = data.find(0, pos, pos + size)
    if nul >= 0:
        return data[pos:nul].decode("latin-1"), nul + 1
    if pos + size <= len(data):
        raise BodyError(status, f"{name} longer than {size - 1} octets")
    raise BodyError(c.ESME_RINVCMDLEN, f"body ends inside {name}")


def _read_short_message(data: bytes, pos: int, spec: FieldSpec) -> tuple[bytes, int]:
    if pos >= len(data):
        raise BodyError(c.ESME_RINVCMDLEN, "body ends before sm_length")
    length = data[pos]
    stop = pos + 1 + length
    if length > spec[2] or stop > len(data):
        raise BodyError(c.ESME_RINVMSGLEN, f"sm_length {length} with {len(data) - pos - 1} octets left")
    return data[pos + 1 : stop], stop


_DEST_ADDR: Final = ("destination_addr", CSTR, 21, c.ESME_RINVDSTADR)
_DL_NAME: Final = ("dl_name", CSTR, 21, c.ESME_RINVDLNAME)
_OCTET: Final = ("ton/npi", U8, 1, c.ESME_RINVCMDLEN)


def _read_dest_address(data: bytes, pos: int) -> tuple[DestAddress, int]:
    flag, pos = _read_u8(data, pos, ("dest_flag", U8, 1, c.ESME_RINVCMDLEN))
    if flag == 1:
        ton, pos = _read_u8(data, pos, _OCTET)
        npi, pos = _read_u8(data, pos, _OCTET)
        address, pos = _read_cstr(data, pos, _DEST_ADDR)
        return SmeAddress(ton, npi, address), pos
    if flag == 2:
        name, pos = _read_cstr(data, pos, _DL_NAME)
        return DistributionList(name), pos
    raise BodyError(c.ESME_RINVDESTFLAG, f"dest_flag {flag}")


def _read_dest_addresses(data: bytes, pos: int, spec: FieldSpec) -> tuple[tuple[DestAddress, ...], int]:
    count, pos = _read_u8(data, pos, spec)
    if count > spec[2]:
        raise BodyError(spec[3], f"number_of_dests {count}")
    out: list[DestAddress] = []
    for _ in range(count):
        dest, pos = _read_dest_address(data, pos)
        out.append(dest)
    return tuple(out), pos


def _read_unsuccess_smes(data: bytes, pos: int, spec: FieldSpec) -> tuple[tuple[UnsuccessSme, ...], int]:
    count, pos = _read_u8(data, pos, spec)
    out: list[UnsuccessSme] = []
    for _ in range(count):
        ton, pos = _read_u8(data, pos, _OCTET)
        npi, pos = _read_u8(data, pos, _OCTET)
        address, pos = _read_cstr(data, pos, _DEST_ADDR)
        if pos + 4 > len(data):
            raise BodyError(c.ESME_RINVCMDLEN, "body ends inside error_status_code")
        out.append(UnsuccessSme(ton, npi, address, _U32.unpack_from(data, pos)[0]))
        pos += 4
    return tuple(out), pos


_BUILDERS: Final = {command_id: builder(cls) for command_id, cls in PDU_CLASSES.items()}
_READERS: Final[dict[int, Reader]] = {
    U8: _read_u8,
    CSTR: _read_cstr,
    SHORT_MESSAGE: _read_short_message,
    DEST_ADDRESSES: _read_dest_addresses,
    UNSUCCESS_SMES: _read_unsuccess_smes,
}


def _decode_fields(cls: type[Pdu], data: bytes, status: int, seq: int) -> Pdu:
    if len(data) == c.HEADER_SIZE and cls.command_id & c.RESPONSE_BIT:
        return cls(seq, status)
    values: list[Any] = [seq, status]
    pos = c.HEADER_SIZE
    for spec in cls.layout:
        value, pos = _READERS[spec[1]](data, pos, spec)
        values.append(value)
    values.append(decode_tlvs(data, pos, len(data)) if pos < len(data) else ())
    return _BUILDERS[cls.command_id](*values)


def decode_generic(data: bytes, command_id: int, status: int, seq: int) -> Pdu:
    """The reference decoder for one complete PDU whose header is already parsed."""
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise SmppError(
            c.ESME_RINVCMDID, seq, f"unknown command_id 0x{command_id:08X}", command_id=command_id
        )
    try:
        return _decode_fields(cls, data, status, seq)
    except BodyError as exc:
        message = f"{c.command_name(command_id)}: {exc.message}"
        raise SmppError(exc.status, seq, message, command_id=command_id) from None


def decode_body(data: bytes, command_id: int, status: int, seq: int) -> Pdu:
    """Decode one complete PDU (``len(data)`` is its command_length) whose header is parsed."""
    fast = FAST_DECODERS.get(command_id)
    if fast is not None:
        pdu = fast(data, status, seq)
        if pdu is not None:
            return pdu
    return decode_generic(data, command_id, status, seq)


def decode_pdu(data: bytes) -> Pdu:
    """Decode exactly one PDU. Raises :class:`SmppError` (and nothing else) on bad input."""
    if len(data) < c.HEADER_SIZE:
        raise SmppError(c.ESME_RINVCMDLEN, 0, f"{len(data)} octets is shorter than a header", fatal=True)
    length, command_id, status, seq = HEADER.unpack_from(data)
    if length != len(data):
        message = f"command_length {length} for {len(data)} octets"
        raise SmppError(c.ESME_RINVCMDLEN, seq, message, command_id=command_id, fatal=True)
    return decode_body(data, command_id, status, seq)


# --- reference encoder ----------------------------------------------------------------------
def _write_u8(out: bytearray, value: int, spec: FieldSpec) -> None:
    out.append(value)


def _write_cstr(out: bytearray, value: str, spec: FieldSpec) -> None:
    raw = value.encode("latin-1")
    if len(raw) >= spec[2] or 0 in raw:
        raise BodyError(spec[3], f"{spec[0]} longer than {spec[2] - 1} octets or holds a NUL")
    out += raw
    out.append(0)


def _write_short_message(out: bytearray, value: bytes, spec: FieldSpec) -> None:
    if len(value) > spec[2]:
        raise BodyError(spec[3], f"short_message of {len(value)} octets (max {spec[2]}); use message_payload")
    out.append(len(value))
    out += value


def _write_dest_addresses(out: bytearray, value: tuple[DestAddress, ...], spec: FieldSpec) -> None:
    if len(value) > spec[2]:
        raise BodyError(spec[3], f"{len(value)} destinations")
    out.append(len(value))
    for dest in value:
        if type(dest) is SmeAddress:
            out += bytes((1, dest.ton, dest.npi))
            _write_cstr(out, dest.address, _DEST_ADDR)
        elif type(dest) is DistributionList:
            out.append(2)
            _write_cstr(out, dest.name, _DL_NAME)
        else:
            raise BodyError(c.ESME_RINVDESTFLAG, f"{type(dest).__name__} is not a dest_address")


def _write_unsuccess_smes(out: bytearray, value: tuple[UnsuccessSme, ...], spec: FieldSpec) -> None:
    out.append(len(value))
    for sme in value:
        out += bytes((sme.ton, sme.npi))
        _write_cstr(out, sme.address, _DEST_ADDR)
        out += _U32.pack(sme.error_status_code)


_WRITERS: Final[dict[int, Writer]] = {
    U8: _write_u8,
    CSTR: _write_cstr,
    SHORT_MESSAGE: _write_short_message,
    DEST_ADDRESSES: _write_dest_addresses,
    UNSUCCESS_SMES: _write_unsuccess_smes,
}


def _is_bodyless_error(pdu: Pdu) -> bool:
    """An error response of a kind that 3.4 sends header-only, with nothing in its body."""
    cls = type(pdu)
    return (
        pdu.command_status != 0
        and cls.command_id in HEADER_ONLY_ON_ERROR
        and pdu == cls(pdu.sequence_number, pdu.command_status)
    )


def _encode_body(pdu: Pdu) -> bytes:
    if _is_bodyless_error(pdu):
        return b""
    out = bytearray()
    for spec in pdu.layout:
        _WRITERS[spec[1]](out, getattr(pdu, spec[0]), spec)
    tlvs = getattr(pdu, "tlvs", ())
    if tlvs:
        out += encode_tlvs(tlvs)
    return bytes(out)


def encode_generic(pdu: Pdu) -> bytes:
    """The reference encoder. Raises :class:`SmppError` when the PDU cannot be encoded."""
    try:
        body = _encode_body(pdu)
        return HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number) + body
    except BodyError as exc:
        message = f"{type(pdu).__name__}: {exc.message}"
        raise SmppError(exc.status, pdu.sequence_number, message, command_id=pdu.command_id) from None
    except _ENCODE_ERRORS as exc:
        message = f"cannot encode {type(pdu).__name__}: {exc}"
        raise SmppError(c.ESME_RSYSERR, 0, message, command_id=pdu.command_id) from None


def encode_pdu(pdu: Pdu) -> bytes:
    """The wire form of ``pdu``. Raises :class:`SmppError` (and nothing else) on bad field values."""
    fast = FAST_ENCODERS.get(type(pdu))
    if fast is not None:
        data = fast(pdu)
        if data is not None:
            return data
    return encode_generic(pdu)
