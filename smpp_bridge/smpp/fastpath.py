"""Hand-unrolled codecs for the PDUs on the hot path.

Each function handles only the ordinary case and returns ``None`` for anything else (a missing
NUL, an out-of-range value, a broken TLV); the reference codec in :mod:`.codec` then produces the
result or the precise :class:`SmppError`. ``tests/unit/smpp/test_smpp_codec.py`` checks that
both paths agree on random PDUs and on mutated bytes.

Tricks: one ``bytes.find`` per C-octet string bounded by the field maximum; every integer index
is implied by a later ``find`` succeeding, so no bounds check or ``try`` is needed on the way;
the dataclass is built once, positionally.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from . import constants as c
from .pdus import (
    CancelSmResp,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    MessageIdResp,
    Pdu,
    ReplaceSmResp,
    ShortMessagePdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    builder,
)
from .tlv import BodyError, decode_tlvs, encode_tlvs

_HEADER: Final = struct.Struct(">IIII")

FastDecoder = Callable[[bytes, int, int], Pdu | None]
FastEncoder = Callable[[Any], bytes | None]


def _short_message_decoder(cls: type[ShortMessagePdu]) -> FastDecoder:
    factory = builder(cls)

    def decode(data: bytes, status: int, seq: int) -> Pdu | None:
        # Each C-octet string ends with a NUL within its maximum length. A miss (-1) makes the
        # later searches meaningless but harmless: they are bounded, and the check below fails.
        find = data.find
        a = find(0, 16, 22)  # service_type C6
        b = find(0, a + 3, a + 24)  # source_addr C21, after ton and npi
        d = find(0, b + 3, b + 24)  # destination_addr C21, after ton and npi
        s = find(0, d + 4, d + 21)  # schedule_delivery_time C17, after esm_class, protocol_id, priority
        v = find(0, s + 1, s + 18)  # validity_period C17
        if a < 0 or b < 0 or d < 0 or s < 0 or v < 0:
            return None
        end = len(data)
        start = v + 6  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
        if start > end:
            return None
        length = data[v + 5]
        stop = start + length
        if stop > end or length > c.SHORT_MESSAGE_SIZE_MAX:
            return None
        if stop == end:
            tlvs: tuple[Any, ...] = ()
        else:
            try:
                tlvs = decode_tlvs(data, stop, end)
            except BodyError:
                return None
        return factory(
            seq,
            status,
            data[16:a].decode("latin-1"),
            data[a + 1],
            data[a + 2],
            data[a + 3 : b].decode("latin-1"),
            data[b + 1],
            data[b + 2],
            data[b + 3 : d].decode("latin-1"),
            data[d + 1],
            data[d + 2],
            data[d + 3],
            data[d + 4 : s].decode("latin-1"),
            data[s + 1 : v].decode("latin-1"),
            data[v + 1],
            data[v + 2],
            data[v + 3],
            data[v + 4],
            data[start:stop],
            tlvs,
        )

    return decode


def _message_id_decoder(cls: type[MessageIdResp]) -> FastDecoder:
    factory = builder(cls)

    def decode(data: bytes, status: int, seq: int) -> Pdu | None:
        end = len(data)
        if end == 16:
            return cls(seq, status)
        nul = data.find(0, 16, 81)  # message_id C65
        if nul < 0:
            return None
        if nul + 1 == end:
            return factory(seq, status, data[16:nul].decode("latin-1"), ())
        try:
            return factory(seq, status, data[16:nul].decode("latin-1"), decode_tlvs(data, nul + 1, end))
        except BodyError:
            return None

    return decode


def _header_only_decoder(cls: type[Pdu]) -> FastDecoder:
    def decode(data: bytes, status: int, seq: int) -> Pdu | None:
        return cls(seq, status) if len(data) == 16 else None

    return decode


def _encode_short_message(pdu: ShortMessagePdu) -> bytes | None:
    try:
        service_type = pdu.service_type.encode("latin-1")
        source = pdu.source_addr.encode("latin-1")
        dest = pdu.destination_addr.encode("latin-1")
        schedule = pdu.schedule_delivery_time.encode("latin-1")
        validity = pdu.validity_period.encode("latin-1")
        message = pdu.short_message
        if (
            len(service_type) > 5
            or len(source) > 20
            or len(dest) > 20
            or len(schedule) > 16
            or len(validity) > 16
            or len(message) > c.SHORT_MESSAGE_SIZE_MAX
            or 0 in service_type + source + dest + schedule + validity
            or type(message) is not bytes
        ):
            return None
        body = b"".join(
            (
                service_type,
                bytes((0, pdu.source_addr_ton, pdu.source_addr_npi)),
                source,
                bytes((0, pdu.dest_addr_ton, pdu.dest_addr_npi)),
                dest,
                bytes((0, pdu.esm_class, pdu.protocol_id, pdu.priority_flag)),
                schedule,
                b"\0",
                validity,
                bytes(
                    (
                        0,
                        pdu.registered_delivery,
                        pdu.replace_if_present_flag,
                        pdu.data_coding,
                        pdu.sm_default_msg_id,
                        len(message),
                    )
                ),
                message,
                encode_tlvs(pdu.tlvs) if pdu.tlvs else b"",
            )
        )
        return _HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number) + body
    except (ValueError, TypeError, AttributeError, struct.error, BodyError, OverflowError):
        return None


def _encode_message_id_resp(pdu: MessageIdResp) -> bytes | None:
    if pdu.command_status or pdu.tlvs:
        return None
    try:
        message_id = pdu.message_id.encode("latin-1")
        if len(message_id) > 64 or 0 in message_id:
            return None
        header = _HEADER.pack(17 + len(message_id), pdu.command_id, 0, pdu.sequence_number)
    except (ValueError, AttributeError, struct.error):
        return None
    return header + message_id + b"\0"


def _encode_header_only(pdu: GenericNack) -> bytes | None:
    if pdu.tlvs:
        return None
    try:
        return _HEADER.pack(16, pdu.command_id, pdu.command_status, pdu.sequence_number)
    except struct.error:
        return None


_HEADER_ONLY: Final = (
    GenericNack,
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    CancelSmResp,
    ReplaceSmResp,
)
_MESSAGE_ID_RESPS: Final = (SubmitSmResp, DeliverSmResp, DataSmResp)

FAST_DECODERS: Final[dict[int, FastDecoder]] = {
    SubmitSm.command_id: _short_message_decoder(SubmitSm),
    DeliverSm.command_id: _short_message_decoder(DeliverSm),
    **{cls.command_id: _message_id_decoder(cls) for cls in _MESSAGE_ID_RESPS},
    **{cls.command_id: _header_only_decoder(cls) for cls in _HEADER_ONLY},
}

FAST_ENCODERS: Final[dict[type[Pdu], FastEncoder]] = {
    SubmitSm: _encode_short_message,
    DeliverSm: _encode_short_message,
    **{cls: _encode_message_id_resp for cls in _MESSAGE_ID_RESPS},
    **{cls: _encode_header_only for cls in _HEADER_ONLY},
}
