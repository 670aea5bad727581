"""Keyword folding for prefix matching (issue 4 item 3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.text import DEFAULT_CONFUSABLES, build_fold_table, first_word, fold_keyword

CYR = {
    "STOP": "\u0405\u0422\u041e\u0420",  # S T O P in Cyrillic capitals
    "stop": "\u0455\u0442\u043e\u0440",
    "BOX": "\u0412\u041e\u0425",
    "PEACE": "\u0420\u0415\u0410\u0421\u0415",
    "copy": "\u0441\u043e\u0440\u0443",
}


@pytest.mark.parametrize(("latin", "cyrillic"), CYR.items())
def test_cyrillic_look_alikes_fold_to_latin(latin: str, cyrillic: str) -> None:
    assert fold_keyword(cyrillic) == fold_keyword(latin) == latin.casefold()


def test_mixed_script_and_case() -> None:
    assert fold_keyword("\u0421ode") == "code"  # Cyrillic capital Es + Latin "ode"
    assert fold_keyword("Stop") == fold_keyword("STOP") == "stop"


def test_full_width_and_invisible_characters() -> None:
    assert fold_keyword("\uff33\uff34\uff2f\uff30") == "stop"
    assert fold_keyword("ST\u200bOP\ufeff") == "stop"


def test_admin_table_overrides_default() -> None:
    assert fold_keyword("\u0412OX", confusables={}) == "\u0432ox"  # folding disabled
    table = {"\u0411": "6", "\u0412": "B"}
    assert fold_keyword("\u0411\u0412", confusables=table) == "6b"
    assert fold_keyword("\u0421", confusables=table) == "\u0441"  # not in the admin table


def test_admin_key_must_fold_to_one_character() -> None:
    with pytest.raises(ValueError, match="one character"):
        build_fold_table({"\u1e9e": "ss", "ab": "x"})  # capital sharp s folds to "ss"


def test_default_table_targets_are_latin() -> None:
    assert all(value.isascii() and value.isalpha() for value in DEFAULT_CONFUSABLES.values())
    assert not any(key.isascii() for key in DEFAULT_CONFUSABLES)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP now", "STOP"),
        ("  stop", "stop"),
        ("\tHELP\nme", "HELP"),
        ("\u00a0WIN\u3000prize", "WIN"),  # no-break space, ideographic space
        ("", ""),
        (" \n ", ""),
        ("single", "single"),
    ],
)
def test_first_word(text: str, word: str) -> None:
    assert first_word(text) == word


@given(st.text())
def test_fold_is_idempotent_and_total(text: str) -> None:
    folded = fold_keyword(text)
    assert isinstance(folded, str)
    assert fold_keyword(first_word(text)) == fold_keyword(fold_keyword(first_word(text)))
