"""The SMPP receipt text: worked examples, building, round trip, and TLV-first resolution."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.dlr import (
    RECEIPT_TEXT_CHARS_MAX,
    DlrError,
    DlrStatus,
    Receipt,
    format_receipt,
    parse_receipt,
    partner_receipt,
    smpp_report,
)

KANNEL_CAPTURED = "id:1000 sub:001 dlvrd:001 submit date:2411220305 done date:2411220306 stat:DELIVRD err:000 text:Hello from Kannel"


def test_the_receipt_kannel_accepted() -> None:
    r = parse_receipt(KANNEL_CAPTURED)
    assert r == Receipt(
        message_id="1000",
        stat="DELIVRD",
        err="000",
        sub=1,
        dlvrd=1,
        submit_date=datetime(2024, 11, 22, 3, 5),
        done_date=datetime(2024, 11, 22, 3, 6),
        text="Hello from Kannel",
    )
    assert r.status is DlrStatus.DELIVERED


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [
        ("ID:abc STAT:undeliv ERR:001 Text:Hi", "stat", "UNDELIV"),  # key and value case
        ("id:abc stat:UNDELIV err:001 TEXT:Hi there", "text", "Hi there"),
        ("id:abc Text:stat:DELIVRD", "stat", None),  # the text is not read for keys
        ("id:abc Text:stat:DELIVRD", "text", "stat:DELIVRD"),
        ("id:  abc   sub:  001   stat:  DELIVRD   ", "message_id", "abc"),  # extra spaces
        ("id:abc  stat :  DELIVRD", "stat", "DELIVRD"),  # space before the colon
        (
            "id:abc submit date:241122030559 done date:241122030600",
            "submit_date",
            datetime(2024, 11, 22, 3, 5, 59),
        ),
        ("id:abc submit date:241122030559 done date:241122030600", "done_date", datetime(2024, 11, 22, 3, 6)),
        ("id:abc submit_date:2411220305", "submit_date", datetime(2024, 11, 22, 3, 5)),
        ("id:abc submitdate:2411220305", "submit_date", datetime(2024, 11, 22, 3, 5)),
        ("id:abc done date:2413220305", "done_date", None),  # month 13: dropped, not fatal
        ("id:abc done date:24112203", "done_date", None),  # 8 digits
        ("id:abc sub:1 dlvrd:0", "sub", 1),
        ("id:abc sub:x dlvrd:0", "sub", None),
        ("id:abc", "stat", None),  # missing fields
        ("id:abc", "text", None),
        ("id:abc text:", "text", ""),
        ("stat:DELIVRD err:000 id:7F3A", "message_id", "7F3A"),  # any order before text
        ("id:0221067780 stat:DELIVRD", "message_id", "0221067780"),  # ids stay opaque strings
        ("id:1 id:2 stat:DELIVRD", "message_id", "1"),  # the first occurrence wins
        ("junk before id:abc stat:DELIVRD", "message_id", "abc"),
        ("id:abc\nsub:001\r\nstat:DELIVRD", "stat", "DELIVRD"),
    ],
)
def test_robust_parsing(raw: str, field: str, value: object) -> None:
    assert getattr(parse_receipt(raw), field) == value


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "stat:DELIVRD err:000",  # no id
        "id: stat:DELIVRD",  # empty id
        "xid:abc stat:DELIVRD",  # not a key
        "id:" + "9" * 66,  # longer than a C-octet string allows
        "id:\u00e9t\u00e9 stat:DELIVRD",  # not ASCII
        "text:id:abc",  # the id is inside the text
    ],
)
def test_unusable_receipts(raw: str) -> None:
    with pytest.raises(DlrError):
        parse_receipt(raw)


def test_long_input_is_read_up_to_the_limit() -> None:
    r = parse_receipt("id:abc stat:DELIVRD text:" + "x" * 10_000)
    assert r.status is DlrStatus.DELIVERED
    assert r.text is not None and len(r.text) < 1024


def test_build_the_standard_form() -> None:
    r = partner_receipt(
        "9f2c41",
        DlrStatus.DELIVERED,
        submitted_at=datetime(2024, 11, 22, 3, 5, 30),
        done_at=datetime(2024, 11, 22, 3, 6, 1),
        text="Thanks for voting! Results at 9pm",
    )
    assert format_receipt(r) == (
        "id:9f2c41 sub:001 dlvrd:001 submit date:2411220305 done date:2411220306 stat:DELIVRD err:000 "
        "text:Thanks for voting! R"
    )
    assert format_receipt(r, date_digits=12).split(" stat:")[0].endswith("done date:241122030601")
    assert len(r.text or "") == RECEIPT_TEXT_CHARS_MAX


@pytest.mark.parametrize(
    ("status", "stat", "dlvrd"),
    [
        (DlrStatus.UNDELIVERED, "UNDELIV", 0),
        (DlrStatus.EXPIRED, "EXPIRED", 0),
        (DlrStatus.ACCEPTED, "ACCEPTD", 0),
    ],
)
def test_partner_receipt_states(status: DlrStatus, stat: str, dlvrd: int) -> None:
    at = datetime(2025, 1, 2, 3, 4)
    r = partner_receipt("1", status, submitted_at=at, done_at=at, err="012")
    assert (r.stat, r.dlvrd, r.err) == (stat, dlvrd, "012")
    assert parse_receipt(format_receipt(r)).status is status


@pytest.mark.parametrize(
    "receipt",
    [
        Receipt("has space"),
        Receipt(""),
        Receipt("x" * 66),
        Receipt("1", sub=1000),
        Receipt("1", dlvrd=-1),
        Receipt("1", stat="DEL IVRD"),
        Receipt("1", err=""),
        Receipt("1", done_date=datetime(1999, 12, 31)),
        Receipt("1", text="x" * 2000),
    ],
)
def test_build_refuses_what_would_not_read_back(receipt: Receipt) -> None:
    with pytest.raises(DlrError):
        format_receipt(receipt)


# --- round trip -----------------------------------------------------------------------------------

tokens = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
whole_minutes = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
whole_seconds = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)


def receipts(dates: st.SearchStrategy[datetime]) -> st.SearchStrategy[Receipt]:
    return st.builds(
        Receipt,
        message_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=65),
        stat=st.none() | tokens.map(str.upper),
        err=st.none() | tokens,
        sub=st.none() | st.integers(0, 999),
        dlvrd=st.none() | st.integers(0, 999),
        submit_date=st.none() | dates,
        done_date=st.none() | dates,
        text=st.none() | st.text(max_size=200),
    )


@given(receipts(whole_minutes))
def test_round_trip_10_digit_dates(receipt: Receipt) -> None:
    assert parse_receipt(format_receipt(receipt)) == receipt


@given(receipts(whole_seconds))
def test_round_trip_12_digit_dates(receipt: Receipt) -> None:
    assert parse_receipt(format_receipt(receipt, date_digits=12)) == receipt


# --- SMPP: TLVs first, then the text ---------------------------------------------------------------


def test_tlvs_win_over_the_text() -> None:
    report = smpp_report("id:999 stat:UNDELIV err:005 text:x", "1000", 2)
    assert (report.operator_id, report.status, report.err) == ("1000", DlrStatus.DELIVERED, "005")


def test_the_captured_receipt_with_its_tlvs() -> None:
    report = smpp_report(KANNEL_CAPTURED, "1000\x00", 2)
    assert (report.operator_id, report.status) == ("1000", DlrStatus.DELIVERED)


def test_text_alone_and_tlvs_alone() -> None:
    assert smpp_report(KANNEL_CAPTURED, None, None).status is DlrStatus.DELIVERED
    assert smpp_report(None, "abc", 5).status is DlrStatus.UNDELIVERED
    assert smpp_report("garbage", "abc", 3).status is DlrStatus.EXPIRED  # unreadable text, TLVs suffice
    assert smpp_report("id:x stat:ACCEPTD", "", None).operator_id == "x"


@pytest.mark.parametrize(
    ("text", "receipted_id", "state"),
    [
        (None, None, 2),
        ("stat:DELIVRD", None, None),
        (None, "abc", None),
        ("id:abc err:000", None, None),
        ("", "", None),
    ],
)
def test_smpp_report_needs_an_id_and_a_state(
    text: str | None, receipted_id: str | None, state: int | None
) -> None:
    with pytest.raises(DlrError):
        smpp_report(text, receipted_id, state)
