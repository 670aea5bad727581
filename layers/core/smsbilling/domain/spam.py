# ruff: noqa: RUF002
# (look-alike letters are the subject of this module)
"""Anti-spam rules for outgoing texts (MTs), and how a text is matched against them.

An admin keeps :class:`SpamRule` s, platform-wide (scope ``*``) or for one partner (scope = its
id), each with an action (alert, hold, reject: domain/traffic.py). Four kinds:

``word``
    one word, matched as a whole word on the text's skeleton (domain/spam_text.py: case,
    look-alikes, leetspeak, spacing, punctuation, repeated letters and zero-width characters
    undone), so "free" finds "FR33", "f r e e", "fr-ee", "frееее" but not "freedom" or "carefree",
    and "ass" does not match inside "class". A trailing ``*`` makes it a stem: "скидк*" finds
    "скидка", "скидки", "ск1дку". A doubled letter must be there at least twice ("ass" does not
    match "as"), a single one may be repeated.
``phrase``
    words in that order, separated by anything the skeleton reads as one gap ("free prize" finds
    "FREE, PRIZE" and "fr3e   pr1ze"; "f r e e p r i z e" too, spaced-out runs being read whole).
``regex``
    a regular expression on the NFKC-normalised, case-folded text (format characters removed),
    run by a linear-time engine (domain/safe_regex.py): no backreferences or lookarounds, a size
    limit, and a pattern matching the empty text is refused.
``url``
    a domain (or a URL: its host), matching it and its subdomains wherever the text names a host,
    de-obfuscated (domain/spam_urls.py); ``@shorteners`` matches known link shorteners.

Each matching rule gives one :class:`SpamMatch`, shown on the message as its reason:
``matched word rule r12 "free prize" (as "fr3e pr1ze")``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import ClassVar, Final

from pydantic import Field

from smsbilling.domain.entities import Entity
from smsbilling.domain.safe_regex import RegexRefused, SafeRegex, compile_safe
from smsbilling.domain.spam_text import STAND_INS, View, views, words_of
from smsbilling.domain.spam_urls import hosts_in, listed_domain, within
from smsbilling.domain.traffic import Action

GLOBAL_SCOPE: Final = "*"
RULE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
PATTERN_CHARS_MAX: Final = 1000  # the stored form's bound; settings.traffic.spam_pattern_chars_max is lower
_SHOWN_CHARS_MAX: Final = 40
_STEM: Final = "*"
_SKELETON_CHARS_MIN: Final = 2


class SpamKind(StrEnum):
    WORD = "word"
    PHRASE = "phrase"
    REGEX = "regex"
    URL = "url"


class SpamRule(Entity):
    """One anti-spam rule, listed by scope (global ``*`` or a partner id) then rule id."""

    type_name: ClassVar[str] = "SPAMRULE"
    id_fields: ClassVar[tuple[str, ...]] = ("rule_id",)
    rule_id: str = Field(pattern=RULE_ID_PATTERN)
    kind: SpamKind
    pattern: str = Field(min_length=1, max_length=PATTERN_CHARS_MAX)
    scope: str = Field(default=GLOBAL_SCOPE, min_length=1, max_length=64, description="'*' or a partner id")
    action: Action
    reason: str = Field(default="", max_length=200, description="the admin's note, shown with the match")
    enabled: bool = True
    created_at: datetime
    updated_at: datetime | None = None

    def listing(self) -> tuple[str, str]:
        return listing_key(self.scope)[0], f"{self.scope}#{self.rule_id}"


def listing_key(scope: str | None = None) -> tuple[str, str]:
    """``(gsi1pk, sort-key prefix)`` of every rule (``None``) or of one scope's."""
    return "SPAMRULE", "" if scope is None else f"{scope}#"


class SpamPatternError(ValueError):
    """The pattern cannot be a rule of its kind (the message says why, for the admin)."""


@dataclass(frozen=True, slots=True)
class SpamLimits:
    pattern_chars_max: int = 200
    regex_states_max: int = 2000
    text_chars_max: int = 2000


DEFAULT_LIMITS: Final = SpamLimits()


# --- matchers ---------------------------------------------------------------------------------------------


class ScannedText:
    """A text prepared for every rule once: skeleton views, the regex text and the hosts it names."""

    def __init__(self, text: str, text_chars_max: int) -> None:
        self.text = text[:text_chars_max]

    @cached_property
    def views(self) -> tuple[View, View]:
        return views(self.text)

    @cached_property
    def plain(self) -> str:
        normalised = unicodedata.normalize("NFKC", self.text)
        return "".join(ch for ch in normalised if unicodedata.category(ch) != "Cf").casefold()

    @cached_property
    def hosts(self) -> list[tuple[str, str]]:
        return hosts_in(self.text)


@dataclass(frozen=True, slots=True)
class _Skeletal:
    """A word or phrase rule: a deterministic expression over a skeleton view."""

    expression: re.Pattern[str]

    def find(self, scanned: ScannedText) -> str | None:
        for view in scanned.views:
            found = self.expression.search(view.text)
            if found is not None:
                return view.found(scanned.text, found.start(), found.end())
        return None


@dataclass(frozen=True, slots=True)
class _Regex:
    regex: SafeRegex

    def find(self, scanned: ScannedText) -> str | None:
        found = self.regex.search(scanned.plain)
        return None if found is None else scanned.plain[found[0] : found[1]]


@dataclass(frozen=True, slots=True)
class _Url:
    domain: str

    def find(self, scanned: ScannedText) -> str | None:
        return next((written for host, written in scanned.hosts if within(host, self.domain)), None)


type Matcher = _Skeletal | _Regex | _Url


