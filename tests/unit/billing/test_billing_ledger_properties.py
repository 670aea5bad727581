"""Conservation and idempotency of the ledger, by property (memory store; the contract suite runs
the duplicate/reorder property on DynamoDB Local too)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.domain.accounts import Account
from smsbilling.domain.ledger import LedgerError, Leg, Transfer, TransferKind
from smsbilling.logic.reconcile import reconcile
from tests.contract.helpers import (
    CASH,
    RECEIVABLE,
    REVENUE,
    RUB,
    available,
    earned,
    open_world,
    xfer,
)

MONEY_ACCOUNTS = [RECEIVABLE, REVENUE, CASH, earned("p1"), earned("p2"), available("p1"), available("p2")]


@st.composite
def transfers(draw: st.DrawFn, index: int) -> Transfer:
    """A random balanced transfer over 2..4 distinct money accounts, maybe pending."""
    accounts: list[Account] = draw(
        st.lists(st.sampled_from(MONEY_ACCOUNTS), min_size=2, max_size=4, unique=True)
    )
    amounts = [draw(st.integers(1, 500)) * draw(st.sampled_from([1, -1])) for _ in accounts[:-1]]
    if sum(amounts) == 0:
        amounts[0] *= 2  # the sum becomes amounts[0] != 0, so the balancing leg is non-zero
    last = -sum(amounts)
    legs = tuple(Leg(a, n) for a, n in zip(accounts, [*amounts, last], strict=True))
    return Transfer(f"t{index}", TransferKind.ADJUSTMENT, RUB, legs, "ref", 1, draw(st.booleans()))


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, Transfer]]:
    count = draw(st.integers(1, 25))
    out = []
    for i in range(count):
        transfer = draw(transfers(i))
        out.append(("post", transfer))
        if transfer.pending:
            out.append((draw(st.sampled_from(["post_pending", "void_pending", "leave"])), transfer))
    return out


def run(store: MemoryLedgerStore, op: str, transfer: Transfer) -> str:
    try:
        if op == "post":
            store.post(transfer)
        elif op == "post_pending":
            store.post_pending(transfer.id)
        elif op == "void_pending":
            store.void_pending(transfer.id)
    except LedgerError as exc:
        return type(exc).__name__
    return "ok"


@settings(max_examples=150)
@given(scripts())
def test_conservation_after_every_step(script: list[tuple[str, Transfer]]) -> None:
    store = MemoryLedgerStore()
    open_world(store, slots=0)
    for op, transfer in script:
        assert sum(leg.amount for leg in transfer.legs) == 0  # every transfer's legs sum to zero
        before = list(store.balances())
        outcome = run(store, op, transfer)
        if outcome != "ok":
            assert list(store.balances()) == before  # a refused step changes nothing
        totals: Counter[str] = Counter()
        for balance in store.balances():
            totals[balance.currency] += balance.net + balance.pending
            if balance.account.policy.constrained:
                assert balance.headroom >= 0
        assert all(total == 0 for total in totals.values()), totals
    assert reconcile(store).ok


@settings(max_examples=150)
@given(scripts(), st.data())
def test_duplicates_and_reorders_give_the_same_balances(
    script: list[tuple[str, Transfer]], data: st.DataObject
) -> None:
    clean, noisy = MemoryLedgerStore(), MemoryLedgerStore()
    for store in (clean, noisy):
        open_world(store, slots=0)
        store.post(xfer("fund-1", (CASH, 10**6), (available("p1"), -(10**6))))  # enough for any order
        store.post(xfer("fund-2", (CASH, 10**6), (available("p2"), -(10**6))))
    for op, transfer in script:
        run(clean, op, transfer)
    # each transfer's own steps stay in order; transfers interleave at random; any step may repeat
    queues: dict[str, list[str]] = {}
    for op, transfer in script:
        queues.setdefault(transfer.id, []).append(op)
    by_id = {transfer.id: transfer for _, transfer in script}
    while queues:
        tid = data.draw(st.sampled_from(sorted(queues)))
        op = queues[tid].pop(0)
        for _ in range(data.draw(st.integers(1, 3))):
            assert run(noisy, op, by_id[tid]) == "ok"
        if not queues[tid]:
            del queues[tid]
    assert sorted(clean.balances(), key=str) == sorted(noisy.balances(), key=str)
    assert reconcile(noisy).ok
