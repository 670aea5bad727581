# ruff: noqa: RUF001, RUF002, RUF003
# (look-alike letters are the subject of this module)
"""The skeleton of a text: what a reader sees, with the usual spam obfuscations undone.

Spam filters on words are beaten by writing the word so that a person still reads it and a
string comparison does not: "FR3E PR1ZE", "f r e e", "f.r.e.e", "fr-ee", "freeeee", "fr\u200bee"
(a zero-width space inside), "ｆｒｅｅ" (full width), "frее" (Cyrillic е), "cк1дкa" (Latin c and
a, digit 1 for и). Word and phrase rules (domain/spam.py) therefore match on a **skeleton**:

1. every character is NFKD-decomposed (compatibility forms to plain letters, accents split
   off), combining marks and invisible format characters (Unicode Cf: zero-width space,
   joiners, soft hyphen, BOM) are dropped, and the rest case-folded; so "é" reads "e" and
   "й" reads "и" (a skeleton may merge letters a reader tells apart: it is only matched);
2. the text is cut into **tokens**: runs of letters and digits, plus the symbols spammers use
   for letters (``@ $ € ! | + ...``) where they stand next to a letter or digit ("c@sh", "$ex",
   but "free!" keeps its "!" as punctuation);
3. in a token holding a letter, look-alikes become one **skeleton letter**: Cyrillic and Greek
   letters that look Latin fold to the Latin one (smsbilling.domain.text.fold's table, the one
   keyword routing uses, plus Greek), and digits and symbols to the letter they stand for
   (0 o, 1 i, 3 e, 4 a, 5 s, 6 b, 7 t, 8 b, 9 g, @ a, $ s, ! i, | i, + t ...). A token of digits
   only (an OTP code, a price) stays digits: "1234" never reads as a word;
4. two **views** of the token sequence are matched, each a string of skeleton tokens separated by
   single spaces. The *split* view keeps every token apart. The *joined* view glues tokens that
   were split to hide a word: across a short punctuation run without whitespace ("fr-ee",
   "f.r.e.e", "fr*ee"), and along a run of three or more single letters separated by the same gap
   ("f r e e", "f. r. e. e"; a wider gap ends the run, so "f r e e  m o n e y" reads "free money").

Rules compile each letter to the set of skeleton letters that may stand for it (:data:`STAND_INS`:
"l" also accepts the "i" of "1", "и" the "i" of "1" and the "u" of "u"), so "скидка" finds
"cк1дкa" while "class" is still one token that "ass" cannot match inside.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from smsbilling.domain.text.fold import DEFAULT_CONFUSABLES, build_fold_table

# Greek letters that look Latin (case-folded), beside the Cyrillic ones of the routing fold table.
_GREEK: Final[Mapping[str, str]] = {
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c",
}  # fmt: skip
LOOKALIKES: Final[Mapping[int, str]] = build_fold_table(DEFAULT_CONFUSABLES) | build_fold_table(_GREEK)

# Digits and symbols written for letters, inside a word that has letters.
LEET_DIGITS: Final[Mapping[str, str]] = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "6": "b", "7": "t", "8": "b", "9": "g",
}  # fmt: skip
LEET_SYMBOLS: Final[Mapping[str, str]] = {
    "@": "a", "$": "s", "€": "e", "£": "l", "¥": "y", "©": "c", "®": "r", "¢": "c",
    "!": "i", "¡": "i", "|": "i", "+": "t", "§": "s",
}  # fmt: skip
# Symbols that may also start or end a word ("$ex", "fre€"); the others only stand between letters.
_EDGE_SYMBOLS: Final = frozenset("@$€£¥©®")

# Skeleton letters that stand for each other in a rule (both ways): "1" reads "i" but may mean "l";
# Cyrillic letters without a Latin twin are written with the Latin letter or digit that looks like
# them (и: u or 1; з: 3, read "e"; б: 6, read "b"; п: n; г: r; ш: w; ч: 4, read "a").
_PAIRS: Final = (("l", "i"), ("и", "i"), ("и", "u"), ("з", "e"), ("б", "b"), ("п", "n"), ("г", "r"),
                 ("ш", "w"), ("ч", "a"))  # fmt: skip


def _stand_ins() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for one, other in _PAIRS:
        table.setdefault(one, {one}).add(other)
        table.setdefault(other, {other}).add(one)
    return {letter: frozenset(group) for letter, group in table.items()}


STAND_INS: Final[Mapping[str, frozenset[str]]] = _stand_ins()

# A run of these (at most two, no whitespace) between two tokens hides one word: "fr-ee", "f.r.e.e".
_SOFT: Final = frozenset(".-_*'`’‘·•/\\~^=:,")
_SOFT_CHARS_MAX: Final = 2
_SPACED_GAP_CHARS_MAX: Final = 3
_SPACED_LETTERS_MIN: Final = 3

type Char = tuple[str, int]  # a cleaned character and the index of the text character it came from


def clean(text: str) -> list[Char]:
    """NFKD per character, marks and format characters dropped, case-folded (origin kept)."""
    out: list[Char] = []
    for index, ch in enumerate(text):
        for part in unicodedata.normalize("NFKD", ch) if not ch.isascii() else ch:
            if not part.isascii() and unicodedata.category(part) in ("Mn", "Me", "Cf"):
                continue
            out.extend((folded, index) for folded in part.casefold())
    return out


def _alnum(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal()


def _token_chars(chars: Sequence[Char]) -> list[bool]:
    """Which characters belong to tokens: letters, digits, and runs of letter-like symbols that
    stand between two of them, or (``$ @ €``...) at the start or end of a word ("a$$", "$ex")."""
    inside = [_alnum(ch) for ch, _ in chars]
    at = 0
    while at < len(chars):
        if inside[at] or chars[at][0] not in LEET_SYMBOLS:
            at += 1
            continue
        end = at
        while end < len(chars) and chars[end][0] in LEET_SYMBOLS:
            end += 1
        before = at > 0 and inside[at - 1]
        after = end < len(chars) and _alnum(chars[end][0])
        edge = all(ch in _EDGE_SYMBOLS for ch, _ in chars[at:end])
        if (before and after) or (edge and (before or after)):
            inside[at:end] = [True] * (end - at)
        at = end
    return inside


def tokenise(chars: Sequence[Char]) -> tuple[list[list[Char]], list[str]]:
    """Tokens, and the separator text between each token and the next (one fewer)."""
    tokens: list[list[Char]] = []
    gaps: list[str] = []
    gap: list[str] = []
    in_token = False
    for char, inside in zip(chars, _token_chars(chars), strict=True):
        if inside:
            if not in_token:
                if tokens:
                    gaps.append("".join(gap))
                tokens.append([])
                in_token = True
            tokens[-1].append(char)
        else:
            if in_token:
                gap = []
                in_token = False
            gap.append(char[0])
    return tokens, gaps


def skeleton(token: Sequence[Char]) -> list[Char]:
    """The skeleton letters of one token (digits stay digits when it holds no letter)."""
    wordy = any(ch.isalpha() for ch, _ in token)
    out: list[Char] = []
    for ch, origin in token:
        if ch.isdecimal():
            digit = str(unicodedata.decimal(ch, 0))
            out.append((LEET_DIGITS.get(digit, digit) if wordy else digit, origin))
        elif ch in LEET_SYMBOLS:
            out.append((LEET_SYMBOLS[ch] if wordy else ch, origin))
        else:
            out.append((ch.translate(LOOKALIKES), origin))
    return out


def _soft(gap: str) -> bool:
    return 0 < len(gap) <= _SOFT_CHARS_MAX and all(ch in _SOFT for ch in gap)


def _joins(tokens: Sequence[Sequence[Char]], gaps: Sequence[str]) -> list[bool]:
    """For each gap, whether the joined view glues the tokens on either side of it."""
    joins = [_soft(gap) for gap in gaps]
    at = 0
    while at < len(tokens):
        end = at
        if len(tokens[at]) == 1:
            while (
                end + 1 < len(tokens)
                and len(tokens[end + 1]) == 1
                and len(gaps[at]) <= _SPACED_GAP_CHARS_MAX
                and gaps[end] == gaps[at]
            ):
                end += 1
        if end + 1 - at >= _SPACED_LETTERS_MIN:
            for gap in range(at, end):
                joins[gap] = True
        at = end + 1
    return joins


@dataclass(frozen=True, slots=True)
class View:
    """Skeleton tokens separated by single spaces, and each character's index in the text."""

    text: str
    origins: tuple[int, ...]

    def found(self, original: str, start: int, end: int) -> str:
        """The text's characters behind ``view.text[start:end]``."""
        return original[self.origins[start] : self.origins[end - 1] + 1]


