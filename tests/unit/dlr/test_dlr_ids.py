"""Operator message-id correlation: a submit-response id and a receipt id for one message meet."""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from smsbilling.domain.dlr import (
    DlrError,
    IdFormat,
    candidate_keys,
    receipt_id_key,
    scts_operator_id,
    submit_id_key,
    suggest_id_formats,
)

F = IdFormat


@pytest.mark.parametrize(
    ("fmt", "submit_id", "receipt_id"),
    [
        (F.AS_IS, "a1b2-c3", "a1b2-c3"),
        (F.AS_IS, " 1000\x00", "1000"),  # trimmed
        (F.DEC, "0221067780", "221067780"),  # jsmpp#178: a receipt with leading zeros
        (F.HEX, "00ABCDEF", "abcdef"),
        (F.HEX_TO_DEC, "1A2B3C", "1715004"),
        (F.HEX_TO_DEC, "0cd0f1a3", "0215019939"),
        (F.DEC_TO_HEX, "1715004", "1a2b3c"),
        (F.HEX_TO_DEC, "not-hex", "not-hex"),  # a non-numeric id stays opaque on both sides
    ],
)
def test_ids_for_one_message_meet(fmt: IdFormat, submit_id: str, receipt_id: str) -> None:
    assert submit_id_key(submit_id, fmt) == receipt_id_key(receipt_id, fmt)


@pytest.mark.parametrize(
    ("fmt", "submit_id", "receipt_id"),
    [
        (F.AS_IS, "ABC", "abc"),  # as_is never folds case: distinct ids stay distinct
        (F.AS_IS, "1A", "26"),
        (F.DEC, "10", "16"),
        (F.HEX_TO_DEC, "10", "10"),  # hex 10 is 16
        (F.HEX, "1a", "26"),
    ],
)
def test_ids_of_different_messages_do_not_meet(fmt: IdFormat, submit_id: str, receipt_id: str) -> None:
    assert submit_id_key(submit_id, fmt) != receipt_id_key(receipt_id, fmt)


def test_storing_under_every_candidate_would_merge_messages() -> None:
    """Why the store uses one key per link setting: decimal ids 10 and 16 share candidates (10 read as hex is 16, 16 written in hex is 10)."""
    assert set(candidate_keys("10")) & set(candidate_keys("16")) == {"10", "16"}
    assert receipt_id_key("10", F.DEC) != receipt_id_key("16", F.DEC)


def test_candidate_keys() -> None:
    assert candidate_keys("001A") == ("001a", "26")
    assert candidate_keys("0026") == ("0026", "26", "1a", "38")
    assert candidate_keys("msg-7") == ("msg-7",)


def test_suggest_id_formats() -> None:
    assert suggest_id_formats("1A2B3C", "1715004") == (F.HEX_TO_DEC,)
    assert suggest_id_formats("1715004", "1A2B3C") == (F.DEC_TO_HEX,)
    assert suggest_id_formats("abc", "ABC") == (F.HEX,)
    assert suggest_id_formats("0042", "42") == (F.DEC, F.HEX)
    assert suggest_id_formats("x1", "x2") == ()
    assert set(suggest_id_formats("42", "42")) == set(F) - {F.HEX_TO_DEC, F.DEC_TO_HEX}


@pytest.mark.parametrize("bad", ["", "   ", "\x00", "9" * 66])
def test_unusable_ids(bad: str) -> None:
    for fmt in F:
        with pytest.raises(DlrError):
            submit_id_key(bad, fmt)
        with pytest.raises(DlrError):
            receipt_id_key(bad, fmt)
    with pytest.raises(DlrError):
        candidate_keys(bad)


def test_scts_operator_id() -> None:
    # UCP: the OT 51 ack's SM is "AdC:SCTS"; the OT 53 has the recipient in OAdC and the same SCTS
    assert scts_operator_id("447700900123", "221126030045") == "447700900123:221126030045"
    assert scts_operator_id("+447700900123", " 221126030045") == "447700900123:221126030045"
    for recipient, scts in [("", "221126030045"), ("44x", "221126030045"), ("447700900123", "2211260300")]:
        with pytest.raises(DlrError):
            scts_operator_id(recipient, scts)


# --- properties: ids generated as integers -----------------------------------------------------------


def _hex_form(value: int, upper: bool, pad: int) -> str:
    text = format(value, "X" if upper else "x")
    return "0" * pad + text


ids = st.integers(0, 2**64 - 1)
pads = st.integers(0, 4)


@given(ids, st.booleans(), pads, pads)
def test_hex_and_decimal_forms_meet_under_hex_to_dec(value: int, upper: bool, hpad: int, dpad: int) -> None:
    submit_id, receipt_id = _hex_form(value, upper, hpad), "0" * dpad + str(value)
    assert submit_id_key(submit_id, F.HEX_TO_DEC) == receipt_id_key(receipt_id, F.HEX_TO_DEC) == str(value)
    assert submit_id_key(receipt_id, F.DEC_TO_HEX) == receipt_id_key(submit_id, F.DEC_TO_HEX) == str(value)
    assert str(value) in set(candidate_keys(submit_id)) & set(candidate_keys(receipt_id))
    event(f"hex form {'upper' if upper else 'lower'}, padded {hpad > 0}")


@given(ids, st.booleans(), st.booleans(), pads, pads)
def test_same_base_forms_meet(value: int, upper_a: bool, upper_b: bool, pad_a: int, pad_b: int) -> None:
    a, b = _hex_form(value, upper_a, pad_a), _hex_form(value, upper_b, pad_b)
    assert submit_id_key(a, F.HEX) == receipt_id_key(b, F.HEX)
    assert submit_id_key("0" * pad_a + str(value), F.DEC) == receipt_id_key("0" * pad_b + str(value), F.DEC)


@given(ids, ids)
def test_different_numbers_never_meet(a: int, b: int) -> None:
    if a == b:
        return
    for fmt in (F.DEC, F.HEX, F.HEX_TO_DEC, F.DEC_TO_HEX):
        sub = format(a, "x") if fmt in (F.HEX, F.HEX_TO_DEC) else str(a)
        rec = format(b, "x") if fmt in (F.HEX, F.DEC_TO_HEX) else str(b)
        assert submit_id_key(sub, fmt) != receipt_id_key(rec, fmt)


@given(st.text(max_size=80), st.sampled_from(list(F)))
def test_any_text_gives_a_key_or_dlr_error(text: str, fmt: IdFormat) -> None:
    try:
        keys = (submit_id_key(text, fmt), receipt_id_key(text, fmt), *candidate_keys(text))
    except DlrError:
        return
    assert all(isinstance(k, str) and k for k in keys)