def _runs(letters: Sequence[str]) -> list[tuple[frozenset[str], int]]:
    """Letters as runs of (letters that may stand there, how many at least).

    Neighbouring runs whose sets overlap are merged, so the expression is deterministic: a text
    character either extends the current run or starts the next, never both (no backtracking
    blow-up, whatever the text).
    """
    runs: list[tuple[frozenset[str], int]] = []
    for letter in letters:
        accepted = STAND_INS.get(letter, frozenset({letter}))
        if runs and runs[-1][0] & accepted:
            runs[-1] = (runs[-1][0] | accepted, runs[-1][1] + 1)
        else:
            runs.append((accepted, 1))
    return runs


def _class(letters: frozenset[str]) -> str:
    return "[" + "".join(re.escape(letter) for letter in sorted(letters)) + "]"


def _skeletal(kind: SpamKind, pattern: str) -> _Skeletal:
    stem = kind is SpamKind.WORD and pattern.rstrip().endswith(_STEM)
    words = words_of(pattern.rstrip().removesuffix(_STEM) if stem else pattern)
    if sum(len(word) for word in words) < _SKELETON_CHARS_MIN:
        raise SpamPatternError(f"needs at least {_SKELETON_CHARS_MIN} letters or digits")
    if kind is SpamKind.WORD and len(words) != 1:
        raise SpamPatternError("a word rule is one word (use a phrase rule for several)")
    parts: list[str] = []
    last: frozenset[str] = frozenset()
    for word in words:
        runs = _runs(word)
        if parts:  # the gap between words may vanish in the joined view unless that blurs them
            parts.append(" " if runs[0][0] & last else " ?")
        parts.extend(f"{_class(letters)}{{{least},}}" for letters, least in runs)
        last = runs[-1][0]
    body = "".join(parts)
    # A stem takes the rest of its word (shown in the reason); a word ends where the token does.
    return _Skeletal(re.compile(rf"(?<![^ ]){body}" + ("[^ ]*" if stem else "(?![^ ])")))


@lru_cache(maxsize=4096)
def compile_pattern(kind: SpamKind, pattern: str, limits: SpamLimits = DEFAULT_LIMITS) -> Matcher:
    """A rule's matcher; :class:`SpamPatternError` when the pattern cannot be one of ``kind``."""
    if not pattern.strip():
        raise SpamPatternError("empty")
    if len(pattern) > limits.pattern_chars_max:
        raise SpamPatternError(f"longer than {limits.pattern_chars_max} characters")
    if kind is SpamKind.REGEX:
        try:
            return _Regex(
                compile_safe(pattern, chars_max=limits.pattern_chars_max, states_max=limits.regex_states_max)
            )
        except RegexRefused as error:
            raise SpamPatternError(str(error)) from None
    if kind is SpamKind.URL:
        try:
            return _Url(listed_domain(pattern))
        except ValueError as error:
            raise SpamPatternError(str(error)) from None
    return _skeletal(kind, pattern)


# --- matching ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpamMatch:
    rule: SpamRule
    found: str  # the text as it was written where the rule matched

    def reason(self) -> str:
        """``matched word rule r12 "free prize" (as "fr3e pr1ze")``, then the admin's note."""
        rule = self.rule
        said = f'matched {rule.kind.value} rule {rule.rule_id} "{_shown(rule.pattern)}"'
        said += f' (as "{_shown(self.found)}")'
        return f"{said}: {rule.reason}" if rule.reason else said


def _shown(text: str) -> str:
    """One line, invisible characters dropped (a zero-width space would hide in the reason), short."""
    flat = " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())
    return flat if len(flat) <= _SHOWN_CHARS_MAX else flat[: _SHOWN_CHARS_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """The enabled rules with their matchers (in the order given), and the enabled rules whose
    stored pattern no longer compiles (left out: the caller reports them)."""

    matchers: tuple[tuple[SpamRule, Matcher], ...]
    broken: tuple[SpamRule, ...]


def compile_rules(rules: Iterable[SpamRule], limits: SpamLimits = DEFAULT_LIMITS) -> CompiledRules:
    matchers: list[tuple[SpamRule, Matcher]] = []
    broken: list[SpamRule] = []
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            matchers.append((rule, compile_pattern(rule.kind, rule.pattern, limits)))
        except SpamPatternError:
            broken.append(rule)
    return CompiledRules(tuple(matchers), tuple(broken))


def matching(text: str, *compiled: CompiledRules, limits: SpamLimits = DEFAULT_LIMITS) -> list[SpamMatch]:
    """The rules of each of ``compiled`` (in turn) that match ``text``."""
    scanned = ScannedText(text, limits.text_chars_max)
    matches: list[SpamMatch] = []
    for rules in compiled:
        for rule, matcher in rules.matchers:
            found = matcher.find(scanned)
            if found is not None:
                matches.append(SpamMatch(rule, found))
    return matches


def scan(
    text: str, rules: Iterable[SpamRule], limits: SpamLimits = DEFAULT_LIMITS
) -> tuple[list[SpamMatch], list[SpamRule]]:
    """The enabled ``rules`` that match ``text`` (in the order given), and the rules whose stored
    pattern no longer compiles (skipped: the caller reports them)."""
    compiled = compile_rules(rules, limits)
    return matching(text, compiled, limits=limits), list(compiled.broken)


__all__ = [
    "DEFAULT_LIMITS",
    "GLOBAL_SCOPE",
    "RULE_ID_PATTERN",
    "CompiledRules",
    "ScannedText",
    "SpamKind",
    "SpamLimits",
    "SpamMatch",
    "SpamPatternError",
    "SpamRule",
    "compile_pattern",
    "compile_rules",
    "listing_key",
    "matching",
    "scan",
]
