"""Fuzz: arbitrary input into every decoder yields text or TextError, never another exception."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.concat import split_udh
from smsbilling.domain.text import (
    TextError,
    TextErrorCode,
    alphabet_for,
    count_segments,
    decode_payload,
    gsm7_decode,
    gsm7_unpack,
    plan_segments,
    ucs2_decode,
)


def _decodable(data_coding: int) -> bool:
    try:
        alphabet_for(data_coding)
    except TextError:
        return False
    return True


@settings(max_examples=500)
@given(st.binary(max_size=400), st.integers(-1, 300), st.sampled_from(["strict", "replace"]))
def test_decode_payload_any_bytes_any_coding(data: bytes, data_coding: int, errors: str) -> None:
    try:
        text = decode_payload(data, data_coding, errors=errors)  # type: ignore[arg-type]
    except TextError as err:
        if errors == "replace" and _decodable(data_coding):
            assert err.code is TextErrorCode.BINARY  # replace never fails on a text alphabet
        return
    assert isinstance(text, str)


@given(st.binary(max_size=400))
def test_gsm7_and_ucs2_decoders(data: bytes) -> None:
    for decode in (gsm7_decode, ucs2_decode):
        assert isinstance(decode(data, errors="replace"), str)
        with contextlib.suppress(TextError):
            assert isinstance(decode(data), str)


@given(st.binary(max_size=200), st.integers(0, 300), st.integers(0, 6))
def test_unpack_any_bytes(data: bytes, count: int, fill_bits: int) -> None:
    try:
        septets = gsm7_unpack(data, count, fill_bits)
    except TextError:
        return
    assert len(septets) == count
    assert max(septets, default=0) <= 0x7F


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_split_udh_any_bytes(data: bytes) -> None:
    try:
        header, payload = split_udh(data)
    except TextError:
        return
    assert header.length + len(payload) == len(data)


@given(st.text(), st.integers(1, 255), st.booleans())
def test_segmenting_any_text(text: str, segments_max: int, force_ucs2: bool) -> None:
    try:
        plan = plan_segments(text, segments_max=segments_max, force_ucs2=force_ucs2)
        assert plan.count == count_segments(text, force_ucs2=force_ucs2)
    except TextError:
        pass


@given(st.text(alphabet=st.characters(), max_size=50))
def test_segmenting_text_with_surrogates(text: str) -> None:
    try:
        plan_segments(text, segments_max=10)
    except TextError as err:
        assert err.code in {TextErrorCode.UNENCODABLE, TextErrorCode.TOO_LONG}
