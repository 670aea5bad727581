"""The chart of accounts: who owns an account, which book it is, and the rules of that book.

An account is ``scope/owner/book[/sub]``, e.g. ``partner/p-42/earned_pending``,
``platform/-/revenue``, ``operator/mts/receivable``, ``partner/p-42/credit_block/3``. The book fixes
the policy of every account in it (so a writer never needs to read an account to know how to
update it):

* ``normal``: the side on which the account's balance is shown as positive (debit for assets and
  expenses, credit for liabilities and income). Stored balances are always *net debit*
  (debits minus credits); ``displayed = normal_sign * net``.
* ``constrained``: the displayed balance, less pending decreases, may never go below
  ``-overdraft_max`` (0 for prepaid balances, the credit limit for accounts with one). The store
  enforces it with a *headroom* counter in the same conditional write as the change.
* ``sharded``: the account is spread over N balance items (hot-account strategy, see
  ``docs/billing.md``); only unconstrained books can be sharded, because a floor needs one item.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

from smsbilling.domain.money import CREDITS, check_currency


class Side(Enum):
    DEBIT = 1
    CREDIT = -1


class Scope(StrEnum):
    PARTNER = "partner"
    PLATFORM = "platform"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class BookPolicy:
    scope: Scope
    normal: Side
    constrained: bool
    sharded: bool
    credits: bool
    """True when the book holds :data:`~smsbilling.domain.money.CREDITS`, not money."""


class Book(StrEnum):
    # partner, money
    EARNED_PENDING = "earned_pending"
    AVAILABLE = "available"
    PAYOUTS = "payouts"
    # partner, credits
    CREDITS = "credits"
    CREDIT_BLOCK = "credit_block"
    # platform, money
    REVENUE = "revenue"
    VAT_PAYABLE = "vat_payable"
    REFERRAL_EXPENSE = "referral_expense"
    SMS_COST = "sms_cost"
    CASH = "cash"
    # platform, credits
    CREDITS_ISSUED = "credits_issued"
    CREDITS_CONSUMED = "credits_consumed"
    # operator, money
    RECEIVABLE = "receivable"
    PAYABLE = "payable"


_D, _C = Side.DEBIT, Side.CREDIT
POLICIES: Final[dict[Book, BookPolicy]] = {
    Book.EARNED_PENDING: BookPolicy(Scope.PARTNER, _C, constrained=False, sharded=True, credits=False),
    Book.AVAILABLE: BookPolicy(Scope.PARTNER, _C, constrained=True, sharded=False, credits=False),
    Book.PAYOUTS: BookPolicy(Scope.PARTNER, _C, constrained=False, sharded=False, credits=False),
    Book.CREDITS: BookPolicy(Scope.PARTNER, _C, constrained=True, sharded=False, credits=True),
    Book.CREDIT_BLOCK: BookPolicy(Scope.PARTNER, _C, constrained=True, sharded=False, credits=True),
    Book.REVENUE: BookPolicy(Scope.PLATFORM, _C, constrained=False, sharded=True, credits=False),
    Book.VAT_PAYABLE: BookPolicy(Scope.PLATFORM, _C, constrained=False, sharded=True, credits=False),
    Book.REFERRAL_EXPENSE: BookPolicy(Scope.PLATFORM, _D, constrained=False, sharded=True, credits=False),
    Book.SMS_COST: BookPolicy(Scope.PLATFORM, _D, constrained=False, sharded=True, credits=False),
    Book.CASH: BookPolicy(Scope.PLATFORM, _D, constrained=False, sharded=False, credits=False),
    Book.CREDITS_ISSUED: BookPolicy(Scope.PLATFORM, _D, constrained=False, sharded=True, credits=True),
    Book.CREDITS_CONSUMED: BookPolicy(Scope.PLATFORM, _C, constrained=False, sharded=True, credits=True),
    Book.RECEIVABLE: BookPolicy(Scope.OPERATOR, _D, constrained=False, sharded=True, credits=False),
    Book.PAYABLE: BookPolicy(Scope.OPERATOR, _C, constrained=False, sharded=True, credits=False),
}

PLATFORM_OWNER: Final = "-"
_SEP: Final = "/"


class AccountIdError(ValueError):
    """A malformed account id."""


def _check_part(value: str, what: str) -> str:
    if not value or _SEP in value or "#" in value or not value.isprintable() or len(value) > 128:
        raise AccountIdError(f"bad {what}: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Account:
    """An account id. Build with :func:`partner`, :func:`platform`, :func:`operator`."""

    scope: Scope
    owner: str
    book: Book
    sub: str = ""

    def __post_init__(self) -> None:
        _check_part(self.owner, "owner")
        if self.sub:
            _check_part(self.sub, "sub-account")
        if POLICIES[self.book].scope is not self.scope:
            raise AccountIdError(f"book {self.book} does not belong to scope {self.scope}")

    @property
    def policy(self) -> BookPolicy:
        return POLICIES[self.book]

    @property
    def key(self) -> str:
        base = f"{self.scope}{_SEP}{self.owner}{_SEP}{self.book}"
        return f"{base}{_SEP}{self.sub}" if self.sub else base

    def __str__(self) -> str:
        return self.key

    def currency_ok(self, currency: str) -> bool:
        """Credits books hold only credits; money books anything else."""
        return self.policy.credits == (currency == CREDITS)


def parse_account(key: str) -> Account:
    parts = key.split(_SEP)
    if len(parts) not in (3, 4):
        raise AccountIdError(f"bad account id: {key!r}")
    try:
        scope, book = Scope(parts[0]), Book(parts[2])
    except ValueError as exc:
        raise AccountIdError(f"bad account id: {key!r}") from exc
    return Account(scope, parts[1], book, parts[3] if len(parts) == 4 else "")


def partner(partner_id: str, book: Book, sub: str = "") -> Account:
    return Account(Scope.PARTNER, partner_id, book, sub)


def platform(book: Book) -> Account:
    return Account(Scope.PLATFORM, PLATFORM_OWNER, book)


def operator(operator_id: str, book: Book) -> Account:
    return Account(Scope.OPERATOR, operator_id, book)


def credit_block(partner_id: str, slot: int) -> Account:
    """One block of reserved credits (see :mod:`smsbilling.logic.credits`)."""
    return Account(Scope.PARTNER, partner_id, Book.CREDIT_BLOCK, str(slot))


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What opening an account fixes: its currency and, for constrained books, the overdraft limit."""

    account: Account
    currency: str
    overdraft_max: int = 0

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if type(self.overdraft_max) is not int or self.overdraft_max < 0:
            raise AccountIdError(f"overdraft_max must be a non-negative int, got {self.overdraft_max!r}")
        if self.overdraft_max and not self.account.policy.constrained:
            raise AccountIdError(f"{self.account} is unconstrained; it has no overdraft limit")
        if not self.account.currency_ok(self.currency):
            raise AccountIdError(f"{self.account} cannot hold {self.currency}")