def _view(groups: Sequence[Sequence[Char]]) -> View:
    text: list[str] = []
    origins: list[int] = []
    for group in groups:
        if text:
            text.append(" ")
            origins.append(origins[-1])
        for ch, origin in skeleton(group):
            text.append(ch)
            origins.append(origin)
    return View("".join(text), tuple(origins))


def views(text: str) -> tuple[View, View]:
    """The split and the joined view of ``text`` (see the module docstring)."""
    tokens, gaps = tokenise(clean(text))
    return _view(tokens), _view(_joined(tokens, gaps))


def _joined(tokens: Sequence[Sequence[Char]], gaps: Sequence[str]) -> list[list[Char]]:
    joins = _joins(tokens, gaps)
    groups: list[list[Char]] = []
    for index, token in enumerate(tokens):
        if index > 0 and joins[index - 1]:
            groups[-1].extend(token)
        else:
            groups.append(list(token))
    return groups


def words_of(pattern: str) -> list[list[str]]:
    """The skeleton letters of each word of a rule's pattern, read the way texts are (joined)."""
    tokens, gaps = tokenise(clean(pattern))
    return [[ch for ch, _ in skeleton(word)] for word in _joined(tokens, gaps)]


__all__ = ["LOOKALIKES", "STAND_INS", "View", "clean", "skeleton", "tokenise", "views", "words_of"]
