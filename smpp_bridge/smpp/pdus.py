"""Every SMPP 3.4 PDU as a frozen dataclass, with its mandatory-body layout.

Field order of every PDU class is ``sequence_number, command_status, <body fields in wire order>,
tlvs``; every field has a default, so ``SubmitSm(destination_addr="447700900123",
short_message=b"hi")`` is a valid PDU and the session fills in the sequence number.
C-octet strings are ``str`` (latin-1, so any octet round-trips); ``short_message`` is ``bytes``
with its ``data_coding`` beside it: text conversion lives in ``smsbilling.domain.text``.

``layout`` lists the body fields as ``(name, kind, size, status)``: ``size`` is the maximum
length *including* the NUL for C-octet strings (SMPP 3.4 §4, "Var. max"), and ``status`` is the
command_status to answer when that field is malformed. The codec interprets these layouts; a
unit test checks each layout against the dataclass fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final

from . import constants as c
from .tlv import Tlv

# field kinds
U8: Final = 0
CSTR: Final = 1
SHORT_MESSAGE: Final = 2  # sm_length (1 octet) + short_message
DEST_ADDRESSES: Final = 3  # number_of_dests + dest_address structures (submit_multi)
UNSUCCESS_SMES: Final = 4  # no_unsuccess + unsuccess_sme structures (submit_multi_resp)

FieldSpec = tuple[str, int, int, int]
Layout = tuple[FieldSpec, ...]

_TRUNCATED: Final = c.ESME_RINVCMDLEN


def _u8(name: str) -> FieldSpec:
    return (name, U8, 1, _TRUNCATED)


def _cstr(name: str, size: int, status: int) -> FieldSpec:
    return (name, CSTR, size, status)


_SERVICE_TYPE: Final = _cstr("service_type", 6, c.ESME_RINVSERTYP)
_SOURCE_TON_NPI: Final = (_u8("source_addr_ton"), _u8("source_addr_npi"))
_SOURCE_ADDR_21: Final = _cstr("source_addr", 21, c.ESME_RINVSRCADR)
_DEST_TON_NPI: Final = (_u8("dest_addr_ton"), _u8("dest_addr_npi"))
_DEST_ADDR_21: Final = _cstr("destination_addr", 21, c.ESME_RINVDSTADR)
_MESSAGE_ID: Final = _cstr("message_id", 65, c.ESME_RINVMSGID)
_SCHEDULE: Final = _cstr("schedule_delivery_time", 17, c.ESME_RINVSCHED)
_VALIDITY: Final = _cstr("validity_period", 17, c.ESME_RINVEXPIRY)
_SM: Final = ("short_message", SHORT_MESSAGE, c.SHORT_MESSAGE_SIZE_MAX, c.ESME_RINVMSGLEN)


@dataclass(frozen=True)
class Pdu:
    """Base of all PDUs: the header fields other than ``command_length``."""

    command_id: ClassVar[int] = -1
    layout: ClassVar[Layout] = ()
    sequence_number: int = 0
    command_status: int = 0


@dataclass(frozen=True)
class _HeaderOnly(Pdu):
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class GenericNack(_HeaderOnly):
    command_id: ClassVar[int] = c.GENERIC_NACK


@dataclass(frozen=True)
class Unbind(_HeaderOnly):
    command_id: ClassVar[int] = c.UNBIND


@dataclass(frozen=True)
class UnbindResp(_HeaderOnly):
    command_id: ClassVar[int] = c.UNBIND_RESP


@dataclass(frozen=True)
class EnquireLink(_HeaderOnly):
    command_id: ClassVar[int] = c.ENQUIRE_LINK


@dataclass(frozen=True)
class EnquireLinkResp(_HeaderOnly):
    command_id: ClassVar[int] = c.ENQUIRE_LINK_RESP


@dataclass(frozen=True)
class CancelSmResp(_HeaderOnly):
    command_id: ClassVar[int] = c.CANCEL_SM_RESP


@dataclass(frozen=True)
class ReplaceSmResp(_HeaderOnly):
    command_id: ClassVar[int] = c.REPLACE_SM_RESP


# --- binds ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bind(Pdu):
    """Common body of bind_transmitter / bind_receiver / bind_transceiver."""

    layout: ClassVar[Layout] = (
        _cstr("system_id", 16, c.ESME_RINVSYSID),
        _cstr("password", 9, c.ESME_RINVPASWD),
        _cstr("system_type", 13, c.ESME_RINVSYSTYP),
        _u8("interface_version"),
        _u8("addr_ton"),
        _u8("addr_npi"),
        _cstr("address_range", 41, c.ESME_RBINDFAIL),
    )
    system_id: str = ""
    password: str = field(default="", repr=False)
    system_type: str = ""
    interface_version: int = c.INTERFACE_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class BindTransmitter(Bind):
    command_id: ClassVar[int] = c.BIND_TRANSMITTER


@dataclass(frozen=True)
class BindReceiver(Bind):
    command_id: ClassVar[int] = c.BIND_RECEIVER


@dataclass(frozen=True)
class BindTransceiver(Bind):
    command_id: ClassVar[int] = c.BIND_TRANSCEIVER


@dataclass(frozen=True)
class BindResp(Pdu):
    """Common body of the bind responses: system_id + TLV sc_interface_version."""

    layout: ClassVar[Layout] = (_cstr("system_id", 16, c.ESME_RINVSYSID),)
    system_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class BindTransmitterResp(BindResp):
    command_id: ClassVar[int] = c.BIND_TRANSMITTER_RESP


@dataclass(frozen=True)
class BindReceiverResp(BindResp):
    command_id: ClassVar[int] = c.BIND_RECEIVER_RESP


@dataclass(frozen=True)
class BindTransceiverResp(BindResp):
    command_id: ClassVar[int] = c.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True)
class Outbind(Pdu):
    command_id: ClassVar[int] = c.OUTBIND
    layout: ClassVar[Layout] = (
        _cstr("system_id", 16, c.ESME_RINVSYSID),
        _cstr("password", 9, c.ESME_RINVPASWD),
    )
    system_id: str = ""
    password: str = field(default="", repr=False)
    tlvs: tuple[Tlv, ...] = ()


# --- short messages ------------------------------------------------------------------------
_SM_TAIL: Final = (
    _u8("esm_class"),
    _u8("protocol_id"),
    _u8("priority_flag"),
    _SCHEDULE,
    _VALIDITY,
    _u8("registered_delivery"),
    _u8("replace_if_present_flag"),
    _u8("data_coding"),
    _u8("sm_default_msg_id"),
    _SM,
)


@dataclass(frozen=True)
class ShortMessagePdu(Pdu):
    """Common body of submit_sm and deliver_sm (SMPP 3.4 §4.4.1, §4.6.1)."""

    layout: ClassVar[Layout] = (
        _SERVICE_TYPE,
        *_SOURCE_TON_NPI,
        _SOURCE_ADDR_21,
        *_DEST_TON_NPI,
        _DEST_ADDR_21,
        *_SM_TAIL,
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class SubmitSm(ShortMessagePdu):
    command_id: ClassVar[int] = c.SUBMIT_SM


@dataclass(frozen=True)
class DeliverSm(ShortMessagePdu):
    command_id: ClassVar[int] = c.DELIVER_SM

    @property
    def is_receipt(self) -> bool:
        """A delivery receipt or SME/intermediate notification rather than an MO."""
        return bool(
            self.esm_class
            & (
                c.ESM_TYPE_DELIVERY_RECEIPT
                | c.ESM_TYPE_SME_DELIVERY_ACK
                | c.ESM_TYPE_INTERMEDIATE_NOTIFICATION
            )
        )


@dataclass(frozen=True)
class MessageIdResp(Pdu):
    """Common body of submit_sm_resp, deliver_sm_resp and data_sm_resp: message_id C65."""

    layout: ClassVar[Layout] = (_MESSAGE_ID,)
    message_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class SubmitSmResp(MessageIdResp):
    command_id: ClassVar[int] = c.SUBMIT_SM_RESP


@dataclass(frozen=True)
class DeliverSmResp(MessageIdResp):
    """3.4 says message_id is unused (NULL); we accept up to 65 octets, as some SMSCs fill it."""

    command_id: ClassVar[int] = c.DELIVER_SM_RESP


@dataclass(frozen=True)
class DataSmResp(MessageIdResp):
    command_id: ClassVar[int] = c.DATA_SM_RESP


@dataclass(frozen=True)
class DataSm(Pdu):
    """data_sm (SMPP 3.4 §4.7.1): payload only in TLV message_payload; addresses are C65."""

    command_id: ClassVar[int] = c.DATA_SM
    layout: ClassVar[Layout] = (
        _SERVICE_TYPE,
        *_SOURCE_TON_NPI,
        _cstr("source_addr", 65, c.ESME_RINVSRCADR),
        *_DEST_TON_NPI,
        _cstr("destination_addr", 65, c.ESME_RINVDSTADR),
        _u8("esm_class"),
        _u8("registered_delivery"),
        _u8("data_coding"),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: tuple[Tlv, ...] = ()


# --- submit_multi --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SmeAddress:
    """dest_flag 1: an SME address (ton, npi, C21)."""

    ton: int = 0
    npi: int = 0
    address: str = ""


@dataclass(frozen=True, slots=True)
class DistributionList:
    """dest_flag 2: a distribution list name (C21)."""

    name: str = ""


DestAddress = SmeAddress | DistributionList


@dataclass(frozen=True, slots=True)
class UnsuccessSme:
    """One failed destination in submit_multi_resp."""

    ton: int = 0
    npi: int = 0
    address: str = ""
    error_status_code: int = 0


@dataclass(frozen=True)
class SubmitMulti(Pdu):
    command_id: ClassVar[int] = c.SUBMIT_MULTI
    layout: ClassVar[Layout] = (
        _SERVICE_TYPE,
        *_SOURCE_TON_NPI,
        _SOURCE_ADDR_21,
        ("dest_addresses", DEST_ADDRESSES, c.NUMBER_OF_DESTS_MAX, c.ESME_RINVNUMDESTS),
        *_SM_TAIL,
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[DestAddress, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class SubmitMultiResp(Pdu):
    command_id: ClassVar[int] = c.SUBMIT_MULTI_RESP
    layout: ClassVar[Layout] = (
        _MESSAGE_ID,
        ("unsuccess_smes", UNSUCCESS_SMES, 255, c.ESME_RINVNUMDESTS),
    )
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    tlvs: tuple[Tlv, ...] = ()


# --- query / cancel / replace -------------------------------------------------------------
@dataclass(frozen=True)
class QuerySm(Pdu):
    command_id: ClassVar[int] = c.QUERY_SM
    layout: ClassVar[Layout] = (_MESSAGE_ID, *_SOURCE_TON_NPI, _SOURCE_ADDR_21)
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class QuerySmResp(Pdu):
    command_id: ClassVar[int] = c.QUERY_SM_RESP
    layout: ClassVar[Layout] = (
        _MESSAGE_ID,
        _cstr("final_date", 17, c.ESME_RQUERYFAIL),
        _u8("message_state"),
        _u8("error_code"),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class CancelSm(Pdu):
    command_id: ClassVar[int] = c.CANCEL_SM
    layout: ClassVar[Layout] = (
        _SERVICE_TYPE,
        _MESSAGE_ID,
        *_SOURCE_TON_NPI,
        _SOURCE_ADDR_21,
        *_DEST_TON_NPI,
        _DEST_ADDR_21,
    )
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class ReplaceSm(Pdu):
    """replace_sm (SMPP 3.4 §4.10.1). No service_type: Kannel's smpp_pdu.def has one; the spec not."""

    command_id: ClassVar[int] = c.REPLACE_SM
    layout: ClassVar[Layout] = (
        _MESSAGE_ID,
        *_SOURCE_TON_NPI,
        _SOURCE_ADDR_21,
        _SCHEDULE,
        _VALIDITY,
        _u8("registered_delivery"),
        _u8("sm_default_msg_id"),
        _SM,
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True)
class AlertNotification(Pdu):
    """alert_notification (SMPP 3.4 §4.12.1): no response PDU exists."""

    command_id: ClassVar[int] = c.ALERT_NOTIFICATION
    layout: ClassVar[Layout] = (
        *_SOURCE_TON_NPI,
        _cstr("source_addr", 65, c.ESME_RINVSRCADR),
        _u8("esme_addr_ton"),
        _u8("esme_addr_npi"),
        _cstr("esme_addr", 65, c.ESME_RINVDSTADR),
    )
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


