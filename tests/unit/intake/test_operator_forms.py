"""The operator HTTP link's forms: Kannel MO and DLR queries, the JSON DLR. Pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote_from_bytes, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.dlr import DlrStatus, IdFormat
from smsbilling.domain.entities import OperatorLink, Protocol
from smsbilling.logic.operator_http_forms import (
    FormRejected,
    JsonDlr,
    json_dlr,
    kannel_dlr,
    kannel_mo,
    query_token,
    status_word,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LINK = OperatorLink(link_id="l1", operator_id="op", protocol=Protocol.HTTP)


def q(**values: str) -> dict[str, list[str]]:
    return {("from" if name == "from_" else name): [value] for name, value in values.items()}


def gateway(raw: bytes) -> str:
    """What API Gateway's REST API hands the function for a percent-encoded value: UTF-8, replaced."""
    return unquote(quote_from_bytes(raw), encoding="utf-8", errors="replace")


def base(**extra: str) -> dict[str, list[str]]:
    return q(token="t", id="k-1", from_="+447700900123", to="4444", **extra)


# --- Kannel MO ------------------------------------------------------------------------------------


def test_text_mo_maps_every_field() -> None:
    mo = kannel_mo(base(text="ABC привет €", coding="0", charset="UTF-8", smsc="smsc1", udh=""))
    assert (mo.operator_message_id, mo.source, mo.destination) == ("k-1", "+447700900123", "4444")
    assert mo.text == "ABC привет €"
    assert mo.payload_hex is None and mo.data_coding is None and mo.udh_hex is None


def test_kannel_gsm_charset_and_missing_coding_mean_utf8_text() -> None:
    assert kannel_mo(base(text="Hi", charset="GSM")).text == "Hi"
    assert kannel_mo(base(text="Hi")).text == "Hi"


def test_ucs2_bytes_that_survive_utf8_decoding_become_the_payload() -> None:
    raw = "Привет мир".encode("utf-16-be")  # every octet < 0x80: exact through the gateway
    mo = kannel_mo(base(text=gateway(raw), coding="2", charset="UTF-16BE"))
    assert (mo.data_coding, bytes.fromhex(mo.payload_hex or "")) == (0x08, raw)
    assert mo.text == ""


def test_ucs2_bytes_the_gateway_altered_are_refused_not_stored_wrong() -> None:
    raw = "Hi 😀".encode("utf-16-be")  # D8 3D is not UTF-8: U+FFFD appears
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text=gateway(raw), coding="2"))
    assert caught.value.code == "payload_not_recoverable"
    assert caught.value.errors == [{"field": "text", "reason": "not recoverable as bytes"}]


def test_binary_8bit_payload_and_odd_ucs2_length() -> None:
    mo = kannel_mo(base(text=gateway(b"\x01\x02ABC"), coding="1"))
    assert (mo.data_coding, mo.payload_hex) == (0x04, "0102414243")
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text=gateway(b"\x04\x1f\x04"), coding="2"))
    assert caught.value.code == "invalid_payload"


def test_post_body_is_the_message_when_the_query_has_no_text() -> None:
    raw = "Привет".encode("utf-16-be")
    exact = kannel_mo(base(coding="2"), body=raw + "😀".encode("utf-16-be"))  # base64 body: exact bytes
    assert bytes.fromhex(exact.payload_hex or "").decode("utf-16-be") == "Привет😀"
    assert kannel_mo(base(), body="ABC body").text == "ABC body"
    assert kannel_mo(base(text="query wins"), body="ABC body").text == "query wins"
    assert kannel_mo(base(charset="ISO-8859-1"), body=b"caf\xe9").text == "café"


def test_latin1_charset_decodes_recovered_bytes() -> None:
    assert kannel_mo(base(text="plain", charset="ISO-8859-1")).text == "plain"
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text=gateway(b"caf\xe9"), charset="ISO-8859-1"))
    assert caught.value.code == "payload_not_recoverable"
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text="x", charset="EBCDIC"))
    assert caught.value.code == "unsupported_charset"


def test_udh_is_kept_as_hex_and_checked() -> None:
    udh = bytes([5, 0, 3, 0x42, 2, 1])
    mo = kannel_mo(base(text="part one", udh=gateway(udh)))
    assert mo.udh_hex == udh.hex()
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text="x", udh=gateway(bytes([7, 0, 3, 1, 2, 1]))))
    assert caught.value.code == "invalid_udh"
    with pytest.raises(FormRejected) as caught:
        kannel_mo(base(text="x", udh=gateway(bytes([5, 0, 3, 0xC8, 2, 1]))))  # ref 0xC8: not UTF-8
    assert caught.value.code == "payload_not_recoverable"


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        (q(token="t", from_="1", to="4444", text="x"), {"id"}),
        (q(id="", from_="", to="4444"), {"id", "from"}),
        ({**base(text="x"), "sender": ["1"]}, {"sender"}),
        (base(text="x", coding="3"), {"coding"}),
        (base(text="x", coding="seven"), {"coding"}),
        (base(text="x" * 2001), {"text"}),
        ({**base(), "id": ["a", "b"]}, {"id"}),
    ],
)
def test_bad_kannel_queries_name_the_fields(query: dict[str, list[str]], fields: set[str]) -> None:
    with pytest.raises(FormRejected) as caught:
        kannel_mo(query)
    assert caught.value.code == "validation_failed"
    assert {error["field"] for error in caught.value.errors} == fields


