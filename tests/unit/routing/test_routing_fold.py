"""domain/routing.py: folding keywords and prefixes, and splitting the keyword off a text."""

from __future__ import annotations

import pytest

from smsbilling.domain.routing import fold, prefix_claim_id, short_number_id, split_keyword

CYRILLIC_UPPER = "АВЕКМНОРСТХ"  # noqa: RUF001 - the look-alikes under test
LATIN_UPPER = "ABEKMHOPCTX"
CYRILLIC_LOWER = "аеорсх"  # noqa: RUF001
LATIN_LOWER = "aeopcx"


def test_cyrillic_capitals_fold_to_their_latin_look_alikes() -> None:
    assert fold(CYRILLIC_UPPER) == LATIN_UPPER.casefold() == fold(LATIN_UPPER)


def test_cyrillic_small_letters_fold_too() -> None:
    assert fold(CYRILLIC_LOWER) == LATIN_LOWER == fold(LATIN_LOWER.upper())


@pytest.mark.parametrize("word", ["Stop", "STOP", "stop", "\uff33\uff34\uff2f\uff30", "ST\u200bOP", "SТОР"])  # noqa: RUF001
def test_case_width_and_invisible_characters_do_not_matter(word: str) -> None:
    assert fold(word) == "stop"


def test_letters_without_a_look_alike_stay_apart() -> None:
    assert fold("ДА") != fold("DA")
    assert fold("ABC") != fold("ABD")


def test_admin_extra_lookalikes_add_to_the_defaults_and_may_override_them() -> None:
    extra = {"0": "O", "3": "E", "\N{CYRILLIC CAPITAL LETTER ER}": "R"}
    assert fold("H3LL0", extra) == "hello"
    assert fold("\N{CYRILLIC CAPITAL LETTER ER}", extra) == "r"  # overrides the default P
    assert fold("\N{CYRILLIC CAPITAL LETTER A}", extra) == "a"  # defaults still apply
    assert fold("H3LL0") == "h3ll0"  # not without the admin's table


def test_a_bad_admin_table_is_refused() -> None:
    with pytest.raises(ValueError, match="one character"):
        fold("x", {"ab": "c"})


@pytest.mark.parametrize(
    ("text", "word", "rest"),
    [
        ("ABC 123", "ABC", "123"),
        ("  abc\u00a0 hello  world ", "abc", "hello  world "),
        ("ABC", "ABC", ""),
        ("", "", ""),
        ("   ", "", ""),
        ("Quiz\n42", "Quiz", "42"),
    ],
)
def test_split_keyword(text: str, word: str, rest: str) -> None:
    keyword = split_keyword(text)
    assert (keyword.word, keyword.rest, keyword.folded) == (word, rest, fold(word))


def test_index_ids() -> None:
    assert short_number_id("op", "4444") == "op#4444"
    assert prefix_claim_id("op#4444", "abc") == "op#4444#abc"