PDU_CLASSES: Final[dict[int, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        GenericNack,
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        EnquireLink,
        EnquireLinkResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        DataSm,
        DataSmResp,
        SubmitMulti,
        SubmitMultiResp,
        QuerySm,
        QuerySmResp,
        CancelSm,
        CancelSmResp,
        ReplaceSm,
        ReplaceSmResp,
        AlertNotification,
    )
}

# request command_id -> its response command_id (outbind, alert_notification have none)
RESPONSE_ID: Final[dict[int, int]] = {
    cid: cid | c.RESPONSE_BIT
    for cid in PDU_CLASSES
    if not cid & c.RESPONSE_BIT and cid | c.RESPONSE_BIT in PDU_CLASSES
}

# Responses sent header-only when they carry an error and an empty body (SMPP 3.4 §4.1.2,
# §4.4.2 and the 5.0 clarification). deliver_sm_resp and data_sm_resp always keep their body.
HEADER_ONLY_ON_ERROR: Final = frozenset(
    {
        c.BIND_TRANSMITTER_RESP,
        c.BIND_RECEIVER_RESP,
        c.BIND_TRANSCEIVER_RESP,
        c.SUBMIT_SM_RESP,
        c.SUBMIT_MULTI_RESP,
        c.QUERY_SM_RESP,
    }
)


def builder[P: Pdu](cls: type[P]) -> Callable[..., P]:
    """Build ``cls`` from *all* its field values, positionally, without the frozen ``__init__``.

    A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__``; for the 20
    fields of submit_sm that is ~3.5 us, more than parsing the bytes. The decoders fill the
    instance ``__dict__`` in one call instead (~1.5 us) and get the same frozen, equal, hashable
    instance (PDU classes have no ``__slots__`` for this reason). Callers must pass every field.
    """
    names = tuple(f.name for f in fields(cls))
    new = object.__new__

    def build(*values: Any) -> P:
        pdu = new(cls)
        pdu.__dict__.update(zip(names, values, strict=True))
        return pdu

    return build


def renumbered[P: Pdu](pdu: P, sequence_number: int) -> P:
    """``dataclasses.replace(pdu, sequence_number=...)`` at a tenth of the cost (same reason)."""
    copy = object.__new__(type(pdu))
    copy.__dict__.update(pdu.__dict__)
    copy.__dict__["sequence_number"] = sequence_number
    return copy
