"""Our SMPP encoding agrees byte for byte with smpplib 2.2.4, an independent implementation, and
each side decodes the other's bytes to the same fields (R3).

smpplib quirks handled here (see the shared brief): ``make_pdu(sequence=...)`` is ignored, so the
sequence is set on the PDU afterwards; parsing a request needs a client object that hands out
sequence numbers; parsed strings are ``bytes``; it has no submit_multi/cancel_sm/replace_sm.
"""

from __future__ import annotations

from typing import Any

import pytest
import smpplib.smpp

from smpp_bridge.smpp import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode_pdu,
    encode_pdu,
    tlv,
)
from smpp_bridge.smpp import constants as c


class _Client:
    """The bare minimum smpplib wants from a client when it builds or parses a request."""

    sequence = 0

    def next_sequence(self) -> int:
        return 1


def smpplib_bytes(name: str, seq: int, fields: dict[str, Any]) -> bytes:
    pdu = smpplib.smpp.make_pdu(name, client=_Client(), sequence=seq, **fields)
    pdu.sequence = seq  # make_pdu ignores sequence=
    return bytes(pdu.generate())


def smpplib_parse(data: bytes) -> Any:
    return smpplib.smpp.parse_pdu(data, client=_Client())


SUBMIT_FIELDS = {
    "service_type": "",
    "source_addr_ton": 5,
    "source_addr_npi": 0,
    "source_addr": "BILLING",
    "dest_addr_ton": 1,
    "dest_addr_npi": 1,
    "destination_addr": "447700900123",
    "esm_class": 3,
    "registered_delivery": 1,
    "data_coding": 0,
    "short_message": b"Hello from Kannel",
}
BIND_FIELDS = {"system_id": "acme", "password": "s3cret", "system_type": "VMA", "addr_ton": 1, "addr_npi": 1}
RECEIPT = (
    b"id:1000 sub:001 dlvrd:001 submit date:2411220305 done date:2411220306 stat:DELIVRD err:000 text:Hi"
)

