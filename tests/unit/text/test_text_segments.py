"""Segmentation: capture examples, limits, and the cut invariants for any text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.concat import udh_short_messages
from smsbilling.domain.text import (
    Alphabet,
    TextError,
    TextErrorCode,
    capacity,
    count_segments,
    gsm7_decode,
    plan_segments,
)


def test_183_char_gsm_message_is_153_plus_30_with_kannel_udh() -> None:
    plan = plan_segments("x" * 183, segments_max=10)
    assert plan.alphabet is Alphabet.GSM7
    assert plan.data_coding == 0
    assert [len(s) for s in plan.segments] == [153, 30]
    first, second = udh_short_messages(plan.segments, ref=2)
    assert first[:6] == bytes.fromhex("050003020201")
    assert second[:6] == bytes.fromhex("050003020202")
    assert len(first) == 159  # sm_length of Kannel's first part


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("Ж" * 70, 1),
        ("Ж" * 71, 2),
        ("Ж" * 134, 2),
        ("Ж" * 135, 3),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_measured_part_counts(text: str, parts: int) -> None:
    assert count_segments(text) == parts
    assert plan_segments(text, segments_max=10).count == parts


def test_escape_pair_is_never_split() -> None:
    plan = plan_segments("€" * 81, segments_max=10)
    assert [len(s) for s in plan.segments] == [152, 10]
    assert plan.texts() == ("€" * 76, "€" * 5)


def test_boundary_shift_can_add_a_part() -> None:
    text = "a" + "€" * 153  # 307 septets; every cut at 153 would land between ESC and code
    assert count_segments(text) == 3
    assert "".join(plan_segments(text, segments_max=3).texts()) == text


def test_surrogate_pair_is_never_split() -> None:
    text = "😀" * 41  # 82 code units: the cut after unit 67 would fall inside a pair
    plan = plan_segments(text, segments_max=10)
    assert plan.alphabet is Alphabet.UCS2
    assert [len(s) // 2 for s in plan.segments] == [66, 16]
    assert "".join(plan.texts()) == text


def test_force_ucs2_and_16bit_references() -> None:
    assert plan_segments("hello", segments_max=1, force_ucs2=True).data_coding == 8
    assert capacity(Alphabet.GSM7, ref_16bit=True) == (160, 152)
    assert count_segments("a" * 305, ref_16bit=True) == 3
    assert count_segments("Ж" * 133, ref_16bit=True) == 3


def test_too_long_is_a_clear_text_error() -> None:
    with pytest.raises(TextError) as err:
        plan_segments("a" * 307, segments_max=2)
    assert err.value.code is TextErrorCode.TOO_LONG
    assert "3 gsm7 segments" in str(err.value)
    with pytest.raises(TextError, match="limit is 10"):
        plan_segments("a" * 11, segments_max=5, text_chars_max=10)


def test_huge_text_is_refused_before_encoding() -> None:
    with pytest.raises(TextError) as err:
        plan_segments("😀" * 1_000_000, segments_max=10)
    assert err.value.code is TextErrorCode.TOO_LONG


@pytest.mark.parametrize("segments_max", [0, 256])
def test_bad_segments_max_is_a_programming_error(segments_max: int) -> None:
    with pytest.raises(ValueError, match="segments_max"):
        plan_segments("a", segments_max=segments_max)


def test_unencodable_text_in_plan_is_text_error() -> None:
    with pytest.raises(TextError) as err:
        plan_segments("a\udc00", segments_max=10)
    assert err.value.code is TextErrorCode.UNENCODABLE


# Texts that stress the cuts: extension characters, astral characters, plain GSM and Cyrillic.
tricky_text = st.text(
    alphabet=st.sampled_from(["a", "€", "{", "\f", "😀", "Ж", "@", " ", "\n", "𝄞"])
    | st.characters(exclude_categories=["Cs"]),
    max_size=700,
)


@settings(max_examples=300)
@given(tricky_text, st.booleans(), st.booleans())
def test_segments_rejoin_and_respect_limits(text: str, force_ucs2: bool, ref_16bit: bool) -> None:
    plan = plan_segments(text, segments_max=255, force_ucs2=force_ucs2, ref_16bit=ref_16bit)
    assert "".join(plan.texts()) == text
    assert plan.count == count_segments(text, force_ucs2=force_ucs2, ref_16bit=ref_16bit)
    single, part = capacity(plan.alphabet, ref_16bit=ref_16bit)
    unit = 1 if plan.alphabet is Alphabet.GSM7 else 2
    limit = single if plan.count == 1 else part
    for segment in plan.segments:
        assert len(segment) <= limit * unit
        assert len(segment) % unit == 0
        if plan.alphabet is Alphabet.GSM7:
            assert not segment.endswith(b"\x1b")
            gsm7_decode(segment)  # decodes on its own
        elif segment:
            assert segment[-2] not in range(0xD8, 0xDC)  # no high surrogate left hanging
    for segment in plan.segments[:-1]:
        assert len(segment) >= (part - 1) * unit  # greedy: at most one unit given back
    assert plan.units * unit == sum(len(s) for s in plan.segments)
