"""Billing and credit services over the in-memory ledger: what each business event posts."""

from __future__ import annotations

import pytest

from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.domain import accounts as acc
from smsbilling.domain import postings
from smsbilling.domain.accounts import Book
from smsbilling.domain.ledger import InsufficientFunds, TransferKind, TransferState
from smsbilling.domain.rating import PeriodTally, PeriodTraffic, RatedMessage, ServiceRef
from smsbilling.domain.tariff import PlanBook
from smsbilling.logic.billing import BillingService
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.reconcile import reconcile
from smsbilling.settings import LedgerLimits
from tests.contract.helpers import (
    CONSUMED,
    RECEIVABLE,
    REFERRAL,
    REVENUE,
    VAT,
    available,
    credits,
    earned,
    open_world,
)
from tests.unit.billing.plans import NUMBER, OP, RUB, plan

SERVICE = ServiceRef("svc", "p1", referrer_id="p2")


@pytest.fixture
def store() -> MemoryLedgerStore:
    s = MemoryLedgerStore()
    open_world(s, slots=2)
    return s


@pytest.fixture
def billing(store: MemoryLedgerStore) -> BillingService:
    return BillingService(store, PlanBook([plan()]))


def shown(store: MemoryLedgerStore, account: acc.Account) -> int:
    return store.balance(account).posted


def mo(i: int) -> RatedMessage:
    return RatedMessage(f"m{i}", OP, NUMBER, at_ms=10 + i)


def test_mo_charge_posts_the_split(store: MemoryLedgerStore, billing: BillingService) -> None:
    charged = billing.charge(mo(1), SERVICE, PeriodTraffic())
    assert charged.result is not None and charged.result.stored.transfer.kind is TransferKind.MO_CHARGE
    # receivable = vat + gross = 5000 + 13750; the operator's 11250 never reaches us
    assert shown(store, RECEIVABLE) == 18_750
    assert (shown(store, VAT), shown(store, REVENUE), shown(store, earned("p1"))) == (5_000, 5_500, 8_250)
    assert (shown(store, REFERRAL), shown(store, earned("p2"))) == (825, 825)
    again = billing.charge(mo(1), SERVICE, PeriodTraffic())  # redelivered message
    assert again.result is not None and again.result.already
    assert shown(store, earned("p1")) == 8_250
    assert reconcile(store).ok


def test_mt_billing_is_pending_until_the_dlr(store: MemoryLedgerStore, billing: BillingService) -> None:
    billing.charge(mo(1), SERVICE, PeriodTraffic(), mt_billing=True)
    billing.charge(mo(2), SERVICE, PeriodTraffic(), mt_billing=True)
    assert shown(store, earned("p1")) == 0
    assert store.balance(earned("p1")).pending == -2 * 8_250
    assert billing.confirm_mt("m1").stored.state is TransferState.POSTED
    assert billing.cancel_mt("m2").stored.state is TransferState.VOIDED
    assert billing.confirm_mt("m1").already  # duplicated DLR
    assert (shown(store, earned("p1")), store.balance(earned("p1")).pending) == (8_250, 0)
    assert reconcile(store).ok


def test_close_period_posts_one_recount(store: MemoryLedgerStore, billing: BillingService) -> None:
    tally = PeriodTally(RUB)
    for i in range(4):  # steps 0, 0, 1, 1 (see test_billing_rating)
        charged = billing.charge(mo(i), SERVICE, tally.traffic())
        tally = tally.add(charged.split)
    assert shown(store, earned("p1")) == 35_750
    closed = billing.close_period(SERVICE, "2026-11", tally, at_ms=99)
    assert closed.result is not None and not closed.result.already
    assert (closed.recount.partner_delta, closed.recount.referral_delta) == (2_750, 276)
    assert shown(store, earned("p1")) == 4 * 9_625  # as if 30 % applied from the start
    assert shown(store, earned("p2")) == 4 * 963
    assert shown(store, REVENUE) == 4 * 4_125
    rerun = billing.close_period(SERVICE, "2026-11", tally, at_ms=99)
    assert rerun.result is not None and rerun.result.already
    assert reconcile(store).ok


