"""Manual ledger adjustments: an admin corrects a partner's balance, with a reason.

An adjustment is one ``adjustment`` transfer (domain/ledger.py) between a partner book and a
platform book, never an edit of a balance:

==================  =========================================  ==============================
partner book        counter-account (platform)                 currency
==================  =========================================  ==============================
``available``       ``revenue`` (a credit to the partner is     money (the partner's books')
``earned_pending``  paid out of the platform's income)
``credits``         ``credits_issued`` (as a top-up)           ``XCR`` (credits)
==================  =========================================  ==============================

``amount`` > 0 raises the partner's balance, < 0 lowers it (a constrained book, ``available`` or
``credits``, cannot go below its floor: 409 ``insufficient_funds``, nothing posted).

**Idempotent by the admin's id.** The transfer id is derived from ``adjustment_id``, and the reason
is the transfer's ``ref``, so the journal itself says why the money moved. A retry with the same
id and the same partner, book, amount, currency and reason answers the posted adjustment (whenever
it is retried: the posting time is not compared); anything else under that id is 409
``adjustment_conflict``. Books the partner has not opened yet are opened on the first adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import AccountSpec, Book, Scope
from smsbilling.domain.entities import Partner
from smsbilling.domain.ledger import (
    AccountConflict,
    AccountNotFound,
    CurrencyMismatch,
    InsufficientFunds,
    Leg,
    StoredTransfer,
    Transfer,
    TransferConflict,
    TransferKind,
    legs_fingerprint,
    transfer_id,
)
from smsbilling.domain.money import CREDITS
from smsbilling.logic.admin_common import AdminCall, AdminStore, Conflict, Invalid, NotFound, must_get, record
from smsbilling.logic.admin_plans import from_ms, to_ms
from smsbilling.logic.ledger_setup import open_platform
from smsbilling.ports import LedgerStore

PURPOSE = str(TransferKind.ADJUSTMENT)


class AdjustedBook(StrEnum):
    AVAILABLE = "available"
    EARNED_PENDING = "earned_pending"
    CREDITS = "credits"


_COUNTER = {
    AdjustedBook.AVAILABLE: acc.platform(Book.REVENUE),
    AdjustedBook.EARNED_PENDING: acc.platform(Book.REVENUE),
    AdjustedBook.CREDITS: acc.platform(Book.CREDITS_ISSUED),
}
_MONEY_BOOKS = (Book.EARNED_PENDING, Book.AVAILABLE, Book.PAYOUTS)


@dataclass(frozen=True, slots=True)
class AdjustmentRequest:
    adjustment_id: str
    partner_id: str
    book: AdjustedBook
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True)
class Adjustment:
    adjustment_id: str
    transfer_id: str
    partner_id: str
    book: AdjustedBook
    amount: int
    currency: str
    reason: str
    posted_at: datetime


def adjust(
    store: AdminStore,
    ledger: LedgerStore,
    call: AdminCall,
    request: AdjustmentRequest,
    *,
    amount_abs_max: int,
) -> tuple[Adjustment, bool]:
    """Post the adjustment (or find it posted): ``(adjustment, created)``."""
    must_get(store, Partner, request.partner_id, "partner")
    _check(request, amount_abs_max)
    transfer = _transfer(request, to_ms(call.now))
    stored, created = ledger.get_transfer(transfer.id), False
    if stored is None:
        stored, created = _post(ledger, transfer, request)
    if not _same(stored.transfer, transfer):
        raise Conflict(
            "adjustment_conflict", f"adjustment {request.adjustment_id} was posted with other fields"
        )
    adjustment = _adjustment(request.adjustment_id, stored)
    if created:
        changes = {
            "partner_id": request.partner_id,
            "book": request.book,
            "amount": request.amount,
            "currency": request.currency,
            "reason": request.reason,
            "transfer_id": transfer.id,
        }
        record(store, call, "ledger.adjust", f"ADJUSTMENT#{request.adjustment_id}", changes)
    return adjustment, created


def find_adjustment(ledger: LedgerStore, adjustment_id: str) -> Adjustment:
    stored = ledger.get_transfer(transfer_id(adjustment_id, PURPOSE))
    if stored is None or stored.transfer.kind is not TransferKind.ADJUSTMENT:
        raise NotFound("adjustment")
    return _adjustment(adjustment_id, stored)


def _check(request: AdjustmentRequest, amount_abs_max: int) -> None:
    if request.amount == 0 or abs(request.amount) > amount_abs_max:
        raise Invalid("amount", f"a non-zero amount of at most {amount_abs_max} either way")
    if (request.book is AdjustedBook.CREDITS) != (request.currency == CREDITS):
        raise Invalid("currency", f"the credits book is in {CREDITS}; money books are not")


def _transfer(request: AdjustmentRequest, at_ms: int) -> Transfer:
    partner_account = acc.partner(request.partner_id, Book(request.book.value))
    legs = (Leg(partner_account, -request.amount), Leg(_COUNTER[request.book], request.amount))
    tid = transfer_id(request.adjustment_id, PURPOSE)
    return Transfer(tid, TransferKind.ADJUSTMENT, request.currency, legs, request.reason, at_ms)


def _post(ledger: LedgerStore, transfer: Transfer, request: AdjustmentRequest) -> tuple[StoredTransfer, bool]:
    """Post it: ``(stored, True)``; posted a moment ago by a concurrent retry: ``(stored, False)``."""
    for attempt in range(2):
        try:
            result = ledger.post(transfer)
            return result.stored, not result.already
        except TransferConflict:  # a concurrent retry posted it a moment ago (another at_ms)
            stored = ledger.get_transfer(transfer.id)
            if stored is None:
                raise
            return stored, False
        except AccountNotFound:
            if attempt:
                raise
            _open_books(ledger, request)
        except CurrencyMismatch:
            raise Invalid("currency", "the partner's books are in another currency") from None
        except InsufficientFunds:
            raise Conflict("insufficient_funds", f"the partner's {request.book} balance is too low") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _open_books(ledger: LedgerStore, request: AdjustmentRequest) -> None:
    """The partner's books in the adjustment's currency, and the platform's counter-account."""
    try:
        if request.book is AdjustedBook.CREDITS:
            ledger.open_account(AccountSpec(acc.partner(request.partner_id, Book.CREDITS), CREDITS))
        else:
            for book in _MONEY_BOOKS:
                ledger.open_account(AccountSpec(acc.partner(request.partner_id, book), request.currency))
        open_platform(ledger, CREDITS if request.book is AdjustedBook.CREDITS else request.currency)
    except AccountConflict:
        raise Invalid("currency", "the partner's books are in another currency") from None


def _same(stored: Transfer, wanted: Transfer) -> bool:
    """The same adjustment, whenever it was posted."""
    return (stored.kind, stored.currency, stored.ref, legs_fingerprint(stored.legs)) == (
        wanted.kind,
        wanted.currency,
        wanted.ref,
        legs_fingerprint(wanted.legs),
    )


def _adjustment(adjustment_id: str, stored: StoredTransfer) -> Adjustment:
    transfer = stored.transfer
    leg = next(leg for leg in transfer.legs if leg.account.scope is Scope.PARTNER)
    return Adjustment(
        adjustment_id=adjustment_id,
        transfer_id=transfer.id,
        partner_id=leg.account.owner,
        book=AdjustedBook(leg.account.book.value),
        amount=-leg.amount,
        currency=transfer.currency,
        reason=transfer.ref,
        posted_at=from_ms(transfer.at_ms),
    )
