"""Fuzz: arbitrary text into the receipt readers gives a result or DlrError, never another exception."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from smsbilling.domain.dlr import (
    DlrError,
    DlrStatus,
    Receipt,
    parse_receipt,
    smpp_report,
    status_from_cimd2,
    status_from_kannel_type,
    status_from_message_state,
    status_from_stat,
    status_from_ucp_dst,
)

KEYS = [
    "id:",
    "ID:",
    "sub:",
    "dlvrd:",
    "submit date:",
    "done date:",
    "stat:",
    "err:",
    "text:",
    "Text:",
    " ",
    "  ",
]
VALUES = [
    "1000",
    "7f3a",
    "001",
    "2411220305",
    "241122030559",
    "DELIVRD",
    "undeliv",
    "000",
    "",
    "\x00",
    "é",
    "\n",
]

# receipt-shaped text: keys and values shuffled together, so the fuzzer reaches deep branches
shaped = st.lists(st.sampled_from(KEYS) | st.sampled_from(VALUES) | st.text(max_size=5), max_size=30).map(
    "".join
)
anything = st.text(max_size=1500) | shaped


@settings(max_examples=1000)
@given(anything)
def test_parse_receipt_gives_a_receipt_or_dlr_error(raw: str) -> None:
    try:
        receipt = parse_receipt(raw)
    except DlrError:
        event("refused")
        return
    event("parsed")
    assert isinstance(receipt, Receipt)
    assert 1 <= len(receipt.message_id) <= 65
    assert isinstance(receipt.status, DlrStatus)


@settings(max_examples=500)
@given(st.none() | anything, st.none() | st.text(max_size=80), st.none() | st.integers(-1000, 1000))
def test_smpp_report_gives_a_report_or_dlr_error(
    text: str | None, receipted: str | None, state: int | None
) -> None:
    try:
        report = smpp_report(text, receipted, state)
    except DlrError:
        return
    assert report.operator_id
    assert isinstance(report.status, DlrStatus)


@given(st.none() | st.integers() | st.text(max_size=12))
def test_status_functions_are_total(value: int | str | None) -> None:
    for read in (status_from_ucp_dst, status_from_cimd2, status_from_kannel_type):
        assert isinstance(read(value), DlrStatus)
    assert isinstance(status_from_message_state(value if isinstance(value, int) else None), DlrStatus)
    assert isinstance(status_from_stat(value if isinstance(value, str) else None), DlrStatus)
