"""Optional parameters (TLVs): ``tag(2) length(2) value(length)`` after the mandatory body.

A PDU keeps its TLVs as a tuple of :class:`Tlv` in wire order, so unknown and vendor TLVs survive
a decode/encode round trip untouched. Known tags are *typed*: an integer TLV decodes to ``int``, a
C-octet-string TLV to ``str`` (latin-1, NUL removed), an octet-string TLV to ``bytes``. A known tag
whose value does not fit its type (wrong width, stray NULs) is kept raw as ``bytes`` rather than
rejected, because SMSCs in the wild send such receipts and losing a DLR is worse than an untyped
field. Read typed values with ``MESSAGE_STATE.get(pdu.tlvs)``; build them with
``MESSAGE_PAYLOAD(b"...")``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from .constants import ESME_RINVOPTPARAMVAL, ESME_RINVOPTPARSTREAM, ESME_RINVPARLEN

TLV_VALUE_SIZE_MAX: Final = 0xFFFF
_TAG_LENGTH: Final = struct.Struct(">HH")


class BodyError(Exception):
    """Internal: a malformed body field. The codec turns it into an :class:`SmppError`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Tlv:
    """One optional parameter. ``value`` is typed for known tags, raw ``bytes`` otherwise."""

    tag: int
    value: int | str | bytes


@dataclass(frozen=True, slots=True)
class TlvDef[T: (int, str, bytes)]:
    """A known tag: its name, Python type and size (int width, or max octets incl. NUL)."""

    tag: int
    name: str
    kind: type[T]
    size: int

    def __call__(self, value: T) -> Tlv:
        return Tlv(self.tag, value)

    def get(self, tlvs: Sequence[Tlv]) -> T | None:
        """The first value of this tag with the expected type, else ``None``."""
        for tlv in tlvs:
            value = tlv.value
            if tlv.tag == self.tag and isinstance(value, self.kind):
                return value
        return None

    def parse(self, raw: bytes) -> int | str | bytes:
        kind: type[Any] = self.kind
        if kind is int:
            return int.from_bytes(raw, "big") if len(raw) == self.size else raw
        if kind is str:
            nul = raw.find(0)
            if nul == len(raw) - 1 and len(raw) <= self.size:
                return raw[:-1].decode("latin-1")
            if nul < 0 and len(raw) < self.size:  # liberal: a C-string TLV sent without its NUL
                return raw.decode("latin-1")
        return raw


def _int(tag: int, name: str, size: int) -> TlvDef[int]:
    return TlvDef(tag, name, int, size)


def _cstr(tag: int, name: str, size: int) -> TlvDef[str]:
    return TlvDef(tag, name, str, size)


def _octets(tag: int, name: str, size: int) -> TlvDef[bytes]:
    return TlvDef(tag, name, bytes, size)


