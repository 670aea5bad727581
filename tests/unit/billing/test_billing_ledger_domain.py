"""Transfers, account ids, effects and replay (pure)."""

from __future__ import annotations

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import AccountIdError, AccountSpec, Book, parse_account
from smsbilling.domain.ledger import (
    InvalidTransfer,
    Leg,
    StoredTransfer,
    TransferState,
    effects_create,
    effects_post,
    effects_void,
    replay,
    transfer_id,
)
from smsbilling.domain.money import CREDITS
from tests.contract.helpers import CONSUMED, RECEIVABLE, REVENUE, credits, earned, spend, xfer


def test_transfer_id_is_derived_from_business_key_and_purpose() -> None:
    a = transfer_id("msg-1", "mo_charge")
    assert a == transfer_id("msg-1", "mo_charge")
    assert a.startswith("mo_charge.") and len(a) == len("mo_charge.") + 32
    assert a != transfer_id("msg-1", "mt_charge")
    assert a != transfer_id("msg-2", "mo_charge")
    with pytest.raises(InvalidTransfer):
        transfer_id("msg-1", "Bad Purpose")
    with pytest.raises(InvalidTransfer):
        transfer_id("", "mo_charge")


@pytest.mark.parametrize(
    "pairs",
    [
        [(RECEIVABLE, 5)],  # one leg
        [(RECEIVABLE, 5), (REVENUE, -4)],  # does not balance
        [(RECEIVABLE, 5), (REVENUE, 0), (earned("p1"), -5)],  # zero leg
        [(REVENUE, 5), (REVENUE, -5)],  # same account twice
    ],
)
def test_malformed_transfers_are_refused(pairs: list[tuple[acc.Account, int]]) -> None:
    with pytest.raises(InvalidTransfer):
        xfer("t", *pairs)


def test_books_hold_only_their_kind_of_currency() -> None:
    with pytest.raises(InvalidTransfer):
        xfer("t", (credits("p1"), 5), (CONSUMED, -5))  # credits books in RUB
    with pytest.raises(InvalidTransfer):
        xfer("t", (RECEIVABLE, 5), (REVENUE, -5), currency=CREDITS)
    with pytest.raises(AccountIdError):
        AccountSpec(earned("p1"), CREDITS)
    with pytest.raises(AccountIdError):
        AccountSpec(earned("p1"), "RUB", overdraft_max=5)  # unconstrained books have no limit


def test_fingerprint_covers_every_field() -> None:
    base = xfer("t", (RECEIVABLE, 5), (REVENUE, -5))
    assert base.fingerprint() == xfer("t", (REVENUE, -5), (RECEIVABLE, 5)).fingerprint()  # leg order
    for other in (
        xfer("t", (RECEIVABLE, 6), (REVENUE, -6)),
        xfer("t", (RECEIVABLE, 5), (REVENUE, -5), at_ms=2),
        xfer("t", (RECEIVABLE, 5), (REVENUE, -5), pending=True),
        xfer("t", (RECEIVABLE, 5), (REVENUE, -5), currency="EUR"),
    ):
        assert other.fingerprint() != base.fingerprint()


def test_account_ids_round_trip() -> None:
    for account in (earned("p-1"), REVENUE, RECEIVABLE, acc.credit_block("p1", 3)):
        assert parse_account(account.key) == account
    assert earned("p-1").key == "partner/p-1/earned_pending"
    for bad in ("partner/p1", "nope/p1/revenue", "partner/p1/revenue", "partner/a/b/c/d"):
        with pytest.raises(AccountIdError):
            parse_account(bad)
    with pytest.raises(AccountIdError):
        earned("a/b")


def test_effects_of_the_two_phases() -> None:
    # credits are credit-normal and constrained: a debit of 7 lowers the shown balance by 7
    pending = spend("r", "p1", 7, pending=True)
    [held, consumed] = effects_create(pending)
    assert (held.net, held.pending, held.headroom, held.need) == (0, 7, -7, 7)
    assert (consumed.net, consumed.pending, consumed.headroom, consumed.need) == (0, -7, 0, 0)
    [post_held, _] = effects_post(pending, [Leg(credits("p1"), 5), Leg(CONSUMED, -5)])
    assert (post_held.net, post_held.pending, post_held.headroom) == (5, -7, 2)  # 2 released
    [void_held, _] = effects_void(pending)
    assert (void_held.pending, void_held.headroom) == (-7, 7)


def test_replay_folds_posted_and_pending_only() -> None:
    journal = [
        StoredTransfer(xfer("a", (RECEIVABLE, 5), (REVENUE, -5)), TransferState.POSTED, None),
        StoredTransfer(xfer("b", (RECEIVABLE, 3), (REVENUE, -3), pending=True), TransferState.PENDING),
        StoredTransfer(xfer("c", (RECEIVABLE, 9), (REVENUE, -9), pending=True), TransferState.VOIDED),
        StoredTransfer(
            xfer("d", (RECEIVABLE, 4), (REVENUE, -4), pending=True),
            TransferState.POSTED,
            (Leg(RECEIVABLE, 2), Leg(REVENUE, -2)),
        ),
    ]
    balances = replay(journal)
    assert (balances[RECEIVABLE].net, balances[RECEIVABLE].pending) == (7, 3)
    assert (balances[REVENUE].net, balances[REVENUE].pending) == (-7, -3)
    assert balances[REVENUE].pending_decrease == 0  # revenue is credit-normal: a credit is an increase
    assert balances[RECEIVABLE].pending_decrease == 0  # receivable is debit-normal: a debit is an increase


def test_credit_block_accounts() -> None:
    block = acc.credit_block("p1", 2)
    assert block.book is Book.CREDIT_BLOCK and block.policy.constrained and block.policy.credits
