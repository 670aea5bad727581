"""Routing keys: how an MO's first word and a service's prefix become the same folded key.

An MO reaches a service through its short number and its keyword, the first word of the text.
Both the prefix a partner claims and the keyword a subscriber types go through :func:`fold`, so
"abc", "ABC", "ABC" typed with Cyrillic capitals and full-width "ABC" all route to the service that
claimed "ABC", and no two services can claim prefixes a subscriber could not tell apart.

:func:`fold` is :func:`~smsbilling.domain.text.fold_keyword` (NFKC, invisible characters removed,
casefold) with the default Latin/Cyrillic look-alike table *plus* the admin's extra look-alikes
(``RoutingConfig.lookalikes``), which may add characters or override a default mapping.

The index keys: a :class:`~smsbilling.domain.entities.ShortNumber` is ``<operator_id>#<number>``
and a :class:`~smsbilling.domain.entities.PrefixClaim` is ``<short number id>#<folded>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from smsbilling.domain.text.fold import DEFAULT_CONFUSABLES, first_word, fold_keyword

PREFIX_CHARS_MAX: Final = 32
"""The longest folded prefix a claim can hold (``PrefixClaim.folded``); longer words match nothing."""


def fold(word: str, extra_lookalikes: Mapping[str, str] | None = None) -> str:
    """The matching form of a keyword or prefix: casefolded, look-alikes folded to Latin."""
    if not extra_lookalikes:
        return fold_keyword(word, confusables=DEFAULT_CONFUSABLES)
    overridden = {key.casefold() for key in extra_lookalikes}  # either case of a default letter
    table = {k: v for k, v in DEFAULT_CONFUSABLES.items() if k.casefold() not in overridden}
    return fold_keyword(word, confusables=table | dict(extra_lookalikes))


@dataclass(frozen=True, slots=True)
class Keyword:
    """The routing part of an MO's text."""

    word: str
    """The first word as the subscriber wrote it ("" for an empty text)."""
    folded: str
    rest: str
    """The text after the first word, leading whitespace removed (what a subscription reads)."""


def split_keyword(text: str, extra_lookalikes: Mapping[str, str] | None = None) -> Keyword:
    word = first_word(text)
    rest = text.lstrip()[len(word) :].lstrip() if word else ""
    return Keyword(word, fold(word, extra_lookalikes), rest)


def short_number_id(operator_id: str, number: str) -> str:
    return f"{operator_id}#{number}"


def prefix_claim_id(short_number_entity_id: str, folded: str) -> str:
    return f"{short_number_entity_id}#{folded}"
