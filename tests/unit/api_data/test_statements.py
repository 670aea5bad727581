"""Balance and statement logic (logic/statements.py, domain/statements.py) over the memory ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.domain import accounts as acc
from smsbilling.domain import postings
from smsbilling.domain.accounts import Book
from smsbilling.domain.cursors import CursorError
from smsbilling.domain.ledger import TransferKind, TransferState
from smsbilling.domain.money import CREDITS
from smsbilling.domain.statements import StatementEntry, partners_of, statement_line
from smsbilling.logic.ledger_setup import open_partner
from smsbilling.logic.statements import CreditBalance, MoneyBalance, partner_balance, statement

from .world import GBP, SHARE, T0, World

KEY = b"statement-test-key-0123456789"
T0_MS = int(T0.timestamp() * 1000)


def _charge(world: World, message: str, partner_service: str = "ABC") -> str:
    return world.mo(f"{partner_service} {message}", at=T0).message_id


def test_a_referred_partners_charge_shows_each_partner_only_its_own_leg(world: World) -> None:
    mo_id = _charge(world, "1", "XYZ")  # p2's service; p2 was referred by p3
    [stored] = [s for s in world.ledger.journal() if s.transfer.ref == mo_id]
    assert partners_of(stored.transfer) == {"p2", "p3"}
    p2, p3 = statement_line(stored, "p2"), statement_line(stored, "p3")
    assert p2 is not None and p3 is not None and statement_line(stored, "p1") is None
    assert p2.entries == (StatementEntry(Book.EARNED_PENDING, "", SHARE, 0),)
    assert p3.entries == (StatementEntry(Book.EARNED_PENDING, "", 5, 0),)  # 10 % of 53, rounded
    assert p2.kind is TransferKind.MO_CHARGE and p2.state is TransferState.POSTED and p2.ref == mo_id


def test_pending_and_voided_transfers_move_nothing_yet(world: World) -> None:
    world.mt("waiting", at=T0, billed=True, final=None)
    world.mt("lost", at=T0, billed=True, final=None)
    world.charger.cancel_mt("lost", "p1")
    by_ref = {s.transfer.ref: s for s in world.ledger.journal()}
    waiting, lost = statement_line(by_ref["waiting"], "p1"), statement_line(by_ref["lost"], "p1")
    assert waiting is not None and waiting.entries == (StatementEntry(Book.EARNED_PENDING, "", 0, SHARE),)
    assert lost is not None and lost.state is TransferState.VOIDED
    assert lost.entries == (StatementEntry(Book.EARNED_PENDING, "", 0, 0),)


def test_the_balance_shows_money_and_credits_as_the_partner_sees_them(world: World) -> None:
    ledger = world.ledger
    _charge(world, "1")
    world.mt("waiting", at=T0, billed=True, final=None)
    ledger.post(postings.settlement("p1", "2026-10", GBP, 20, T0_MS))  # type: ignore[arg-type]
    ledger.post(postings.payout("p1", "payout-1", GBP, 15, T0_MS))  # type: ignore[arg-type]
    ledger.post(postings.credit_topup("p1", "pay-1", 500, T0_MS))  # type: ignore[arg-type]
    ledger.post(postings.block_reserve("p1", 0, "r1", 100, T0_MS))  # type: ignore[arg-type]
    held = postings.sms_credits("p1", 0, "sms-1", 3, T0_MS)
    assert held is not None
    ledger.post(replace(held, pending=True))  # an MT from credits on its way
    balance = partner_balance(ledger, "p1", block_slots_max=2)
    assert balance.money == MoneyBalance(
        currency=GBP,
        earned=SHARE - 20,
        earned_awaiting_delivery=SHARE,
        available=20,
        payouts_in_progress=15,
        paid_out=0,
    )
    assert balance.credits == CreditBalance(balance=500, reserved=3, credit_limit=0, spendable=497)


def test_a_partner_without_accounts_has_no_balances_not_zero_ones() -> None:
    ledger = MemoryLedgerStore()
    assert partner_balance(ledger, "nobody", block_slots_max=2).money is None
    open_partner(ledger, "p9", GBP, credit_limit=50)
    balance = partner_balance(ledger, "p9", block_slots_max=2)
    assert balance.credits == CreditBalance(balance=0, reserved=0, credit_limit=50, spendable=50)
    assert ledger.balance(acc.partner("p9", Book.CREDITS)).currency == CREDITS


def test_the_statement_pages_newest_first_within_the_dates(world: World) -> None:
    ids = [world.mo(f"ABC {i}", at=T0 + timedelta(minutes=i)).message_id for i in range(5)]
    world.mo("XYZ other partner", at=T0)
    seen: list[str] = []
    cursor = None
    while True:
        page = statement(world.ledger, "p1", since=None, until=None, cursor=cursor, limit=2, cursor_key=KEY)
        assert len(page.lines) <= 2
        seen += [line.ref for line in page.lines]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids[::-1]
    window = statement(
        world.ledger,
        "p1",
        since=T0 + timedelta(minutes=1),
        until=T0 + timedelta(minutes=3),
        cursor=None,
        limit=10,
        cursor_key=KEY,
    )
    assert [line.ref for line in window.lines] == [ids[2], ids[1]] and window.next_cursor is None


def test_a_statement_cursor_only_works_for_its_partner_and_dates(world: World) -> None:
    for i in range(3):
        world.mo(f"ABC {i}", at=T0 + timedelta(minutes=i))
    page = statement(world.ledger, "p1", since=None, until=None, cursor=None, limit=1, cursor_key=KEY)
    assert page.next_cursor is not None
    for partner, since in (("p2", None), ("p1", T0)):
        with pytest.raises(CursorError):
            statement(
                world.ledger,
                partner,
                since=since,
                until=None,
                cursor=page.next_cursor,
                limit=1,
                cursor_key=KEY,
            )
