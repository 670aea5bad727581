"""Opening the accounts a partner, an operator and the platform need (idempotent)."""

from __future__ import annotations

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import AccountSpec, Book
from smsbilling.domain.money import CREDITS
from smsbilling.ports import LedgerStore

_PLATFORM_MONEY = (Book.REVENUE, Book.VAT_PAYABLE, Book.REFERRAL_EXPENSE, Book.SMS_COST, Book.CASH)
_PLATFORM_CREDITS = (Book.CREDITS_ISSUED, Book.CREDITS_CONSUMED)


def open_platform(store: LedgerStore, currency: str) -> None:
    for book in _PLATFORM_MONEY:
        store.open_account(AccountSpec(acc.platform(book), currency))
    for book in _PLATFORM_CREDITS:
        store.open_account(AccountSpec(acc.platform(book), CREDITS))


def open_operator(store: LedgerStore, operator_id: str, currency: str) -> None:
    for book in (Book.RECEIVABLE, Book.PAYABLE):
        store.open_account(AccountSpec(acc.operator(operator_id, book), currency))


def open_partner(
    store: LedgerStore, partner_id: str, currency: str, *, credit_limit: int = 0, block_slots: int = 0
) -> None:
    """Money books in ``currency``, prepaid credits with ``credit_limit``, and ``block_slots`` blocks."""
    for book in (Book.EARNED_PENDING, Book.AVAILABLE, Book.PAYOUTS):
        store.open_account(AccountSpec(acc.partner(partner_id, book), currency))
    store.open_account(AccountSpec(acc.partner(partner_id, Book.CREDITS), CREDITS, credit_limit))
    for slot in range(block_slots):
        store.open_account(AccountSpec(acc.credit_block(partner_id, slot), CREDITS))