# SMPP 3.4 §5.3.2 (tags and sizes agree with Kannel smpp_pdu_opt.def and smpplib consts).
DEST_ADDR_SUBUNIT: Final = _int(0x0005, "dest_addr_subunit", 1)
DEST_NETWORK_TYPE: Final = _int(0x0006, "dest_network_type", 1)
DEST_BEARER_TYPE: Final = _int(0x0007, "dest_bearer_type", 1)
DEST_TELEMATICS_ID: Final = _int(0x0008, "dest_telematics_id", 2)
SOURCE_ADDR_SUBUNIT: Final = _int(0x000D, "source_addr_subunit", 1)
SOURCE_NETWORK_TYPE: Final = _int(0x000E, "source_network_type", 1)
SOURCE_BEARER_TYPE: Final = _int(0x000F, "source_bearer_type", 1)
SOURCE_TELEMATICS_ID: Final = _int(0x0010, "source_telematics_id", 1)
QOS_TIME_TO_LIVE: Final = _int(0x0017, "qos_time_to_live", 4)
PAYLOAD_TYPE: Final = _int(0x0019, "payload_type", 1)
ADDITIONAL_STATUS_INFO_TEXT: Final = _cstr(0x001D, "additional_status_info_text", 256)
RECEIPTED_MESSAGE_ID: Final = _cstr(0x001E, "receipted_message_id", 65)
MS_MSG_WAIT_FACILITIES: Final = _int(0x0030, "ms_msg_wait_facilities", 1)
PRIVACY_INDICATOR: Final = _int(0x0201, "privacy_indicator", 1)
SOURCE_SUBADDRESS: Final = _octets(0x0202, "source_subaddress", 23)
DEST_SUBADDRESS: Final = _octets(0x0203, "dest_subaddress", 23)
USER_MESSAGE_REFERENCE: Final = _int(0x0204, "user_message_reference", 2)
USER_RESPONSE_CODE: Final = _int(0x0205, "user_response_code", 1)
SOURCE_PORT: Final = _int(0x020A, "source_port", 2)
DESTINATION_PORT: Final = _int(0x020B, "destination_port", 2)
SAR_MSG_REF_NUM: Final = _int(0x020C, "sar_msg_ref_num", 2)
LANGUAGE_INDICATOR: Final = _int(0x020D, "language_indicator", 1)
SAR_TOTAL_SEGMENTS: Final = _int(0x020E, "sar_total_segments", 1)
SAR_SEGMENT_SEQNUM: Final = _int(0x020F, "sar_segment_seqnum", 1)
SC_INTERFACE_VERSION: Final = _int(0x0210, "sc_interface_version", 1)
CALLBACK_NUM_PRES_IND: Final = _int(0x0302, "callback_num_pres_ind", 1)
CALLBACK_NUM_ATAG: Final = _octets(0x0303, "callback_num_atag", 65)
NUMBER_OF_MESSAGES: Final = _int(0x0304, "number_of_messages", 1)
CALLBACK_NUM: Final = _octets(0x0381, "callback_num", 19)
DPF_RESULT: Final = _int(0x0420, "dpf_result", 1)
SET_DPF: Final = _int(0x0421, "set_dpf", 1)
MS_AVAILABILITY_STATUS: Final = _int(0x0422, "ms_availability_status", 1)
NETWORK_ERROR_CODE: Final = _octets(0x0423, "network_error_code", 3)
MESSAGE_PAYLOAD: Final = _octets(0x0424, "message_payload", TLV_VALUE_SIZE_MAX)
DELIVERY_FAILURE_REASON: Final = _int(0x0425, "delivery_failure_reason", 1)
MORE_MESSAGES_TO_SEND: Final = _int(0x0426, "more_messages_to_send", 1)
MESSAGE_STATE: Final = _int(0x0427, "message_state", 1)
CONGESTION_STATE: Final = _int(0x0428, "congestion_state", 1)  # SMPP 5.0
USSD_SERVICE_OP: Final = _octets(0x0501, "ussd_service_op", 1)
DISPLAY_TIME: Final = _int(0x1201, "display_time", 1)
SMS_SIGNAL: Final = _int(0x1203, "sms_signal", 2)
MS_VALIDITY: Final = _int(0x1204, "ms_validity", 1)
ALERT_ON_MESSAGE_DELIVERY: Final = _octets(0x130C, "alert_on_message_delivery", 0)
ITS_REPLY_TYPE: Final = _int(0x1380, "its_reply_type", 1)
ITS_SESSION_INFO: Final = _octets(0x1383, "its_session_info", 2)

KNOWN_TLVS: Final[dict[int, TlvDef[Any]]] = {
    d.tag: d for d in globals().copy().values() if isinstance(d, TlvDef)
}


def decode_tlvs(data: bytes, pos: int, end: int) -> tuple[Tlv, ...]:
    """Decode the TLVs in ``data[pos:end]``. Raises :class:`BodyError` on a broken stream."""
    out: list[Tlv] = []
    known = KNOWN_TLVS
    while pos < end:
        if pos + 4 > end:
            raise BodyError(ESME_RINVOPTPARSTREAM, f"{end - pos} stray octets after the TLVs")
        tag, length = _TAG_LENGTH.unpack_from(data, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise BodyError(ESME_RINVPARLEN, f"TLV 0x{tag:04X} length {length} overruns the PDU")
        raw = data[pos:stop]
        spec = known.get(tag)
        out.append(Tlv(tag, raw if spec is None else spec.parse(raw)))
        pos = stop
    return tuple(out)


def encode_tlv(tlv: Tlv) -> bytes:
    """One TLV on the wire. Raises :class:`BodyError` when the value cannot be encoded."""
    value = tlv.value
    if type(value) is bytes:
        raw = value
    else:
        spec = KNOWN_TLVS.get(tlv.tag)
        if spec is None or type(value) is not spec.kind:
            raise BodyError(ESME_RINVOPTPARAMVAL, f"TLV 0x{tlv.tag:04X}: {type(value).__name__} value")
        if type(value) is int:
            raw = value.to_bytes(spec.size, "big")
        else:
            raw = cast(str, value).encode("latin-1") + b"\0"
            if len(raw) > spec.size or raw.find(0) != len(raw) - 1:
                raise BodyError(ESME_RINVPARLEN, f"TLV {spec.name}: value too long or holds a NUL")
    if len(raw) > TLV_VALUE_SIZE_MAX:
        raise BodyError(ESME_RINVPARLEN, f"TLV 0x{tlv.tag:04X}: {len(raw)} octets")
    return _TAG_LENGTH.pack(tlv.tag, len(raw)) + raw


def encode_tlvs(tlvs: Sequence[Tlv]) -> bytes:
    return b"".join([encode_tlv(t) for t in tlvs])
