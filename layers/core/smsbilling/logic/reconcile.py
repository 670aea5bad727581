"""Reconciliation: stored balances against a replay of the journal, and the zero-sum check."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from smsbilling.domain.accounts import Account
from smsbilling.domain.ledger import replay
from smsbilling.ports import LedgerStore


@dataclass(frozen=True, slots=True)
class Discrepancy:
    account: Account | None
    """None for a per-currency total."""
    field: str
    stored: int
    replayed: int


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    accounts_checked: int
    transfers_replayed: int
    discrepancies: tuple[Discrepancy, ...]

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def reconcile(store: LedgerStore) -> ReconcileReport:
    """Compare every stored balance with the journal's replay; check each currency sums to zero."""
    journal = list(store.journal())
    replayed = replay(journal)
    found: list[Discrepancy] = []
    totals: dict[tuple[str, str], int] = defaultdict(int)
    seen: set[Account] = set()
    for balance in store.balances():
        seen.add(balance.account)
        totals[(balance.currency, "net")] += balance.net
        totals[(balance.currency, "pending")] += balance.pending
        expected = replayed.get(balance.account)
        net, pending = (expected.net, expected.pending) if expected else (0, 0)
        head = expected.headroom(balance.account, balance.overdraft_max) if expected else 0
        if expected is None and balance.account.policy.constrained:
            head = balance.overdraft_max
        for name, stored, want in (
            ("net", balance.net, net),
            ("pending", balance.pending, pending),
            ("headroom", balance.headroom, head),
        ):
            if stored != want:
                found.append(Discrepancy(balance.account, name, stored, want))
    for account in replayed.keys() - seen:
        found.append(Discrepancy(account, "missing", 0, replayed[account].net))
    for (currency, name), total in totals.items():
        if total:
            found.append(Discrepancy(None, f"{currency} {name} total", total, 0))
    return ReconcileReport(len(seen), len(journal), tuple(found))
