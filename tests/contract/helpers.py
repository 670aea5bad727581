"""Builders shared by the billing unit tests and the ledger contract suite."""

from __future__ import annotations

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Account, Book
from smsbilling.domain.ledger import Leg, Transfer, TransferKind
from smsbilling.domain.money import CREDITS
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.ports import LedgerStore

RUB = "RUB"
OP = "op1"
PARTNERS = ("p1", "p2", "p3")

REVENUE = acc.platform(Book.REVENUE)
VAT = acc.platform(Book.VAT_PAYABLE)
CASH = acc.platform(Book.CASH)
REFERRAL = acc.platform(Book.REFERRAL_EXPENSE)
ISSUED = acc.platform(Book.CREDITS_ISSUED)
CONSUMED = acc.platform(Book.CREDITS_CONSUMED)
RECEIVABLE = acc.operator(OP, Book.RECEIVABLE)


def earned(partner_id: str) -> Account:
    return acc.partner(partner_id, Book.EARNED_PENDING)


def available(partner_id: str) -> Account:
    return acc.partner(partner_id, Book.AVAILABLE)


def credits(partner_id: str) -> Account:
    return acc.partner(partner_id, Book.CREDITS)


def open_world(store: LedgerStore, *, credit_limit: int = 0, slots: int = 2, currency: str = RUB) -> None:
    open_platform(store, currency)
    open_operator(store, OP, currency)
    for partner_id in PARTNERS:
        open_partner(store, partner_id, currency, credit_limit=credit_limit, block_slots=slots)


def xfer(
    tid: str,
    *pairs: tuple[Account, int],
    currency: str = RUB,
    pending: bool = False,
    kind: TransferKind = TransferKind.ADJUSTMENT,
    at_ms: int = 1,
) -> Transfer:
    """A transfer with legs given as (account, signed amount: + debit, - credit)."""
    legs = tuple(Leg(account, amount) for account, amount in pairs)
    return Transfer(tid, kind, currency, legs, f"ref-{tid}", at_ms, pending)


def topup(tid: str, partner_id: str, amount: int) -> Transfer:
    """Give ``partner_id`` prepaid credits."""
    return xfer(tid, (ISSUED, amount), (credits(partner_id), -amount), currency=CREDITS)


def spend(tid: str, partner_id: str, amount: int, *, pending: bool = False) -> Transfer:
    """Spend ``partner_id``'s prepaid credits directly from the main balance."""
    return xfer(tid, (credits(partner_id), amount), (CONSUMED, -amount), currency=CREDITS, pending=pending)


def pay_in(tid: str, partner_id: str, amount: int, *, currency: str = RUB) -> Transfer:
    """Money to the partner's constrained ``available`` balance, from cash."""
    return xfer(tid, (CASH, amount), (available(partner_id), -amount), currency=currency)
