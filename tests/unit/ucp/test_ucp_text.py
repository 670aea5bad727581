"""UCP text helpers (alphanumeric OAdC, AMsg charsets, TMsg with XSer) and the DLR mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.ucp import (
    Ack,
    DeliveryNotification,
    SubmitShortMessage,
    UcpCharset,
    UcpError,
    XSer,
    decode_alphanumeric_oadc,
    decode_amsg,
    decode_frame,
    encode,
    encode_alphanumeric_oadc,
    encode_amsg,
    message_text,
    notification_report,
    originator_text,
    submit_for_text,
    submit_operator_id,
)
from smpp_bridge.ucp import constants as c
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.text import GSM7_CHARACTERS

PROPERTY = settings(max_examples=200, deadline=timedelta(milliseconds=500))
gsm_text = st.text(st.sampled_from(sorted(GSM7_CHARACTERS)), max_size=60)


# --- alphanumeric OAdC (OTOA 5039) ---------------------------------------------------------------
def test_alphanumeric_oadc_matches_net_ucp_example() -> None:
    # Net::UCP documents OAdC "10412614190438AB4D" for the originator "ALPHA@NUM".
    assert encode_alphanumeric_oadc("ALPHA@NUM") == "10412614190438AB4D"
    assert decode_alphanumeric_oadc("10412614190438AB4D") == "ALPHA@NUM"


def test_alphanumeric_oadc_length_counts_useful_semi_octets_but_octet_counts_also_read() -> None:
    assert encode_alphanumeric_oadc("test") == "07F4F29C0E"  # 4 septets = 28 bits = 7 semi-octets
    assert decode_alphanumeric_oadc("07F4F29C0E") == "test"
    assert decode_alphanumeric_oadc("08F4F29C0E") == "test"  # a Go client writes octets x 2


@given(
    st.text(
        st.sampled_from(sorted(GSM7_CHARACTERS - {"€", "{", "}", "[", "]", "~", "|", "^", "\\", "\f"})),
        min_size=1,
        max_size=11,
    )
)
@PROPERTY
def test_alphanumeric_oadc_round_trips(name: str) -> None:
    oadc = encode_alphanumeric_oadc(name)
    assert len(oadc) <= 22
    assert decode_alphanumeric_oadc(oadc) == name


@pytest.mark.parametrize("name", ["", "TWELVECHARSX", "Ж", "{{{{{{"])
def test_alphanumeric_oadc_refuses_what_does_not_fit(name: str) -> None:
    with pytest.raises(UcpError):
        encode_alphanumeric_oadc(name)


@pytest.mark.parametrize("oadc", ["", "0", "07", "0G", "XYZ"])
def test_bad_alphanumeric_oadc_is_a_ucp_error(oadc: str) -> None:
    with pytest.raises(UcpError):
        decode_alphanumeric_oadc(oadc)


def test_originator_text_reads_otoa() -> None:
    op = SubmitShortMessage(oadc="10412614190438AB4D", otoa="5039")
    assert originator_text(op) == "ALPHA@NUM"
    assert originator_text(SubmitShortMessage(oadc="4477")) == "4477"


# --- AMsg -----------------------------------------------------------------------------------------
def test_amsg_charsets_differ_only_where_gsm_and_latin1_do() -> None:
    assert (
        encode_amsg("Hello 51", UcpCharset.GSM) == encode_amsg("Hello 51", UcpCharset.LATIN1) == b"Hello 51"
    )
    assert encode_amsg("@£€", UcpCharset.GSM) == b"\x00\x01\x1be"
    assert encode_amsg("@£", UcpCharset.LATIN1) == b"@\xa3"
    assert decode_amsg(b"\x00\x01\x1be", UcpCharset.GSM) == "@£€"
    assert decode_amsg(b"@\xa3", UcpCharset.LATIN1) == "@£"
    with pytest.raises(UcpError):
        encode_amsg("€", UcpCharset.LATIN1)
    with pytest.raises(UcpError):
        decode_amsg(b"\x80", UcpCharset.GSM)
    assert decode_amsg(b"\x80", UcpCharset.GSM, errors="replace") == "\ufffd"


@given(gsm_text)
@PROPERTY
def test_amsg_gsm_round_trips_through_a_frame(text: str) -> None:
    op = decode_frame(encode(SubmitShortMessage(adc="1", mt=3, msg=encode_amsg(text))))
    assert isinstance(op, SubmitShortMessage)
    assert message_text(op, errors="strict") == text


# --- whole submits ---------------------------------------------------------------------------------
def test_submit_for_text_gsm_with_alphanumeric_sender_and_notification() -> None:
    op = submit_for_text("+447700900123", "ALPHA@NUM", "Your code is 1234")
    assert (op.adc, op.oadc, op.otoa, op.mt, op.nrq, op.nt) == (
        "447700900123",
        "10412614190438AB4D",
        "5039",
        3,
        "1",
        "3",
    )
    assert message_text(decode_frame(encode(op))) == "Your code is 1234"  # type: ignore[arg-type]


def test_submit_for_text_falls_back_to_ucs2_transparent_data() -> None:
    op = submit_for_text("447700900123", "+447700900999", "Привет 👋", notify=False)
    assert (op.oadc, op.otoa, op.mt, op.nrq, op.data_coding) == ("447700900999", "1139", 4, "", 0x08)
    assert op.nb == 8 * len(op.msg)
    decoded = decode_frame(encode(op))
    assert isinstance(decoded, SubmitShortMessage)
    assert message_text(decoded) == "Привет 👋"


def test_submit_for_text_keeps_the_udh_in_xser_01() -> None:
    udh = bytes.fromhex("050003A70201")
    op = submit_for_text("1", "2", "part one", udh=udh)
    decoded = decode_frame(encode(op))
    assert isinstance(decoded, SubmitShortMessage) and decoded.udh == udh


def test_latin1_link_sends_latin1_amsg() -> None:
    op = submit_for_text("1", "2", "café", charset=UcpCharset.LATIN1)
    assert (op.mt, op.msg) == (3, b"caf\xe9")
    assert message_text(op, UcpCharset.LATIN1) == "café"


def test_binary_tmsg_is_not_text() -> None:
    op = SubmitShortMessage(mt=4, nb=16, msg=b"\x01\x02", xser=(XSer(c.XSER_GSM_DCS, b"\x04"),))
    with pytest.raises(UcpError) as info:
        message_text(op)
    assert info.value.ec == c.Ec.MESSAGE_TYPE_NOT_SUPPORTED


def test_numeric_message_text() -> None:
    assert message_text(SubmitShortMessage(mt=2, msg=b"1234")) == "1234"
    assert message_text(SubmitShortMessage(mt=None)) == ""


# --- DLRs -----------------------------------------------------------------------------------------
SPEC_53 = (
    "00/00234/O/53/1299998/3155555/////////////090196161057/1/108/090196161105/3//"
    "4D65737361676520666F7220333135353535352C2077697468206964656E74696669636174696F6E20"
    "39363031303931363130353720686173206265656E206275666665726564/////////////1F"
)


def test_spec_notification_maps_to_enroute_with_its_reason() -> None:
    op = decode_frame(b"\x02" + SPEC_53.encode() + b"\x03")
    assert isinstance(op, DeliveryNotification)
    report = notification_report(op)
    assert report.operator_id == "3155555:090196161057"
    assert report.status is DlrStatus.ENROUTE
    assert (report.reason, report.reason_text) == ("108", "delivery fail")


@pytest.mark.parametrize(
    ("dst", "status"),
    [
        ("0", DlrStatus.DELIVERED),
        ("1", DlrStatus.ENROUTE),
        ("2", DlrStatus.UNDELIVERED),
        ("9", DlrStatus.UNKNOWN),
        ("", DlrStatus.UNKNOWN),
    ],
)
def test_dst_mapping(dst: str, status: DlrStatus) -> None:
    op = DeliveryNotification(adc="1", oadc="447700900123", scts="010125120000", dst=dst)
    assert notification_report(op).status is status


def test_submit_result_and_notification_meet_on_the_same_operator_id() -> None:
    request = SubmitShortMessage(adc="447700900123", msg=b"x")
    ack = Ack(51, 0, "447700900123:010125120000")
    notification = DeliveryNotification(adc="2", oadc="447700900123", scts="010125120000", dst="0")
    assert submit_operator_id(ack, request) == notification_report(notification).operator_id
    assert submit_operator_id(Ack(51, 0, "010125120000"), request) == "447700900123:010125120000"


@pytest.mark.parametrize("sm", ["", "447700900123:", "447700900123:1234"])
def test_submit_result_without_scts_is_a_ucp_error(sm: str) -> None:
    with pytest.raises(UcpError):
        submit_operator_id(Ack(51, 0, sm), SubmitShortMessage(adc="447700900123"))


def test_notification_without_scts_is_a_ucp_error() -> None:
    with pytest.raises(UcpError):
        notification_report(DeliveryNotification(oadc="447700900123", dst="0"))
