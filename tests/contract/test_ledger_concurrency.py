"""No overdraft and no double post under real threads, on every store (DynamoDB Local included)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.ledger import InsufficientFunds, LedgerBusy
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.reconcile import reconcile
from smsbilling.ports import LedgerStore
from smsbilling.settings import LedgerLimits
from tests.contract.helpers import CONSUMED, RECEIVABLE, credits, earned, open_world, spend, topup, xfer

THREADS = 8


def test_concurrent_reservations_never_overdraw(ledger_store: LedgerStore) -> None:
    open_world(ledger_store, slots=0)
    ledger_store.post(topup("top", "p1", 100))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(w: int) -> None:
        for i in range(6):
            try:
                ledger_store.post(spend(f"r-{w}-{i}", "p1", 7, pending=True))
                outcome = "reserved"
            except InsufficientFunds:
                outcome = "insufficient"
            except LedgerBusy:
                outcome = "busy"
            with lock:
                outcomes[outcome] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    print("outcomes", dict(outcomes))
    balance = ledger_store.balance(credits("p1"))
    assert outcomes["reserved"] * 7 <= 100
    assert outcomes["reserved"] == 14  # 48 attempts for 14 slots of 7: every slot is taken once
    assert balance.headroom == 100 - 7 * outcomes["reserved"] >= 0
    assert balance.posted == 100  # held, not moved
    assert reconcile(ledger_store).ok


def test_concurrent_duplicates_post_once(ledger_store: LedgerStore) -> None:
    open_world(ledger_store, slots=0)
    transfers = [xfer(f"m{i}", (RECEIVABLE, 10), (earned("p1"), -10)) for i in range(12)]
    fresh: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(w: int) -> None:
        for transfer in transfers[w % 3 :] + transfers[: w % 3]:
            result = ledger_store.post(transfer)
            if not result.already:
                with lock:
                    fresh[transfer.id] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    assert fresh == Counter({t.id: 1 for t in transfers})
    assert ledger_store.balance(earned("p1")).posted == 120
    assert reconcile(ledger_store).ok


def test_credit_blocks_under_threads(ledger_store: LedgerStore) -> None:
    limits = LedgerLimits(credit_block_size_credits=20, credit_block_slots_max=4)
    open_world(ledger_store, slots=4)
    spender = CreditSpender(ledger_store, limits)
    spender.top_up("p1", "pay-1", 250, at_ms=1)
    sent: Counter[int] = Counter()

    def sender(slot: int) -> None:
        for i in range(200):
            try:
                spender.charge_sms("p1", slot, f"sms-{slot}-{i}", 1, at_ms=2)
            except InsufficientFunds:
                return
            sent[slot] += 1

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(sender, range(4)))
    total = sum(sent.values())
    left_in_blocks = sum(ledger_store.balance(acc.credit_block("p1", s)).posted for s in range(4))
    print("sent per slot", dict(sent), "left in blocks", left_in_blocks)
    assert ledger_store.balance(CONSUMED).posted == total
    assert total + left_in_blocks + ledger_store.balance(credits("p1")).posted == 250
    assert total >= 250 - 4 * 20  # at most one partly used block per slot is stranded
    for slot in range(4):
        spender.release("p1", slot, "end", at_ms=3)
    assert ledger_store.balance(credits("p1")).posted == 250 - total
    assert spender.spendable("p1", 4) == 250 - total
    assert reconcile(ledger_store).ok


@pytest.mark.parametrize("attempts", [3])
def test_concurrent_resolution_of_one_pending_transfer(ledger_store: LedgerStore, attempts: int) -> None:
    open_world(ledger_store, slots=0)
    ledger_store.post(topup("top", "p1", 10))
    ledger_store.post(spend("hold", "p1", 10, pending=True))
    results: list[str] = []
    lock = threading.Lock()

    def resolve(w: int) -> None:
        for _ in range(attempts):
            try:
                result = ledger_store.post_pending("hold") if w % 2 else ledger_store.void_pending("hold")
                outcome = f"{result.stored.state}:{'again' if result.already else 'first'}"
            except Exception as exc:  # any error is counted, and asserted below
                outcome = type(exc).__name__
            with lock:
                results.append(outcome)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(resolve, range(THREADS)))
    firsts = [r for r in results if r.endswith(":first")]
    assert len(firsts) == 1, results
    assert set(results) <= {firsts[0], firsts[0].replace("first", "again"), "TransferNotPending"}
    balance = ledger_store.balance(credits("p1"))
    assert balance.posted == (0 if firsts[0].startswith("posted") else 10)
    assert reconcile(ledger_store).ok
