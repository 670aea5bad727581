"""The LedgerStore contract: every store (memory fake, DynamoDB Local, later the local cloud) passes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import AccountSpec, Book
from smsbilling.domain.ledger import (
    AccountConflict,
    AccountNotFound,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidTransfer,
    Leg,
    PostResult,
    TransferConflict,
    TransferNotFound,
    TransferNotPending,
    TransferState,
)
from smsbilling.domain.money import CREDITS
from smsbilling.logic.reconcile import reconcile
from smsbilling.ports import LedgerStore
from tests.contract.helpers import (
    CASH,
    CONSUMED,
    ISSUED,
    RECEIVABLE,
    REVENUE,
    RUB,
    available,
    credits,
    earned,
    open_world,
    pay_in,
    spend,
    topup,
    xfer,
)


@pytest.fixture
def store(ledger_store: LedgerStore) -> LedgerStore:
    open_world(ledger_store)
    return ledger_store


def shown(store: LedgerStore, account: acc.Account) -> int:
    return store.balance(account).posted


def assert_reconciled(store: LedgerStore) -> None:
    report = reconcile(store)
    assert report.ok, report.discrepancies


# accounts


def test_open_is_idempotent_and_keeps_currency(store: LedgerStore) -> None:
    store.open_account(AccountSpec(earned("p1"), RUB))
    with pytest.raises(AccountConflict):
        store.open_account(AccountSpec(earned("p1"), "EUR"))
    assert store.balance(earned("p1")).currency == RUB


def test_unknown_account(store: LedgerStore) -> None:
    with pytest.raises(AccountNotFound):
        store.balance(earned("nobody"))
    with pytest.raises(AccountNotFound):
        store.post(xfer("t1", (RECEIVABLE, 5), (earned("nobody"), -5)))
    assert store.get_transfer("t1") is None
    assert shown(store, RECEIVABLE) == 0


def test_currency_mismatch_writes_nothing(store: LedgerStore) -> None:
    store.open_account(AccountSpec(acc.operator("eur-op", Book.RECEIVABLE), "EUR"))
    with pytest.raises(CurrencyMismatch):
        store.post(xfer("t1", (acc.operator("eur-op", Book.RECEIVABLE), 5), (REVENUE, -5)))
    assert store.get_transfer("t1") is None
    assert shown(store, REVENUE) == 0


# posting and idempotency


def test_post_moves_balances_and_records_the_transfer(store: LedgerStore) -> None:
    result = store.post(xfer("t1", (RECEIVABLE, 300), (REVENUE, -100), (earned("p1"), -200)))
    assert not result.already
    assert result.stored.state is TransferState.POSTED
    assert (shown(store, RECEIVABLE), shown(store, REVENUE), shown(store, earned("p1"))) == (300, 100, 200)
    stored = store.get_transfer("t1")
    assert stored is not None and stored.state is TransferState.POSTED
    assert stored.transfer == result.stored.transfer
    assert_reconciled(store)


def test_same_id_same_fields_is_already_posted(store: LedgerStore) -> None:
    transfer = xfer("t1", (RECEIVABLE, 300), (REVENUE, -300))
    first = store.post(transfer)
    again = store.post(transfer)
    assert again.already and not first.already
    assert again.stored.transfer == transfer
    assert shown(store, REVENUE) == 300


def test_same_id_other_fields_is_a_conflict(store: LedgerStore) -> None:
    store.post(xfer("t1", (RECEIVABLE, 300), (REVENUE, -300)))
    with pytest.raises(TransferConflict):
        store.post(xfer("t1", (RECEIVABLE, 301), (REVENUE, -301)))
    with pytest.raises(TransferConflict):
        store.post(xfer("t1", (RECEIVABLE, 300), (REVENUE, -300), at_ms=2))
    assert shown(store, REVENUE) == 300


def test_legs_over_the_limit_are_refused(store: LedgerStore) -> None:
    many = [(earned(f"x{i}"), -1) for i in range(20)]
    with pytest.raises(InvalidTransfer):
        store.post(xfer("t1", (RECEIVABLE, 20), *many))


# constrained balances


def test_prepaid_never_below_zero(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 10))
    store.post(spend("s1", "p1", 10))
    with pytest.raises(InsufficientFunds) as info:
        store.post(spend("s2", "p1", 1))
    assert info.value.account == credits("p1")
    assert store.get_transfer("s2") is None
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom) == (0, 0)
    assert shown(store, CONSUMED) == 10


def test_failed_leg_rolls_back_the_whole_transfer(store: LedgerStore) -> None:
    store.post(pay_in("in", "p1", 50))
    with pytest.raises(InsufficientFunds):
        store.post(xfer("t1", (available("p1"), 60), (available("p2"), 0 - 10), (CASH, -50)))
    assert (shown(store, available("p1")), shown(store, available("p2")), shown(store, CASH)) == (50, 0, 50)
    assert store.get_transfer("t1") is None


def test_credit_limit_allows_down_to_minus_limit(store: LedgerStore) -> None:
    store.set_overdraft_max(credits("p1"), 5)
    store.post(spend("s1", "p1", 5))
    assert shown(store, credits("p1")) == -5
    with pytest.raises(InsufficientFunds):
        store.post(spend("s2", "p1", 1))
    store.set_overdraft_max(credits("p1"), 8)
    store.post(spend("s3", "p1", 3))
    with pytest.raises(InsufficientFunds):  # already 8 used: cannot lower the limit under it
        store.set_overdraft_max(credits("p1"), 7)
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom, balance.overdraft_max) == (-8, 0, 8)
    assert_reconciled(store)


# two-phase


def test_pending_holds_then_posts(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 100))
    store.post(spend("r1", "p1", 60, pending=True))
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom) == (100, 40)  # held, not moved
    assert shown(store, CONSUMED) == 0
    with pytest.raises(InsufficientFunds):
        store.post(spend("r2", "p1", 41, pending=True))
    result = store.post_pending("r1")
    assert result.stored.state is TransferState.POSTED and not result.already
    assert store.post_pending("r1").already
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom, balance.pending) == (40, 40, 0)
    assert shown(store, CONSUMED) == 60
    with pytest.raises(TransferNotPending):
        store.void_pending("r1")
    assert_reconciled(store)


def test_void_releases_the_hold(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 100))
    store.post(spend("r1", "p1", 60, pending=True))
    assert store.void_pending("r1").stored.state is TransferState.VOIDED
    assert store.void_pending("r1").already
    with pytest.raises(TransferNotPending):
        store.post_pending("r1")
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom, balance.pending) == (100, 100, 0)
    assert_reconciled(store)


def test_partial_post_releases_the_rest(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 100))
    store.post(spend("r1", "p1", 60, pending=True))
    final = [Leg(credits("p1"), 45), Leg(CONSUMED, -45)]
    result = store.post_pending("r1", final)
    assert result.stored.final_legs is not None and set(result.stored.final_legs) == set(final)
    assert store.post_pending("r1", final).already
    with pytest.raises(TransferConflict):
        store.post_pending("r1", [Leg(credits("p1"), 44), Leg(CONSUMED, -44)])
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom) == (55, 55)
    assert shown(store, CONSUMED) == 45
    assert_reconciled(store)


def test_partial_post_cannot_exceed_the_hold(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 100))
    store.post(spend("r1", "p1", 60, pending=True))
    with pytest.raises(InvalidTransfer):
        store.post_pending("r1", [Leg(credits("p1"), 61), Leg(CONSUMED, -61)])
    assert store.balance(credits("p1")).headroom == 40


def test_post_or_void_of_unknown_or_direct_transfers(store: LedgerStore) -> None:
    with pytest.raises(TransferNotFound):
        store.post_pending("nope")
    with pytest.raises(TransferNotFound):
        store.void_pending("nope")
    store.post(topup("top", "p1", 5))
    with pytest.raises(TransferNotPending):
        store.post_pending("top")


def test_pending_increase_is_not_spendable_until_posted(store: LedgerStore) -> None:
    store.post(xfer("in", (CASH, 30), (available("p1"), -30), pending=True))
    assert store.balance(available("p1")).headroom == 0
    with pytest.raises(InsufficientFunds):
        store.post(xfer("out", (available("p1"), 1), (CASH, -1)))
    store.post_pending("in")
    assert store.balance(available("p1")).headroom == 30


# hot (sharded) accounts and reconciliation


def test_sharded_accounts_sum_their_shards(store: LedgerStore) -> None:
    for i in range(40):
        store.post(xfer(f"m{i}", (RECEIVABLE, 10 + i), (REVENUE, -(10 + i))))
    assert shown(store, REVENUE) == sum(10 + i for i in range(40))
    assert shown(store, RECEIVABLE) == shown(store, REVENUE)
    assert_reconciled(store)


def test_journal_and_balances_replay(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 50))
    store.post(spend("a", "p1", 20, pending=True))
    store.post(spend("b", "p1", 5, pending=True))
    store.void_pending("b")
    store.post(xfer("m", (RECEIVABLE, 7), (earned("p2"), -7)))
    states = {stored.transfer.id: stored.state for stored in store.journal()}
    assert states == {
        "top": TransferState.POSTED,
        "a": TransferState.PENDING,
        "b": TransferState.VOIDED,
        "m": TransferState.POSTED,
    }
    totals: dict[str, int] = {}
    for balance in store.balances():
        totals[balance.currency] = totals.get(balance.currency, 0) + balance.net + balance.pending
    assert totals == {RUB: 0, CREDITS: 0}
    assert_reconciled(store)


# idempotency under duplicates and reorders (property, on every store)

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3"]), st.integers(1, 50), st.sampled_from(["post", "void", "keep"])
    ),
    min_size=1,
    max_size=6,
)


def _lifecycle(i: int, partner_id: str, amount: int, end: str) -> list[Callable[[LedgerStore], object]]:
    tid = f"t{i}"
    steps: list[Callable[[LedgerStore], object]] = [
        lambda s: s.post(
            xfer(tid, (RECEIVABLE, amount), (earned(partner_id), -amount), pending=end != "post")
        )
    ]
    if end == "void":
        steps.append(lambda s: s.void_pending(tid))
    return steps


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS, data=st.data())
def test_replay_with_duplicates_and_reorders(
    ledger_store_factory: Callable[[], LedgerStore], ops: list[tuple[str, int, str]], data: st.DataObject
) -> None:
    lifecycles = [_lifecycle(i, *op) for i, op in enumerate(ops)]
    clean, noisy = ledger_store_factory(), ledger_store_factory()
    for s in (clean, noisy):
        open_world(s, slots=0)
    for steps in lifecycles:
        for step in steps:
            step(clean)
    # noisy: interleave lifecycles in a random order, each step possibly repeated
    queues = [list(steps) for steps in lifecycles]
    while any(queues):
        queue = data.draw(st.sampled_from([q for q in queues if q]))
        step = queue.pop(0)
        for _ in range(data.draw(st.integers(1, 3))):
            step(noisy)
    accounts = [RECEIVABLE, earned("p1"), earned("p2"), earned("p3")]
    assert [clean.balance(a) for a in accounts] == [noisy.balance(a) for a in accounts]
    assert_reconciled(noisy)


def test_topup_and_spend_keep_credit_totals_at_zero(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 9))
    store.post(spend("s", "p1", 4))
    assert shown(store, ISSUED) == 9
    assert shown(store, CONSUMED) == 4
    assert shown(store, credits("p1")) == 5


# batches (the DynamoDB store aggregates them per account)


def test_post_many_equals_posting_one_by_one(
    store: LedgerStore, ledger_store_factory: Callable[[], LedgerStore]
) -> None:
    batch = [
        xfer(f"m{i}", (RECEIVABLE, 100 + i), (REVENUE, -(40 + i)), (earned(f"p{1 + i % 3}"), -60))
        for i in range(30)
    ]
    results = store.post_many(batch)
    assert all(isinstance(r, PostResult) and not r.already for r in results)
    single = ledger_store_factory()
    open_world(single)
    for transfer in batch:
        single.post(transfer)
    for account in (RECEIVABLE, REVENUE, earned("p1"), earned("p2"), earned("p3")):
        assert store.balance(account).net == single.balance(account).net
    assert all(isinstance(r, PostResult) and r.already for r in store.post_many(batch))
    assert_reconciled(store)


def test_post_many_isolates_each_transfers_outcome(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 10))
    store.post(xfer("old", (RECEIVABLE, 5), (REVENUE, -5)))
    batch = [
        xfer("a", (RECEIVABLE, 7), (earned("p1"), -7)),
        xfer("old", (RECEIVABLE, 5), (REVENUE, -5)),  # posted before: already
        xfer("old", (RECEIVABLE, 6), (REVENUE, -6)),  # same id, other fields: conflict
        spend("s1", "p1", 8),  # fits
        spend("s2", "p1", 8),  # 2 left: refused
        xfer("b", (RECEIVABLE, 3), (earned("nobody"), -3)),  # unknown account
        xfer("a", (RECEIVABLE, 7), (earned("p1"), -7)),  # repeated within the batch
        xfer("c", (RECEIVABLE, 2), (earned("p2"), -2)),
    ]
    outcomes = []
    for result in store.post_many(batch):
        if isinstance(result, Exception):
            outcomes.append(type(result).__name__)
        else:
            outcomes.append("already" if result.already else "posted")
    assert outcomes == [
        "posted",
        "already",
        "TransferConflict",
        "posted",
        "InsufficientFunds",
        "AccountNotFound",
        "already",
        "posted",
    ]
    assert (shown(store, earned("p1")), shown(store, earned("p2")), shown(store, credits("p1"))) == (7, 2, 2)
    assert store.get_transfer("s2") is None and store.get_transfer("b") is None
    assert_reconciled(store)


def test_post_many_with_pending_transfers(store: LedgerStore) -> None:
    store.post(topup("top", "p1", 20))
    results = store.post_many([spend(f"r{i}", "p1", 5, pending=True) for i in range(5)])
    assert [type(r).__name__ for r in results].count("InsufficientFunds") == 1
    assert store.balance(credits("p1")).headroom == 0
    store.post_pending("r0")
    store.void_pending("r1")
    balance = store.balance(credits("p1"))
    assert (balance.posted, balance.headroom) == (15, 5)
    assert_reconciled(store)
