"""Duplicates: the same message again within a window is blocked (docs/traffic/duplicates.md).

A message's **fingerprint** is the SHA-256 of (direction, partner, the other party: the short
number of an MO / the source of an MT, the subscriber's MSISDN, the text normalised lightly: NFKC,
format characters dropped, whitespace collapsed, casefolded). The first message with a fingerprint
*claims* it in the :class:`FingerprintStore` for ``duplicate_window_s`` from its own time; another
message with the same fingerprint while that claim lives gets a :class:`Finding`
(``duplicate_action``, reject by default) naming the original. The partner is part of the
fingerprint, so one partner's traffic never blocks another's, and a reason never names another
partner's message.

Times are the messages' own (``MessageFacts.at``: an MO's arrival, an MT's request), never the
clock of the consumer, so a redelivered message is judged as it was the first time:

* the original checked again finds its own claim: never its own duplicate;
* a duplicate checked again finds the original's claim again (the claim lives by message time);
* a message a whole window or more *older* than the live claim (a very late one: held, or stuck in
  a queue) is not a duplicate of that newer message and leaves its claim alone.

Of two identical messages checked at once exactly one wins the claim (the store is atomic), so
both are never sent. Which messages are checked: every MO the guard sees (a routed MO, before it
is charged); MTs of the purposes in ``duplicate_mt_purposes`` (the partner API's sends by default:
replies answer distinct MOs, OTP codes differ, subscriptions repeat by design).
``MessageFacts.repeat_ok`` (the API's ``allow_repeat``) marks a legitimate repeat: it still claims
a free fingerprint, so a later unmarked copy is caught, but it is never a finding itself.

Repeated operator message ids: an MO's platform id is derived from (link, operator message id)
at intake (:mod:`smsbilling.logic.mo_intake`) and stored once, for good, so a repeated operator id
on a link *is* the stored message: it is decided once, charged once (charge ids come from the MO
id), and its fingerprint claim is its own. What this control adds is the same MO under a
*different* operator id (an operator that retries with a fresh id, the same MO over a second link;
an SMPP redelivery the bridge did not fold, only when the window is longer than the bridge's
``mo_redelivery_window_s``): the content fingerprint catches it within the window.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from smsbilling.domain.traffic import Action, ControlName, Direction, Finding, MessageFacts
from smsbilling.logic.traffic_control import ControlResult
from smsbilling.settings import TrafficLimits

RULE_ID: Final = "same_content"


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a fingerprint: the message, its time and when the claim ends (epoch seconds)."""

    message_id: str
    at_s: int
    expires_at_s: int


class FingerprintStore(Protocol):
    """Fingerprint claims with a lifetime (counters table). Implementations:
    adapters.memory_fingerprints, adapters.dynamodb_fingerprints; one suite:
    tests/contract/test_fingerprint_contract.py."""

    def claim(self, key: str, message_id: str, *, now_s: int, expires_at_s: int) -> Claim:
        """Hold ``key`` for ``message_id`` (claimed at ``now_s``, until ``expires_at_s``) unless a
        live claim stands; return the claim that stands (this one, or the live one found).

        Live: ``expires_at_s > now_s``; an expired claim not yet deleted counts as absent and is
        replaced. The message's own live claim is returned as it stands. Atomic: of two claims
        of one key at once exactly one wins, and both are told the winner.
        """
        ...


def normalise_text(text: str) -> str:
    """The text as compared: NFKC, format characters (zero-width etc.) dropped, whitespace
    collapsed, casefolded. Light on purpose: look-alikes and spacing tricks are anti-spam's."""
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(kept.split()).casefold()


def fingerprint(facts: MessageFacts) -> str:
    """SHA-256 (hex) of direction, partner, the other party, the subscriber and the normalised text."""
    parts = (
        facts.direction.value,
        facts.partner_id or "",
        facts.short_number or "",
        facts.msisdn,
        normalise_text(facts.text),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class DuplicateControl:
    """The traffic control over :class:`FingerprintStore` (see the module docstring)."""

    name: ControlName = ControlName.DUPLICATE

    def __init__(
        self,
        store: FingerprintStore,
        *,
        window_s: int,
        action: Action = Action.REJECT,
        mt_purposes: Iterable[str] = ("api",),
        live: Callable[[], TrafficLimits] | None = None,
    ) -> None:
        """``live``, when given, supplies the window, action and purposes at each check (the admin's)."""
        if window_s < 0:
            raise ValueError("window_s must be >= 0 (0: off)")
        self._store = store
        self._rules = _Rules(window_s, action, frozenset(mt_purposes))
        self._live = live

    def _current(self) -> _Rules:
        if self._live is None:
            return self._rules
        limits = self._live()
        return _Rules(
            limits.duplicate_window_s,
            Action(limits.duplicate_action),
            frozenset(limits.duplicate_mt_purposes),
        )

    def applies(self, facts: MessageFacts) -> bool:
        return _applies(self._current(), facts)

    def check(self, facts: MessageFacts) -> ControlResult:
        rules = self._current()
        if not _applies(rules, facts):
            return ControlResult()
        at_s = facts.at_s
        held = self._store.claim(
            fingerprint(facts), facts.message_id, now_s=at_s, expires_at_s=at_s + rules.window_s
        )
        if held.message_id == facts.message_id or facts.repeat_ok:
            return ControlResult()
        if held.at_s - at_s >= rules.window_s:  # a late message, a window older than the live claim
            return ControlResult()
        reason = (
            f"repeats {facts.direction.value.upper()} {held.message_id} "
            f"(same sender, recipient and text within {rules.window_s} s)"
        )
        return ControlResult((Finding(ControlName.DUPLICATE, RULE_ID, rules.action, reason),))


@dataclass(frozen=True, slots=True)
class _Rules:
    window_s: int
    action: Action
    mt_purposes: frozenset[str]


def _applies(rules: _Rules, facts: MessageFacts) -> bool:
    if rules.window_s == 0:
        return False
    if facts.direction is Direction.MO:
        return True
    return facts.purpose is None or facts.purpose in rules.mt_purposes


__all__ = ["RULE_ID", "Claim", "DuplicateControl", "FingerprintStore", "fingerprint", "normalise_text"]