def test_settlement_and_two_phase_payout(store: MemoryLedgerStore, billing: BillingService) -> None:
    billing.charge(mo(1), SERVICE, PeriodTraffic())
    settle = postings.settlement("p1", "2026-11", RUB, 8_250, at_ms=50)
    assert settle is not None
    store.post(settle)
    payout = postings.payout("p1", "payout-1", RUB, 8_000, at_ms=60)
    assert payout is not None
    store.post(payout)
    assert store.balance(available("p1")).headroom == 250  # 8000 held for the payout
    too_much = postings.payout("p1", "payout-2", RUB, 251, at_ms=61)
    assert too_much is not None
    with pytest.raises(InsufficientFunds):
        store.post(too_much)
    store.post_pending(payout.id)
    assert (shown(store, available("p1")), shown(store, acc.partner("p1", Book.PAYOUTS))) == (250, 8_000)
    assert reconcile(store).ok


def test_outgoing_sms_cost_in_money(store: MemoryLedgerStore) -> None:
    cost = plan().outgoing_cost(OP, "direct", 3)  # 3 * 0.35 = 1.05 RUB
    transfer = postings.sms_cost(OP, "mt-1", cost.currency, cost.amount, at_ms=1)
    assert transfer is not None
    store.post(transfer)
    assert shown(store, acc.platform(Book.SMS_COST)) == 105
    assert shown(store, acc.operator(OP, Book.PAYABLE)) == 105


def test_credit_blocks_refill_and_refuse(store: MemoryLedgerStore) -> None:
    spender = CreditSpender(store, LedgerLimits(credit_block_size_credits=10, credit_block_slots_max=2))
    spender.top_up("p1", "pay-1", 25, at_ms=1)
    for i in range(25):
        spender.charge_sms("p1", i % 2, f"sms-{i}", 1, at_ms=2)
    # main gave 10 to slot 0, 10 to slot 1, then the last 5 to slot 0: everything was spent
    assert (shown(store, credits("p1")), shown(store, CONSUMED)) == (0, 25)
    with pytest.raises(InsufficientFunds):
        spender.charge_sms("p1", 1, "sms-x", 1, at_ms=3)
    assert spender.charge_sms("p1", 0, "sms-0", 1, at_ms=2).already  # a retry of a sent SMS
    with pytest.raises(ValueError):
        spender.charge_sms("p1", 2, "sms-y", 1, at_ms=3)
    assert reconcile(store).ok


def test_credit_release_returns_leftovers(store: MemoryLedgerStore) -> None:
    spender = CreditSpender(store, LedgerLimits(credit_block_size_credits=10, credit_block_slots_max=2))
    spender.top_up("p1", "pay-1", 30, at_ms=1)
    spender.charge_sms("p1", 0, "sms-1", 3, at_ms=2)
    assert (shown(store, credits("p1")), shown(store, acc.credit_block("p1", 0))) == (20, 7)
    assert spender.spendable("p1", 2) == 27
    spender.release("p1", 0, "idle-1", at_ms=3)
    assert (shown(store, credits("p1")), shown(store, acc.credit_block("p1", 0))) == (27, 0)
    assert spender.release("p1", 0, "idle-2", at_ms=4) is None  # nothing left to release


def test_credit_limit_lets_a_trusted_partner_go_negative() -> None:
    store = MemoryLedgerStore()
    open_world(store, credit_limit=5, slots=1)
    spender = CreditSpender(store, LedgerLimits(credit_block_size_credits=3, credit_block_slots_max=1))
    for i in range(5):
        spender.charge_sms("p1", 0, f"sms-{i}", 1, at_ms=1)
    with pytest.raises(InsufficientFunds):
        spender.charge_sms("p1", 0, "sms-5", 1, at_ms=1)
    assert shown(store, credits("p1")) == -5


def test_reconcile_reports_a_tampered_balance(store: MemoryLedgerStore, billing: BillingService) -> None:
    billing.charge(mo(1), SERVICE, PeriodTraffic())
    store._rows[earned("p1")].net -= 1  # simulate a lost or double write
    report = reconcile(store)
    assert not report.ok
    fields = {(d.account, d.field) for d in report.discrepancies}
    assert (earned("p1"), "net") in fields
    assert (None, "RUB net total") in fields
