"""The ledger's pure core: immutable double-entry transfers, their effects on balances, and replay.

A :class:`Transfer` moves one currency between two or more accounts. Each :class:`Leg` carries a
signed amount, **positive = debit, negative = credit**, and the legs of a transfer sum to zero, so
the sum of every balance per currency is always zero.

Transfers are identified by an id derived from the business key (:func:`transfer_id`). Posting
the same id again with the same fields is "already posted"; with different fields a
:class:`TransferConflict`. A transfer is either posted at once or *pending* (two-phase): a pending
transfer holds the decreases it would make (headroom is taken) without moving posted balances,
and is later posted (in full or for less, see :func:`check_final_legs`) or voided.

Both stores (memory and DynamoDB) apply exactly the :class:`Effect` values computed here, so they
cannot disagree on what a transfer does; :func:`replay` recomputes balances from the journal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from smsbilling.domain.accounts import Account
from smsbilling.domain.money import check_currency

_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TRANSFER_ID_CHARS_MAX: Final = 64
REF_CHARS_MAX: Final = 256


class LedgerError(Exception):
    """Base of every error the ledger raises; nothing else escapes a ledger store."""


class InvalidTransfer(LedgerError):
    """The transfer is malformed (legs do not balance, bad currency for a book, ...)."""


class TransferConflict(LedgerError):
    """The id was already used with different fields (or resolved differently)."""


class TransferNotFound(LedgerError):
    """Post or void of an id that was never posted as pending."""


class TransferNotPending(LedgerError):
    """Post or void of a transfer that is posted, voided, or was never pending."""


class AccountNotFound(LedgerError):
    """A leg names an account that has not been opened."""


class AccountConflict(LedgerError):
    """The account is open already with another currency or limit."""


class CurrencyMismatch(LedgerError):
    """A leg's currency is not the account's currency."""


class InsufficientFunds(LedgerError):
    """A constrained account would go below zero or past its credit limit."""

    def __init__(self, account: Account) -> None:
        super().__init__(f"insufficient funds on {account}")
        self.account = account


class LedgerBusy(LedgerError):
    """Contention on the same items did not clear within the retry budget; safe to retry later."""


class LedgerUnavailable(LedgerError):
    """The storage failed (throttled past retries, network); safe to retry: writes are idempotent."""


class TransferKind(StrEnum):
    MO_CHARGE = "mo_charge"
    MT_CHARGE = "mt_charge"
    RECOUNT = "recount"
    CREDIT_TOPUP = "credit_topup"
    CREDIT_BLOCK_RESERVE = "credit_block_reserve"
    CREDIT_BLOCK_RELEASE = "credit_block_release"
    SMS_CREDITS = "sms_credits"
    SMS_COST = "sms_cost"
    SETTLEMENT = "settlement"
    PAYOUT = "payout"
    ADJUSTMENT = "adjustment"


class TransferState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


def transfer_id(business_key: str, purpose: str) -> str:
    """The transfer id for a business key (a message id, ``partner|period``...) and a purpose.

    Deterministic, so a retry of the same business event produces the same id:
    ``purpose.<32 hex of SHA-256>``.
    """
    if not _PURPOSE.match(purpose):
        raise InvalidTransfer(f"bad purpose {purpose!r}")
    if not business_key:
        raise InvalidTransfer("empty business key")
    digest = hashlib.sha256(f"{len(purpose)}:{purpose}|{business_key}".encode()).hexdigest()
    return f"{purpose}.{digest[:32]}"


@dataclass(frozen=True, slots=True)
class Leg:
    """A signed amount on one account: positive = debit, negative = credit."""

    account: Account
    amount: int


def _legs_problem(legs: Sequence[Leg], currency: str) -> str | None:
    if len(legs) < 2:
        return "a transfer needs at least two legs"
    if len({leg.account for leg in legs}) != len(legs):
        return "an account appears twice in one transfer"
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            return f"leg amount must be a non-zero int, got {leg.amount!r}"
        if not leg.account.currency_ok(currency):
            return f"{leg.account} cannot hold {currency}"
    if sum(leg.amount for leg in legs) != 0:
        return "legs do not sum to zero"
    return None


def legs_fingerprint(legs: Iterable[Leg]) -> str:
    return ";".join(sorted(f"{leg.account.key}={leg.amount}" for leg in legs))


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    kind: TransferKind
    currency: str
    legs: tuple[Leg, ...]
    ref: str
    at_ms: int
    pending: bool = False

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > TRANSFER_ID_CHARS_MAX or not self.id.isprintable():
            raise InvalidTransfer(f"bad transfer id {self.id!r}")
        if len(self.ref) > REF_CHARS_MAX:
            raise InvalidTransfer("ref too long")
        if type(self.at_ms) is not int or self.at_ms < 0:
            raise InvalidTransfer(f"at_ms must be a non-negative int, got {self.at_ms!r}")
        try:
            check_currency(self.currency)
        except ValueError as exc:
            raise InvalidTransfer(str(exc)) from exc
        problem = _legs_problem(self.legs, self.currency)
        if problem:
            raise InvalidTransfer(f"{self.id}: {problem}")

    def fingerprint(self) -> str:
        """Everything that must match for a repeated post to count as the same transfer."""
        head = f"{self.kind}|{self.currency}|{self.ref}|{self.at_ms}|{int(self.pending)}|"
        return hashlib.sha256((head + legs_fingerprint(self.legs)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    """A transfer as the journal holds it. ``final_legs`` are what was posted (None unless posted)."""

    transfer: Transfer
    state: TransferState
    final_legs: tuple[Leg, ...] | None = None

    @classmethod
    def fresh(cls, transfer: Transfer) -> StoredTransfer:
        """The journal entry a first post of ``transfer`` creates."""
        if transfer.pending:
            return cls(transfer, TransferState.PENDING)
        return cls(transfer, TransferState.POSTED, transfer.legs)


@dataclass(frozen=True, slots=True)
class PostResult:
    stored: StoredTransfer
    already: bool
    """True when this call changed nothing because the same request had been applied before."""


def check_final_legs(pending: Transfer, final: Sequence[Leg] | None) -> tuple[Leg, ...]:
    """The legs to post for ``pending``: all of it, or less (a partial post).

    A partial post keeps every leg's account and sign, shrinks amounts (a leg may drop to zero,
    i.e. be left out) and still sums to zero; what is not posted is released.
    """
    if final is None:
        return pending.legs
    by_account = {leg.account: leg.amount for leg in pending.legs}
    kept = tuple(leg for leg in final if leg.amount != 0)
    for leg in kept:
        held = by_account.get(leg.account)
        if held is None or (held > 0) != (leg.amount > 0) or abs(leg.amount) > abs(held):
            raise InvalidTransfer(f"final leg {leg.account}={leg.amount} exceeds the pending transfer")
    if sum(leg.amount for leg in kept) != 0 or len({leg.account for leg in kept}) != len(kept):
        raise InvalidTransfer("final legs must balance and name each account once")
    return kept


def must_resolve(
    stored: StoredTransfer | None,
    transfer_id: str,
    target: TransferState,
    final_legs: Sequence[Leg] | None = None,
) -> tuple[StoredTransfer, bool]:
    """Decide a post (``target`` POSTED) or void (VOIDED) of ``transfer_id``.

    ``(stored, True)``: the transfer is pending, apply the resolution. ``(stored, False)``: this
    very resolution was applied before (idempotent repeat). Raises TransferNotFound,
    TransferNotPending (posted directly, or resolved the other way), or TransferConflict (posted
    before with other final amounts).
    """
    if stored is None:
        raise TransferNotFound(transfer_id)
    if stored.state is TransferState.PENDING:
        return stored, True
    if stored.state is not target or not stored.transfer.pending:
        raise TransferNotPending(f"{transfer_id} is {stored.state}")
    if target is TransferState.POSTED:
        final = check_final_legs(stored.transfer, final_legs)
        if legs_fingerprint(final) != legs_fingerprint(stored.final_legs or ()):
            raise TransferConflict(f"{transfer_id} was posted with other amounts")
    return stored, False


@dataclass(frozen=True, slots=True)
class Effect:
    """A change to one account: ``net``/``pending`` (net debit), ``headroom`` (shown side).

    ``need`` > 0 means the change is allowed only if the account's headroom is at least ``need``.
    """

    account: Account
    net: int
    pending: int
    headroom: int
    need: int


def _shown(leg: Leg) -> int:
    return leg.account.policy.normal.value * leg.amount


def _decrease(account: Account, shown: int) -> tuple[int, int]:
    """Headroom change and need for a change of ``shown`` on the displayed balance."""
    if not account.policy.constrained:
        return 0, 0
    return shown, max(0, -shown)


def effects_create(transfer: Transfer) -> tuple[Effect, ...]:
    out = []
    for leg in transfer.legs:
        shown = _shown(leg)
        if transfer.pending:
            head, need = _decrease(leg.account, min(shown, 0))
            out.append(Effect(leg.account, 0, leg.amount, head, need))
        else:
            head, need = _decrease(leg.account, shown)
            out.append(Effect(leg.account, leg.amount, 0, head, need))
    return tuple(out)


def effects_post(transfer: Transfer, final: Sequence[Leg]) -> tuple[Effect, ...]:
    posted = {leg.account: leg.amount for leg in final}
    out = []
    for leg in transfer.legs:
        amount = posted.get(leg.account, 0)
        head = 0
        if leg.account.policy.constrained:
            held, shown = _shown(leg), leg.account.policy.normal.value * amount
            head = shown - held if held < 0 else shown
        out.append(Effect(leg.account, amount, -leg.amount, head, 0))
    return tuple(out)


def effects_void(transfer: Transfer) -> tuple[Effect, ...]:
    out = []
    for leg in transfer.legs:
        head = -min(_shown(leg), 0) if leg.account.policy.constrained else 0
        out.append(Effect(leg.account, 0, -leg.amount, head, 0))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balance as a store reports it (all shards summed)."""

    account: Account
    currency: str
    net: int
    """Posted, net debit (debits - credits)."""
    pending: int
    """Pending, net debit."""
    headroom: int
    """Constrained accounts: how much more the shown balance may fall; 0 for unconstrained."""
    overdraft_max: int

    @property
    def posted(self) -> int:
        """The posted balance on the account's normal side (what a statement shows)."""
        return self.account.policy.normal.value * self.net


@dataclass(slots=True)
class Replayed:
    """Balances recomputed from the journal (mutable accumulator)."""

    currency: str
    net: int = 0
    pending: int = 0
    pending_decrease: int = 0

    def headroom(self, account: Account, overdraft_max: int) -> int:
        if not account.policy.constrained:
            return 0
        return overdraft_max + account.policy.normal.value * self.net - self.pending_decrease


def replay(journal: Iterable[StoredTransfer]) -> dict[Account, Replayed]:
    """Fold the journal into balances: posted legs into ``net``, pending legs into ``pending``."""
    out: dict[Account, Replayed] = {}
    for stored in journal:
        transfer = stored.transfer
        if stored.state is TransferState.POSTED:
            for leg in stored.final_legs if stored.final_legs is not None else transfer.legs:
                out.setdefault(leg.account, Replayed(transfer.currency)).net += leg.amount
        elif stored.state is TransferState.PENDING:
            for leg in transfer.legs:
                acc = out.setdefault(leg.account, Replayed(transfer.currency))
                acc.pending += leg.amount
                acc.pending_decrease += max(0, -_shown(leg))
    return out