def test_query_token() -> None:
    assert query_token(base()) == "t"
    assert query_token({"token": ["a", "b"]}) is None
    assert query_token({"token": [""]}) is None
    assert query_token({}) is None


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["token", "id", "from", "to", "text", "coding", "charset", "udh", "smsc", "x"]),
        st.lists(st.text(max_size=40), min_size=0, max_size=2),
    ),
    st.one_of(st.none(), st.binary(max_size=50), st.text(max_size=50)),
)
def test_any_query_gives_an_mo_or_form_rejected(
    query: dict[str, list[str]], body: bytes | str | None
) -> None:
    try:
        kannel_mo(query, body=body)
    except FormRejected as rejected:
        assert rejected.code and rejected.detail


# --- DLRs -----------------------------------------------------------------------------------------


def test_json_dlr_accepts_platform_states_and_smpp_words() -> None:
    first = json_dlr(LINK, JsonDlr(operator_message_id="abc", status="DELIVRD", error_code="000"), now=NOW)
    again = json_dlr(LINK, JsonDlr(operator_message_id=" abc ", status="delivered"), now=NOW)
    assert first.status is again.status is DlrStatus.DELIVERED
    assert first.receipt_id == again.receipt_id  # a repeated receipt is one event
    assert (first.operator_message_id, first.error_code, again.error_code) == ("abc", "000", "")
    other = json_dlr(LINK, JsonDlr(operator_message_id="abc", status="UNDELIV"), now=NOW)
    assert other.receipt_id != first.receipt_id
    other_link = LINK.model_copy(update={"link_id": "l2"})
    assert json_dlr(other_link, JsonDlr(operator_message_id="abc", status="DELIVRD"), now=NOW).receipt_id != (
        first.receipt_id
    )


def test_json_dlr_reads_status_and_error_from_the_receipt_text() -> None:
    receipt = (
        "id:abc sub:001 dlvrd:000 submit date:2611221200 done date:2611221201 stat:UNDELIV err:034 text:x"
    )
    dlr = json_dlr(LINK, JsonDlr(operator_message_id="abc", receipt=receipt), now=NOW)
    assert (dlr.status, dlr.error_code) == (DlrStatus.UNDELIVERED, "034")


def test_receipt_id_follows_the_links_id_format() -> None:
    hex_link = LINK.model_copy(update={"dlr_id_format": IdFormat.HEX})
    upper = json_dlr(hex_link, JsonDlr(operator_message_id="00AB", status="DELIVRD"), now=NOW)
    lower = json_dlr(hex_link, JsonDlr(operator_message_id="ab", status="DELIVRD"), now=NOW)
    assert upper.receipt_id == lower.receipt_id


@pytest.mark.parametrize(
    ("dlr", "code"),
    [
        (JsonDlr(operator_message_id="abc", status="DELIVERD"), "unknown_status"),
        (JsonDlr(operator_message_id="abc"), "missing_status"),
        (JsonDlr(operator_message_id="abc", receipt="no id here"), "invalid_receipt"),
        (JsonDlr(operator_message_id="   ", status="DELIVRD"), "invalid_operator_message_id"),
    ],
)
def test_bad_json_dlrs(dlr: JsonDlr, code: str) -> None:
    with pytest.raises(FormRejected) as caught:
        json_dlr(LINK, dlr, now=NOW)
    assert caught.value.code == code


def test_status_word() -> None:
    assert status_word("Delivrd") is DlrStatus.DELIVERED
    assert status_word("expired") is DlrStatus.EXPIRED
    assert status_word("nonsense") is None


def test_kannel_dlr_types_ids_and_answers() -> None:
    answer = (
        "id:77 sub:001 dlvrd:001 submit date:2611221200 done date:2611221201 stat:DELIVRD err:000 text:hi"
    )
    final = kannel_dlr(LINK, q(token="t", type="1", id="77", answer=answer), now=NOW)
    assert (final.status, final.operator_message_id, final.error_code) == (DlrStatus.DELIVERED, "77", "000")
    from_answer = kannel_dlr(LINK, q(type="1", id="", answer=answer), now=NOW)
    assert from_answer.operator_message_id == "77" and from_answer.receipt_id == final.receipt_id
    ack = kannel_dlr(LINK, q(type="8", id="77", answer="ACK/"), now=NOW)
    assert (ack.status, ack.error_code) == (DlrStatus.ACCEPTED, "")
    nack = kannel_dlr(LINK, q(type="16", id="77", answer="NACK/0x00000045/Submit failed"), now=NOW)
    assert (nack.status, nack.error_code) == (DlrStatus.REJECTED, "0x00000045")
    assert kannel_dlr(LINK, q(type="4", id="77"), now=NOW).status is DlrStatus.ENROUTE


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (q(type="3", id="77"), "unknown_status"),
        (q(id="77"), "validation_failed"),
        (q(type="1", id="", answer="ACK/"), "missing_operator_message_id"),
        (q(type="1", id="x" * 65), "validation_failed"),
        ({**q(type="1", id="77"), "fid": ["1"]}, "validation_failed"),
    ],
)
def test_bad_kannel_dlrs(query: dict[str, list[str]], code: str) -> None:
    with pytest.raises(FormRejected) as caught:
        kannel_dlr(LINK, query, now=NOW)
    assert caught.value.code == code


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["token", "type", "id", "answer", "x"]),
        st.lists(st.text(max_size=80), min_size=0, max_size=2),
    )
)
def test_any_dlr_query_gives_an_event_or_form_rejected(query: dict[str, list[str]]) -> None:
    try:
        event = kannel_dlr(LINK, query, now=NOW)
    except FormRejected as rejected:
        assert rejected.code
    else:
        assert event.link_id == "l1" and 0 < len(event.operator_message_id) <= 64
