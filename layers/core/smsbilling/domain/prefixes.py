"""Which keywords a partner may lease (docs/partner-api.md, "Prefixes").

A prefix is one word of letters and digits (any script), at most 32 characters before and after
folding (:func:`smsbilling.domain.routing.fold`). It may not be a *reserved* word (the platform
keeps it: STOP, HELP, ... from the settings, plus the admin's ``ReservedPrefix`` entities of kind
``reserved``) or a *forbidden* one (the admin's entities of kind ``forbidden``). Words are compared
folded, so a look-alike of a reserved word is reserved too.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from smsbilling.domain.entities import ReservedPrefix
from smsbilling.domain.routing import PREFIX_CHARS_MAX


class WordRefusal(StrEnum):
    INVALID = "invalid"
    RESERVED = "reserved"
    FORBIDDEN = "forbidden"


def prefix_problem(prefix: str, folded: str) -> str | None:
    """Why ``prefix`` (and its folded form) cannot be a prefix at all; None when it can."""
    if not prefix or len(prefix) > PREFIX_CHARS_MAX:
        return f"A prefix has 1 to {PREFIX_CHARS_MAX} characters."
    if not all(ch.isalnum() for ch in prefix):
        return "A prefix is one word of letters and digits."
    if not folded or len(folded) > PREFIX_CHARS_MAX or not all(ch.isalnum() for ch in folded):
        return "The prefix does not fold to a usable keyword."
    return None


def word_refusal(
    folded: str, entry: ReservedPrefix | None, default_reserved_folded: Collection[str]
) -> WordRefusal | None:
    """RESERVED / FORBIDDEN when the admin's entry or the platform's defaults keep the word."""
    if entry is not None:
        return WordRefusal.FORBIDDEN if entry.kind == "forbidden" else WordRefusal.RESERVED
    if folded in default_reserved_folded:
        return WordRefusal.RESERVED
    return None
