"""Folding keywords so that what a subscriber *sees* as the same word matches the same service.

Subscribers type service prefixes on whatever keyboard they have: "STOP", "stop", "STOP" typed with
the Cyrillic letters that look Latin, full-width "STOP" from an IME, "ST\u200bOP" pasted from a web
page (zero-width space inside). Routing must treat these alike, and so must the admin's uniqueness
check on prefixes, so both sides go through :func:`fold_keyword`:

1. NFKC normalisation (full-width and compatibility forms to their plain letters);
2. removal of invisible format characters (Unicode category Cf: zero-width space/joiners, BOM);
3. ``str.casefold``;
4. a look-alike table applied to the case-folded text, mapping to Latin.

The table is written in whichever case looks alike (Cyrillic capital Ve -> "B") and is case-folded
when it is built, so capital and small Ve both fold to "b": matching is case-insensitive anyway, so
a letter that looks Latin in either case folds in both. The admin may replace the default table; a
key must be a single character after case folding.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

# Cyrillic letters that look like Latin ones, in the case where the resemblance is.
DEFAULT_CONFUSABLES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "\N{CYRILLIC CAPITAL LETTER A}": "A",
        "\N{CYRILLIC CAPITAL LETTER VE}": "B",
        "\N{CYRILLIC CAPITAL LETTER IE}": "E",
        "\N{CYRILLIC CAPITAL LETTER KA}": "K",
        "\N{CYRILLIC CAPITAL LETTER EM}": "M",
        "\N{CYRILLIC CAPITAL LETTER EN}": "H",
        "\N{CYRILLIC CAPITAL LETTER O}": "O",
        "\N{CYRILLIC CAPITAL LETTER ER}": "P",
        "\N{CYRILLIC CAPITAL LETTER ES}": "C",
        "\N{CYRILLIC CAPITAL LETTER TE}": "T",
        "\N{CYRILLIC CAPITAL LETTER HA}": "X",
        "\N{CYRILLIC CAPITAL LETTER U}": "Y",
        "\N{CYRILLIC CAPITAL LETTER DZE}": "S",
        "\N{CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I}": "I",
        "\N{CYRILLIC CAPITAL LETTER JE}": "J",
        "\N{CYRILLIC CAPITAL LETTER QA}": "Q",
        "\N{CYRILLIC CAPITAL LETTER WE}": "W",
        "\N{CYRILLIC CAPITAL LETTER STRAIGHT U}": "Y",
        "\N{CYRILLIC CAPITAL LETTER SHHA}": "H",
        "\N{CYRILLIC SMALL LETTER A}": "a",
        "\N{CYRILLIC SMALL LETTER IE}": "e",
        "\N{CYRILLIC SMALL LETTER O}": "o",
        "\N{CYRILLIC SMALL LETTER ER}": "p",
        "\N{CYRILLIC SMALL LETTER ES}": "c",
        "\N{CYRILLIC SMALL LETTER U}": "y",
        "\N{CYRILLIC SMALL LETTER HA}": "x",
        "\N{CYRILLIC SMALL LETTER DZE}": "s",
        "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
        "\N{CYRILLIC SMALL LETTER JE}": "j",
        "\N{CYRILLIC SMALL LETTER QA}": "q",
        "\N{CYRILLIC SMALL LETTER WE}": "w",
        "\N{CYRILLIC SMALL LETTER SHHA}": "h",
        "\N{CYRILLIC SMALL LETTER STRAIGHT U}": "y",
    }
)


def build_fold_table(confusables: Mapping[str, str]) -> dict[int, str]:
    """A ``str.translate`` table over case-folded text, from a look-alike table in any case."""
    table: dict[int, str] = {}
    for key, value in confusables.items():
        folded = key.casefold()
        if len(folded) != 1:
            raise ValueError(f"confusable key {key!r} must fold to one character, got {folded!r}")
        table[ord(folded)] = value.casefold()
    return table


@lru_cache(maxsize=16)
def _cached_table(items: frozenset[tuple[str, str]]) -> dict[int, str]:
    return build_fold_table(dict(items))


_DEFAULT_TABLE: Final = build_fold_table(DEFAULT_CONFUSABLES)


def fold_keyword(word: str, *, confusables: Mapping[str, str] | None = None) -> str:
    """The matching form of a keyword or prefix (see the module docstring for the steps).

    ``confusables`` is the admin's look-alike table (character -> Latin) replacing
    :data:`DEFAULT_CONFUSABLES`; an empty mapping disables look-alike folding. Tables are cached,
    so passing the same admin table on every message is cheap.
    """
    table = _DEFAULT_TABLE if confusables is None else _cached_table(frozenset(confusables.items()))
    normalised = unicodedata.normalize("NFKC", word)
    if not normalised.isascii():
        normalised = "".join(ch for ch in normalised if unicodedata.category(ch) != "Cf")
    return normalised.casefold().translate(table)


def first_word(text: str) -> str:
    """The first whitespace-separated word (any Unicode whitespace, incl. NBSP); "" if none."""
    words = text.split(maxsplit=1)
    return words[0] if words else ""
