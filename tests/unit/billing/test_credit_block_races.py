"""Two requests refilling the same credit block at once both get their credits.

A partner's credit blocks are refilled from its main balance by a read and a conditional write. When
two requests short of credits on one block interleave, the one whose write loses (the main balance
was taken since its read) must still find the credits the winner moved into that block: the
partner has them. Before this was so, the loser tried only the *other* blocks and was refused with
402 while its own block held the credits (seen on the deployed stack: a burst of POST /v1/sms).
The interleaving is forced: the ledger lets the other request run to its end just before the
loser's refill is written.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.ledger import PostResult, Transfer, TransferKind, TransferState
from smsbilling.logic.api_send import CreditReservations
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_partner, open_platform
from smsbilling.settings import LedgerLimits

LIMITS = LedgerLimits(credit_block_size_credits=100, credit_block_slots_max=4)
CREDITS = 40  # less than a block: the first refill takes all of the main balance


class RefillRace(MemoryLedgerStore):
    """Runs ``other`` to its end just before the first block refill is written."""

    def __init__(self) -> None:
        super().__init__(LIMITS)
        self.other: Callable[[], None] | None = None

    def post(self, transfer: Transfer) -> PostResult:
        other, self.other = self.other, None
        if other is not None and transfer.kind is TransferKind.CREDIT_BLOCK_RESERVE:
            other()
        elif other is not None:
            self.other = other
        return super().post(transfer)


@pytest.fixture
def ledger() -> RefillRace:
    store = RefillRace()
    open_platform(store, "GBP")
    open_partner(store, "p1", "GBP", block_slots=4)
    CreditSpender(store, LIMITS).top_up("p1", "pay-1", CREDITS, at_ms=1)
    return store


def _spendable(store: MemoryLedgerStore) -> int:
    accounts = [acc.partner("p1", Book.CREDITS)] + [acc.credit_block("p1", s) for s in range(4)]
    return sum(store.balance(account).headroom for account in accounts)


@pytest.mark.parametrize("other_slot", [2, 3], ids=["same block", "another block"])
def test_a_reservation_whose_refill_lost_the_race_holds_the_winners_credits(
    ledger: RefillRace, other_slot: int
) -> None:
    def reservations() -> CreditReservations:
        return CreditReservations(ledger, "p1", slots=4, block=LIMITS)

    ledger.other = lambda: reservations().reserve("m-a", 1, slot=other_slot, at_ms=2, refill=1, replay=False)
    reservations().reserve("m-b", 1, slot=2, at_ms=2, refill=1, replay=False)

    pending = {t.transfer.id for t in ledger.journal() if t.state is TransferState.PENDING}
    assert len(pending) == 2  # both messages hold their credit
    assert _spendable(ledger) == CREDITS - 2


@pytest.mark.parametrize("other_slot", [2, 3], ids=["same block", "another block"])
def test_a_charge_whose_refill_lost_the_race_spends_the_winners_credits(
    ledger: RefillRace, other_slot: int
) -> None:
    spender = CreditSpender(ledger, LIMITS)

    def other() -> None:
        spender.charge_sms("p1", other_slot, "m-a", 1, at_ms=2)

    ledger.other = other
    spender.charge_sms("p1", 2, "m-b", 1, at_ms=2)

    consumed = [t for t in ledger.journal() if t.transfer.kind is TransferKind.SMS_CREDITS]
    assert len(consumed) == 2
    assert _spendable(ledger) == CREDITS - 2
