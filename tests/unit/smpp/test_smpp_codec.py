"""Codec: round trips for every PDU kind, captured bytes, per-field errors, fast == reference."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.smpp import (
    BindTransceiverResp,
    BindTransmitter,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    GenericNack,
    Pdu,
    QuerySmResp,
    SmeAddress,
    SmppError,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    UnsuccessSme,
    constants,
    decode_pdu,
    encode_pdu,
    tlv,
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.codec import HEADER, decode_generic, encode_generic
from smpp_bridge.smpp.fastpath import FAST_DECODERS, FAST_ENCODERS
from smpp_bridge.smpp.pdus import HEADER_ONLY_ON_ERROR, PDU_CLASSES, RESPONSE_ID, builder, renumbered

from .smpp_strategies import ALL_CLASSES, any_pdu, mutated_pdu_bytes, pdus_of

# SMPP 3.4 submit_sm sent by Kannel 1.4.5 for sendsms?from=BILLING&to=447700900123&text=Hello from
# Kannel&dlr-mask=3 (docs: shared brief protocols.md §1.1, captured).
KANNEL_SUBMIT_SM = bytes.fromhex(
    "00000045 00000004 00000000 00000002"
    "00"
    "05 00 42494c4c494e4700"
    "01 01 34343737303039303031323300"
    "03 00 00 00 00 01 00 00 00"
    "11 48656c6c6f2066726f6d204b616e6e656c".replace(" ", "")
)


def with_header(command_id: int, body: bytes, seq: int = 7, status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, seq) + body


def decode_error(data: bytes) -> SmppError:
    with pytest.raises(SmppError) as info:
        decode_pdu(data)
    return info.value


# --- captured and hand-checked bytes -----------------------------------------------------------
def test_kannel_submit_sm_decodes_to_the_captured_fields() -> None:
    pdu = decode_pdu(KANNEL_SUBMIT_SM)
    assert pdu == SubmitSm(
        sequence_number=2,
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="BILLING",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        esm_class=0x03,
        registered_delivery=0x01,
        data_coding=0x00,
        short_message=b"Hello from Kannel",
    )
    assert encode_pdu(pdu) == KANNEL_SUBMIT_SM


def test_receipt_deliver_sm_with_tlvs_as_kannel_accepted_it() -> None:
    text = (
        b"id:1000 sub:001 dlvrd:001 submit date:2411220305 done date:2411220306 stat:DELIVRD err:000"
        b" text:Hello from Kannel"
    )
    pdu = DeliverSm(
        sequence_number=9,
        esm_class=c.ESM_TYPE_DELIVERY_RECEIPT,
        short_message=text,
        tlvs=(tlv.RECEIPTED_MESSAGE_ID("1000"), tlv.MESSAGE_STATE(c.MESSAGE_STATE_DELIVERED)),
    )
    data = encode_pdu(pdu)
    assert data.endswith(bytes.fromhex("001E0005313030300004270001 02".replace(" ", "")))
    decoded = decode_pdu(data)
    assert isinstance(decoded, DeliverSm) and decoded.is_receipt
    assert tlv.RECEIPTED_MESSAGE_ID.get(decoded.tlvs) == "1000"
    assert tlv.MESSAGE_STATE.get(decoded.tlvs) == 2


def test_error_responses_are_header_only_where_3_4_says_so() -> None:
    assert encode_pdu(SubmitSmResp(5, c.ESME_RTHROTTLED)) == HEADER.pack(16, c.SUBMIT_SM_RESP, 0x58, 5)
    assert len(encode_pdu(BindTransceiverResp(1, c.ESME_RINVPASWD))) == 16
    assert len(encode_pdu(QuerySmResp(1, c.ESME_RQUERYFAIL))) == 16
    # deliver_sm_resp keeps its (NULL) message_id: some SMSCs insist on it
    assert len(encode_pdu(DeliverSmResp(1, c.ESME_RX_T_APPN))) == 17
    # an error response that does carry fields keeps them, so decode(encode(x)) == x holds
    assert len(encode_pdu(SubmitSmResp(5, c.ESME_RSYSERR, "x"))) == 18


def test_empty_body_response_decodes_with_defaults() -> None:
    assert decode_pdu(HEADER.pack(16, c.SUBMIT_SM_RESP, 0, 3)) == SubmitSmResp(3)
    assert decode_pdu(HEADER.pack(16, c.DELIVER_SM_RESP, 0x64, 3)) == DeliverSmResp(3, 0x64)


def test_submit_multi_destinations_and_unsuccess_list() -> None:
    pdu = SubmitMulti(
        4,
        source_addr="BILLING",
        dest_addresses=(SmeAddress(1, 1, "447700900123"), DistributionList("vip")),
        short_message=b"hi",
    )
    data = encode_pdu(pdu)
    assert bytes.fromhex("02 01 0101 34343737303039303031323300 02 76697000".replace(" ", "")) in data
    assert decode_pdu(data) == pdu
    resp = SubmitMultiResp(4, 0, "m1", (UnsuccessSme(1, 1, "447700900123", c.ESME_RINVDSTADR),))
    assert decode_pdu(encode_pdu(resp)) == resp


def test_unknown_tlvs_are_kept_in_order_and_reencoded_byte_for_byte() -> None:
    body = encode_pdu(DataSm(1, destination_addr="1"))[16:]
    tlvs = bytes.fromhex("1400 0002 abcd 0424 0003 414243 3fff 0000 0427 0001 05".replace(" ", ""))
    data = with_header(c.DATA_SM, body + tlvs)
    pdu = decode_pdu(data)
    assert pdu.tlvs == (  # type: ignore[attr-defined]
        Tlv(0x1400, b"\xab\xcd"),
        Tlv(0x0424, b"ABC"),
        Tlv(0x3FFF, b""),
        Tlv(0x0427, 5),
    )
    assert encode_pdu(pdu) == data


def test_known_tlv_with_unexpected_shape_is_kept_raw() -> None:
    body = encode_pdu(DeliverSm(1))[16:]
    # message_state with 2 octets, receipted_message_id without its NUL (seen in the wild)
    tlvs = bytes.fromhex("0427 0002 0002 001E 0004 31303030".replace(" ", ""))
    pdu = decode_pdu(with_header(c.DELIVER_SM, body + tlvs))
    assert tlv.MESSAGE_STATE.get(pdu.tlvs) is None  # type: ignore[attr-defined]
    assert pdu.tlvs[0] == Tlv(0x0427, b"\x00\x02")  # type: ignore[attr-defined]
    assert tlv.RECEIPTED_MESSAGE_ID.get(pdu.tlvs) == "1000"  # type: ignore[attr-defined]


# --- per-field errors --------------------------------------------------------------------------
def _submit_body(**fields: object) -> bytes:
    return encode_pdu(SubmitSm(7, **fields))[16:]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"ABCDEF\0" + _submit_body()[1:], c.ESME_RINVSERTYP),
        (b"\0\1\1" + b"1" * 21 + b"\0" + _submit_body()[4:], c.ESME_RINVSRCADR),
        (_submit_body()[:6] + b"2" * 21 + b"\0" + _submit_body()[7:], c.ESME_RINVDSTADR),
        (_submit_body()[:10] + b"9" * 17 + b"\0" + _submit_body()[11:], c.ESME_RINVSCHED),
        (_submit_body()[:11] + b"9" * 17 + b"\0" + _submit_body()[12:], c.ESME_RINVEXPIRY),
        (_submit_body()[:-1] + b"\x05ab", c.ESME_RINVMSGLEN),  # sm_length past the end
        (_submit_body()[:-1] + b"\xff" + b"x" * 255, c.ESME_RINVMSGLEN),  # sm_length 255 > 254
        (_submit_body()[:8], c.ESME_RINVCMDLEN),  # body ends early
        (_submit_body() + b"\x02\x04\x00", c.ESME_RINVOPTPARSTREAM),  # 3 stray octets
        (_submit_body() + b"\x04\x24\x00\x09abc", c.ESME_RINVPARLEN),  # TLV overruns
    ],
)
def test_malformed_submit_sm_gets_the_fields_status(body: bytes, status: int) -> None:
    error = decode_error(with_header(c.SUBMIT_SM, body))
    assert (error.status, error.sequence_number, error.command_id, error.fatal) == (
        status,
        7,
        c.SUBMIT_SM,
        False,
    )


@pytest.mark.parametrize(
    ("field", "status"),
    [("system_id", c.ESME_RINVSYSID), ("password", c.ESME_RINVPASWD), ("system_type", c.ESME_RINVSYSTYP)],
)
def test_bind_field_too_long(field: str, status: int) -> None:
    pdu = BindTransmitter(1, **{field: "x"})
    data = encode_pdu(pdu).replace(b"x\0", b"x" * 40 + b"\0")
    data = len(data).to_bytes(4, "big") + data[4:]
    assert decode_error(data).status == status


def test_submit_multi_bad_dest_flag_and_count() -> None:
    body = encode_pdu(SubmitMulti(1, dest_addresses=(DistributionList("a"),)))[16:]
    bad_flag = body.replace(b"\x01\x02a\0", b"\x01\x07a\0")
    assert decode_error(with_header(c.SUBMIT_MULTI, bad_flag)).status == c.ESME_RINVDESTFLAG
    too_many = body.replace(b"\x01\x02a\0", b"\xff\x02a\0")
    assert decode_error(with_header(c.SUBMIT_MULTI, too_many)).status == c.ESME_RINVNUMDESTS


def test_unknown_command_id_is_not_fatal() -> None:
    error = decode_error(with_header(0x00000111, b"whatever", seq=42))
    assert (error.status, error.sequence_number, error.fatal) == (c.ESME_RINVCMDID, 42, False)


@pytest.mark.parametrize("data", [b"", b"\0" * 15, HEADER.pack(17, c.ENQUIRE_LINK, 0, 1)])
def test_bad_command_length_is_fatal(data: bytes) -> None:
    error = decode_error(data)
    assert error.status == c.ESME_RINVCMDLEN and error.fatal


def test_encoding_invalid_fields_raises_smpp_error_only() -> None:
    cases: list[tuple[Pdu, int]] = [
        (SubmitSm(source_addr="1" * 21), c.ESME_RINVSRCADR),
        (SubmitSm(destination_addr="a\0b"), c.ESME_RINVDSTADR),
        (SubmitSm(short_message=b"x" * 255), c.ESME_RINVMSGLEN),
        (SubmitSm(esm_class=256), c.ESME_RSYSERR),
        (SubmitSm(source_addr="€"), c.ESME_RSYSERR),
        (SubmitSm(tlvs=(Tlv(0x1400, 5),)), c.ESME_RINVOPTPARAMVAL),
        (SubmitSm(tlvs=(tlv.SAR_MSG_REF_NUM(70000),)), c.ESME_RSYSERR),
        (SubmitSm(tlvs=(Tlv(0x1400, b"x" * 70000),)), c.ESME_RINVPARLEN),
        (SubmitSmResp(sequence_number=-1), c.ESME_RSYSERR),
        (GenericNack(sequence_number=2**32), c.ESME_RSYSERR),
        (Pdu(), c.ESME_RSYSERR),
    ]
    for pdu, status in cases:
        with pytest.raises(SmppError) as info:
            encode_pdu(pdu)
        assert info.value.status == status, pdu


# --- structure ---------------------------------------------------------------------------------
def test_every_layout_matches_its_dataclass_fields() -> None:
    for cls in ALL_CLASSES:
        names = [f.name for f in dataclasses.fields(cls)]
        assert names == ["sequence_number", "command_status", *(s[0] for s in cls.layout), "tlvs"], cls


def test_every_3_4_command_has_a_class_and_responses_pair_up() -> None:
    ids = {v for k, v in vars(constants).items() if k.isupper() and isinstance(v, int)}
    for name in ("SUBMIT_SM", "SUBMIT_MULTI", "DATA_SM", "QUERY_SM", "CANCEL_SM", "REPLACE_SM", "UNBIND"):
        command_id = getattr(constants, name)
        assert command_id in ids and command_id in PDU_CLASSES and RESPONSE_ID[command_id] in PDU_CLASSES
    assert set(PDU_CLASSES) - set(RESPONSE_ID) - set(RESPONSE_ID.values()) == {
        c.GENERIC_NACK,
        c.OUTBIND,
        c.ALERT_NOTIFICATION,
    }
    assert set(PDU_CLASSES) >= HEADER_ONLY_ON_ERROR
    assert constants.command_name(c.SUBMIT_SM) == "submit_sm"
    assert constants.status_name(0x58) == "ESME_RTHROTTLED"
    assert constants.status_name(0x12345) == "0x00012345"


def test_passwords_stay_out_of_repr() -> None:
    assert "s3cret" not in repr(BindTransmitter(system_id="acme", password="s3cret"))


# --- properties --------------------------------------------------------------------------------
@given(any_pdu)
@settings(max_examples=1500)
def test_round_trip_every_pdu_kind(pdu: Pdu) -> None:
    data = encode_pdu(pdu)
    assert decode_pdu(data) == pdu
    assert encode_generic(pdu) == data
    fast = FAST_DECODERS.get(pdu.command_id)
    if fast is not None:  # the fast path handles every well-formed PDU of its kinds but
        got = fast(data, pdu.command_status, pdu.sequence_number)  # header-only ones with TLVs
        assert got == pdu or (got is None and pdu.tlvs)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
@given(data=st.data())
@settings(max_examples=60)
def test_round_trip_per_kind(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdus_of(cls))
    assert decode_pdu(encode_pdu(pdu)) == pdu


@given(mutated_pdu_bytes())
@settings(max_examples=1500)
def test_fast_path_agrees_with_reference(data: bytes) -> None:
    if len(data) < 16:
        return
    length, command_id, status, seq = HEADER.unpack_from(data)
    fast = FAST_DECODERS.get(command_id)
    if fast is None or length != len(data):
        return
    got = fast(data, status, seq)
    try:
        expected: Pdu | tuple[object, ...] = decode_generic(data, command_id, status, seq)
    except SmppError as exc:
        expected = exc.key()
    assert got is None or got == expected


@given(st.sampled_from(list(FAST_ENCODERS)).flatmap(pdus_of))
@settings(max_examples=800)
def test_fast_encoders_agree_with_reference(pdu: Pdu) -> None:
    fast = FAST_ENCODERS[type(pdu)](pdu)
    assert fast is None or fast == encode_generic(pdu)


@given(any_pdu, st.integers(1, 0x7FFFFFFF))
@settings(max_examples=300)
def test_builder_and_renumbered_match_the_dataclass_way(pdu: Pdu, seq: int) -> None:
    values = [getattr(pdu, f.name) for f in dataclasses.fields(pdu)]
    built = builder(type(pdu))(*values)
    assert built == pdu and hash(built) == hash(pdu) and repr(built) == repr(pdu)
    assert renumbered(pdu, seq) == dataclasses.replace(pdu, sequence_number=seq)
    assert pdu.sequence_number == values[0]  # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.sequence_number = 1  # type: ignore[misc]
