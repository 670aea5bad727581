"""A partner's statement: the ledger transfers that touched its accounts, as the partner may see them.

Pure. A transfer is listed for every partner that owns one of its legs (:func:`partners_of`), and
shown to that partner with **only its own legs** (:func:`statement_line`): the operator's, the
platform's and a referrer's legs of the same transfer stay hidden.

Amounts are as the partner's balances show them (``Balance.posted``'s sign: positive raises the
partner's balance, e.g. income on ``earned_pending`` or credits bought), per state:

* ``posted``: ``amount`` is what was posted (a partial post: less than was held), ``pending`` 0;
* ``pending``: ``amount`` 0, ``pending`` the held change (an MT charge waiting for its DLR);
* ``voided``: both 0 (it never moved anything).
"""

from __future__ import annotations

from dataclasses import dataclass

from smsbilling.domain.accounts import Book, Scope
from smsbilling.domain.ledger import StoredTransfer, Transfer, TransferKind, TransferState


def partners_of(transfer: Transfer) -> frozenset[str]:
    """Every partner owning a leg of ``transfer``."""
    return frozenset(leg.account.owner for leg in transfer.legs if leg.account.scope is Scope.PARTNER)


@dataclass(frozen=True, slots=True)
class StatementEntry:
    book: Book
    sub: str
    """The credit block's slot (``credit_block``); empty for the other books."""
    amount: int
    pending: int


@dataclass(frozen=True, slots=True)
class StatementLine:
    transfer_id: str
    kind: TransferKind
    state: TransferState
    currency: str
    at_ms: int
    ref: str
    entries: tuple[StatementEntry, ...]


def statement_line(stored: StoredTransfer, partner_id: str) -> StatementLine | None:
    """The transfer as ``partner_id``'s statement shows it; None if no leg is the partner's."""
    transfer = stored.transfer
    mine = [
        leg for leg in transfer.legs if leg.account.scope is Scope.PARTNER and leg.account.owner == partner_id
    ]
    if not mine:
        return None
    final = {leg.account: leg.amount for leg in stored.final_legs or ()}
    entries = []
    for leg in mine:
        sign = leg.account.policy.normal.value
        posted = sign * final.get(leg.account, 0) if stored.state is TransferState.POSTED else 0
        held = sign * leg.amount if stored.state is TransferState.PENDING else 0
        entries.append(StatementEntry(leg.account.book, leg.account.sub, posted, held))
    entries.sort(key=lambda entry: (entry.book.value, entry.sub))
    return StatementLine(
        transfer.id,
        transfer.kind,
        stored.state,
        transfer.currency,
        transfer.at_ms,
        transfer.ref,
        tuple(entries),
    )