# (ours, smpplib command name, smpplib fields); TLVs in smpplib's params_order so bytes can match
CASES: list[tuple[Pdu, str, dict[str, Any]]] = [
    (BindTransmitter(1, **BIND_FIELDS), "bind_transmitter", BIND_FIELDS),
    (BindReceiver(2, **BIND_FIELDS), "bind_receiver", BIND_FIELDS),
    (
        BindTransceiver(3, **BIND_FIELDS, address_range="^4477"),
        "bind_transceiver",
        {**BIND_FIELDS, "address_range": "^4477"},
    ),
    (
        BindTransmitterResp(1, 0, "bridge", (tlv.SC_INTERFACE_VERSION(0x34),)),
        "bind_transmitter_resp",
        {"system_id": "bridge", "sc_interface_version": 0x34},
    ),
    (BindTransceiverResp(3, 0, "bridge"), "bind_transceiver_resp", {"system_id": "bridge"}),
    (SubmitSm(2, **SUBMIT_FIELDS), "submit_sm", SUBMIT_FIELDS),
    (
        SubmitSm(
            4,
            **{
                **SUBMIT_FIELDS,
                "esm_class": 0x03,
                "data_coding": 8,
                "short_message": "Привет 😀".encode("utf-16-be"),
            },
            tlvs=(
                tlv.USER_MESSAGE_REFERENCE(77),
                tlv.SAR_MSG_REF_NUM(0x1234),
                tlv.SAR_TOTAL_SEGMENTS(2),
                tlv.SAR_SEGMENT_SEQNUM(1),
            ),
        ),
        "submit_sm",
        {
            **SUBMIT_FIELDS,
            "data_coding": 8,
            "short_message": "Привет 😀".encode("utf-16-be"),
            "user_message_reference": 77,
            "sar_msg_ref_num": 0x1234,
            "sar_total_segments": 2,
            "sar_segment_seqnum": 1,
        },
    ),
    (
        SubmitSm(5, **{**SUBMIT_FIELDS, "short_message": b""}, tlvs=(tlv.MESSAGE_PAYLOAD(b"p" * 200),)),
        "submit_sm",
        {**SUBMIT_FIELDS, "short_message": None, "message_payload": b"p" * 200},
    ),
    (SubmitSmResp(2, 0, "0a1b2c3d"), "submit_sm_resp", {"message_id": "0a1b2c3d"}),
    (
        DeliverSm(
            6,
            source_addr="447700900123",
            dest_addr_ton=0,
            destination_addr="12345",
            esm_class=c.ESM_TYPE_DELIVERY_RECEIPT,
            short_message=RECEIPT,
            tlvs=(tlv.MESSAGE_STATE(2), tlv.RECEIPTED_MESSAGE_ID("1000")),
        ),
        "deliver_sm",
        {
            "source_addr": "447700900123",
            "destination_addr": "12345",
            "esm_class": 4,
            "short_message": RECEIPT,
            "message_state": 2,
            "receipted_message_id": "1000",
        },
    ),
    (DeliverSmResp(6), "deliver_sm_resp", {"message_id": ""}),
    (
        DataSm(
            7,
            source_addr="BILLING",
            destination_addr="447700900123",
            tlvs=(tlv.SOURCE_PORT(9200), tlv.MESSAGE_PAYLOAD(b"wap push")),
        ),
        "data_sm",
        {
            "source_addr": "BILLING",
            "destination_addr": "447700900123",
            "source_port": 9200,
            "message_payload": b"wap push",
        },
    ),
    (DataSmResp(7, 0, "d7"), "data_sm_resp", {"message_id": "d7"}),
    (
        QuerySm(8, message_id="0a1b", source_addr_ton=5, source_addr="BILLING"),
        "query_sm",
        {"message_id": "0a1b", "source_addr_ton": 5, "source_addr": "BILLING"},
    ),
    (
        QuerySmResp(8, 0, "0a1b", "2411220306000+", c.MESSAGE_STATE_DELIVERED, 0),
        "query_sm_resp",
        {"message_id": "0a1b", "final_date": "2411220306000+", "message_state": 2, "error_code": 0},
    ),
    (
        AlertNotification(9, 0, 1, 1, "447700900123", 0, 0, "bridge", (tlv.MS_AVAILABILITY_STATUS(0),)),
        "alert_notification",
        {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "447700900123",
            "esme_addr": "bridge",
            "ms_availability_status": 0,
        },
    ),
    (EnquireLink(10), "enquire_link", {}),
    (EnquireLinkResp(10), "enquire_link_resp", {}),
    (Unbind(11), "unbind", {}),
    (UnbindResp(11), "unbind_resp", {}),
    (GenericNack(12, c.ESME_RINVCMDID), "generic_nack", {"status": c.ESME_RINVCMDID}),
]


@pytest.mark.parametrize(
    ("ours", "name", "fields"), CASES, ids=[f"{i}-{case[1]}" for i, case in enumerate(CASES)]
)
def test_encoding_is_byte_for_byte_smpplibs(ours: Pdu, name: str, fields: dict[str, Any]) -> None:
    assert encode_pdu(ours).hex() == smpplib_bytes(name, ours.sequence_number, fields).hex()


@pytest.mark.parametrize(
    ("ours", "name", "fields"), CASES, ids=[f"{i}-{case[1]}" for i, case in enumerate(CASES)]
)
def test_we_decode_smpplib_bytes(ours: Pdu, name: str, fields: dict[str, Any]) -> None:
    assert decode_pdu(smpplib_bytes(name, ours.sequence_number, fields)) == ours


def _as_smpplib_parses(value: Any) -> Any:
    return value.encode("latin-1") if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("ours", "name", "fields"), CASES, ids=[f"{i}-{case[1]}" for i, case in enumerate(CASES)]
)
def test_smpplib_decodes_our_bytes(ours: Pdu, name: str, fields: dict[str, Any]) -> None:
    parsed = smpplib_parse(encode_pdu(ours))
    assert parsed.command == name
    assert (parsed.sequence, parsed.status) == (ours.sequence_number, ours.command_status)
    for field, value in fields.items():
        if field == "status" or value is None:
            continue
        assert getattr(parsed, field) == _as_smpplib_parses(value), field
