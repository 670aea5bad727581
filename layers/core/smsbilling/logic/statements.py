"""A partner's balance and statement, read from the ledger (never written here).

**Balance** (:func:`partner_balance`): the partner's accounts (domain/accounts.py) as the partner
sees them, integers in minor units beside their currency:

* money (the partner's payout currency): ``earned`` (``earned_pending`` posted: income not yet
  settled), ``earned_awaiting_delivery`` (MT-billing income waiting for its DLR), ``available``
  (settled, payable), ``payouts_in_progress`` (requested payouts held on ``available``),
  ``paid_out``;
* credits (prepaid sending): ``balance`` (the main account plus every credit block),
  ``reserved`` (held for MTs on their way), ``credit_limit``, ``spendable``
  (``balance + credit_limit - reserved``).

A book that was never opened reads as absent (``None``), not as zero.

**Statement** (:func:`statement`): every transfer that touched one of the partner's accounts,
newest first, ``since <= at < until``, with only the partner's own legs
(:func:`~smsbilling.domain.statements.statement_line`), in pages of a signed cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Account, Book
from smsbilling.domain.cursors import Page, boundary_of, context_of, decode_cursor, encode_cursor
from smsbilling.domain.ledger import AccountNotFound, Balance, StoredTransfer
from smsbilling.domain.statements import StatementLine, statement_line


class BalanceReader(Protocol):
    def balance(self, account: Account) -> Balance:
        """AccountNotFound if never opened."""
        ...


class PartnerJournal(Protocol):
    def partner_transfers(
        self,
        partner_id: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        before: str | None = None,
        limit: int,
    ) -> Page[StoredTransfer]:
        """Transfers with a leg of the partner's, newest first, by ``at_ms``; keys below ``before``."""
        ...


# --- balance ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoneyBalance:
    currency: str
    earned: int
    earned_awaiting_delivery: int
    available: int
    payouts_in_progress: int
    paid_out: int


@dataclass(frozen=True, slots=True)
class CreditBalance:
    balance: int
    reserved: int
    credit_limit: int
    spendable: int


@dataclass(frozen=True, slots=True)
class PartnerBalance:
    money: MoneyBalance | None
    credits: CreditBalance | None


def _read(ledger: BalanceReader, account: Account) -> Balance | None:
    try:
        return ledger.balance(account)
    except AccountNotFound:
        return None


def _held(balance: Balance) -> int:
    """Pending decreases of a constrained account (what its headroom keeps aside)."""
    return balance.overdraft_max + balance.posted - balance.headroom


def _money(ledger: BalanceReader, partner_id: str) -> MoneyBalance | None:
    earned = _read(ledger, acc.partner(partner_id, Book.EARNED_PENDING))
    available = _read(ledger, acc.partner(partner_id, Book.AVAILABLE))
    payouts = _read(ledger, acc.partner(partner_id, Book.PAYOUTS))
    if earned is None and available is None and payouts is None:
        return None
    currency = next(b.currency for b in (earned, available, payouts) if b is not None)
    return MoneyBalance(
        currency=currency,
        earned=earned.posted if earned else 0,
        earned_awaiting_delivery=-earned.pending if earned else 0,  # credit-normal: shown = -net
        available=available.posted if available else 0,
        payouts_in_progress=_held(available) if available else 0,
        paid_out=payouts.posted if payouts else 0,
    )


def _credits(ledger: BalanceReader, partner_id: str, block_slots_max: int) -> CreditBalance | None:
    main = _read(ledger, acc.partner(partner_id, Book.CREDITS))
    if main is None:
        return None
    blocks = [
        b for slot in range(block_slots_max) if (b := _read(ledger, acc.credit_block(partner_id, slot)))
    ]
    every = [main, *blocks]
    balance = sum(b.posted for b in every)
    reserved = sum(_held(b) for b in every)
    return CreditBalance(
        balance=balance,
        reserved=reserved,
        credit_limit=main.overdraft_max,
        spendable=sum(b.headroom for b in every),
    )


def partner_balance(ledger: BalanceReader, partner_id: str, *, block_slots_max: int) -> PartnerBalance:
    return PartnerBalance(_money(ledger, partner_id), _credits(ledger, partner_id, block_slots_max))


# --- statement -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementPage:
    lines: tuple[StatementLine, ...]
    next_cursor: str | None


def _ms(at: datetime | None) -> int | None:
    if at is None:
        return None
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


def statement(
    journal: PartnerJournal,
    partner_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
    cursor_key: bytes,
) -> StatementPage:
    """One page of the partner's statement; CursorError for a cursor not made for this request."""
    since_ms, until_ms = _ms(since), _ms(until)
    context = context_of(partner_id, "statement", since_ms, until_ms)
    before = boundary_of(decode_cursor(cursor, key=cursor_key, context=context)) if cursor else None
    page = journal.partner_transfers(
        partner_id, since_ms=since_ms, until_ms=until_ms, before=before, limit=limit
    )
    lines = tuple(line for stored in page.items if (line := statement_line(stored, partner_id)) is not None)
    following = (
        encode_cursor({"b": page.boundary}, key=cursor_key, context=context) if page.boundary else None
    )
    return StatementPage(lines, following)
