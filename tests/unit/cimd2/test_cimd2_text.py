"""CIMD2 user data character set, binary user data, submits for text, and the DLR mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.cimd2 import (
    Cimd2Error,
    Code,
    DeliverMessage,
    DeliverStatusReport,
    RawOctets,
    Response,
    SubmitMessage,
    decode_frame,
    decode_user_data,
    encode,
    encode_user_data,
    message_text,
    originator_text,
    status_report,
    submit_for_text,
    submit_operator_id,
)
from smpp_bridge.cimd2.text import SEPTET_ESCAPES
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.text import GSM7_CHARACTERS

PROPERTY = settings(max_examples=200, deadline=timedelta(milliseconds=500))
gsm_text = st.text(st.sampled_from(sorted(GSM7_CHARACTERS)), max_size=80)


def test_default_conversion_7bit_example() -> None:
    # The specification's example 22 enters "@£$¥èéùìòÇ" over a 7-bit link with escapes; the
    # extracted page text is garbled for two of them, so the expectation uses the conversion table.
    assert encode_user_data("@£$¥èéùìòÇ") == "_Oa_L-$_Y-_e`_e'_u`_i`_o`_C,"
    assert decode_user_data("_Oa_L-$_Y-_e`_e'_u`_i`_o`_C,") == "@£$¥èéùìòÇ"


def test_default_conversion_8bit_example_reads_latin1() -> None:
    assert decode_user_data("@£$¥èéùìòÇ") == "@£$¥èéùìòÇ"


def test_extension_characters_escape_through_xx() -> None:
    # as in jcimd's test: "_XX(" is "{", "_XX<" is "["
    wire = "_XX( curly braces _XX) _XX< square brackets _XX>"
    assert decode_user_data(wire) == "{ curly braces } [ square brackets ]"
    assert encode_user_data("{ curly braces } [ square brackets ]") == wire
    assert encode_user_data("€^|\\~") == "_XXe_XX_gl_XX_!!_XX/_XX="


def test_every_gsm_character_round_trips_and_the_wire_is_plain_ascii() -> None:
    text = "".join(sorted(GSM7_CHARACTERS))
    wire = encode_user_data(text)
    assert wire.isascii() and "\t" not in wire and "\x02" not in wire and "\x03" not in wire
    assert decode_user_data(wire) == text


@given(gsm_text)
@PROPERTY
def test_user_data_round_trips_through_a_packet(text: str) -> None:
    op = SubmitMessage(number=1, destination_address="1", user_data=encode_user_data(text))
    decoded = decode_frame(encode(op))
    assert isinstance(decoded, SubmitMessage)
    assert message_text(decoded, errors="strict") == text


@given(
    st.text(st.characters(min_codepoint=1, max_codepoint=0xFF, exclude_characters="\x02\x03\t"), max_size=60)
)
@PROPERTY
def test_any_wire_string_decodes_without_a_foreign_exception(wire: str) -> None:
    for raw in RawOctets:
        decode_user_data(wire, raw=raw, errors="replace")
        try:
            decode_user_data(wire, raw=raw)
        except Cimd2Error as exc:
            assert exc.code == Code.USER_DATA_SYNTAX_ERROR


def test_raw_octet_policies() -> None:
    assert decode_user_data("[]{}", raw=RawOctets.LATIN1) == "[]{}"
    assert decode_user_data("[]{}", raw=RawOctets.GSM) == "ÄÅäå"  # Kannel's 7-bit reading
    assert decode_user_data("@$", raw=RawOctets.GSM) == decode_user_data("@$") == "@$"


def test_unknown_escapes() -> None:
    with pytest.raises(Cimd2Error) as info:
        decode_user_data("a_zzb")
    assert info.value.code == Code.USER_DATA_SYNTAX_ERROR
    assert decode_user_data("a_zzb", errors="replace") == "a_zzb"
    assert decode_user_data("end_", errors="replace") == "end_"


def test_encode_refuses_characters_outside_gsm() -> None:
    with pytest.raises(Cimd2Error):
        encode_user_data("Привет")


def test_escape_table_is_a_bijection_onto_two_printable_characters() -> None:
    pairs = list(SEPTET_ESCAPES.values())
    assert len(set(pairs)) == len(pairs)
    assert all(len(pair) == 2 and pair.isascii() and pair.isprintable() for pair in pairs)


# --- submits and MOs ------------------------------------------------------------------------------
def test_submit_for_text_gsm() -> None:
    op = submit_for_text("358401234567", "4477", "Your code: 1234 @home")
    assert (op.originating_address, op.alphanumeric_originating_address) == ("4477", None)
    assert (op.user_data, op.data_coding_scheme, op.status_report_request) == (
        "Your code: 1234 _Oahome",
        None,
        14,
    )


def test_submit_for_text_ucs2_and_alphanumeric_sender() -> None:
    op = submit_for_text(
        "358401234567", "Shop", "Привет 👋", udh=b"\x05\x00\x03\x01\x02\x01", status_report=False
    )
    assert (op.alphanumeric_originating_address, op.data_coding_scheme, op.status_report_request) == (
        "Shop",
        8,
        None,
    )
    decoded = decode_frame(encode(op))
    assert isinstance(decoded, SubmitMessage)
    assert message_text(decoded) == "Привет 👋" and decoded.user_data_header == b"\x05\x00\x03\x01\x02\x01"


def test_submit_for_text_refuses_long_alphanumeric_senders() -> None:
    with pytest.raises(Cimd2Error):
        submit_for_text("1", "TWELVE CHARS", "x")


def test_mo_text_and_originator() -> None:
    mo = DeliverMessage(destination_address="4477", originating_address="358401234567", user_data="HELP _XXe")
    assert (message_text(mo), originator_text(mo)) == ("HELP €", "358401234567")
    assert originator_text(DeliverMessage(alphanumeric_originating_address="Bank")) == "Bank"
    assert message_text(DeliverMessage()) == ""


def test_binary_user_data_is_not_text() -> None:
    with pytest.raises(Cimd2Error) as info:
        message_text(DeliverMessage(user_data_binary=b"\x01\x02", data_coding_scheme=4))
    assert info.value.code == Code.INCORRECT_DCS


# --- DLRs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "status"),
    [
        (4, DlrStatus.DELIVERED),
        (2, DlrStatus.EXPIRED),
        (3, DlrStatus.UNDELIVERED),
        (1, DlrStatus.ENROUTE),
        (9, DlrStatus.UNDELIVERED),
        (42, DlrStatus.UNKNOWN),
        (None, DlrStatus.UNKNOWN),
    ],
)
def test_status_report_mapping(code: int | None, status: DlrStatus) -> None:
    report = status_report(
        DeliverStatusReport(destination_address="358401234567", mc_timestamp="010125120000", status_code=code)
    )
    assert report.status is status and report.operator_id == "358401234567:010125120000"


def test_submit_response_and_status_report_meet() -> None:
    request = SubmitMessage(destination_address="+358401234567")
    response = Response(53, 1, destination_address="358401234567", mc_timestamp="010125120000")
    report = DeliverStatusReport(
        destination_address="358401234567", mc_timestamp="010125120000", status_code=4, status_error_code=0
    )
    assert submit_operator_id(response, request) == status_report(report).operator_id
    assert (
        submit_operator_id(Response(53, 1, mc_timestamp="010125120000"), request)
        == "358401234567:010125120000"
    )
    assert status_report(report).status_text == "delivery successful"


def test_missing_keys_are_cimd2_errors() -> None:
    with pytest.raises(Cimd2Error):
        status_report(DeliverStatusReport(status_code=4))
    with pytest.raises(Cimd2Error):
        submit_operator_id(Response(53, 1), SubmitMessage(destination_address="1"))
