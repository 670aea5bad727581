"""An in-memory :class:`~smsbilling.ports.LedgerStore`: the fake for fast tests and the simulator.

It applies the same :mod:`smsbilling.domain.ledger` effects as the DynamoDB adapter, all or nothing
under one lock, and passes the same contract suite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from smsbilling.domain.accounts import Account, AccountSpec
from smsbilling.domain.cursors import Page, ms_bound, ms_key
from smsbilling.domain.ledger import (
    AccountConflict,
    AccountNotFound,
    Balance,
    CurrencyMismatch,
    Effect,
    InsufficientFunds,
    InvalidTransfer,
    LedgerError,
    Leg,
    PostResult,
    StoredTransfer,
    Transfer,
    TransferConflict,
    TransferState,
    check_final_legs,
    effects_create,
    effects_post,
    effects_void,
    must_resolve,
)
from smsbilling.domain.statements import partners_of
from smsbilling.settings import LedgerLimits


@dataclass(slots=True)
class _Row:
    currency: str
    overdraft_max: int
    net: int = 0
    pending: int = 0
    headroom: int = 0


class MemoryLedgerStore:
    def __init__(self, limits: LedgerLimits | None = None) -> None:
        self._limits = limits or LedgerLimits()
        self._lock = threading.Lock()
        self._rows: dict[Account, _Row] = {}
        self._transfers: dict[str, StoredTransfer] = {}

    def open_account(self, spec: AccountSpec) -> None:
        with self._lock:
            row = self._rows.get(spec.account)
            if row is None:
                head = spec.overdraft_max if spec.account.policy.constrained else 0
                self._rows[spec.account] = _Row(spec.currency, spec.overdraft_max, headroom=head)
            elif row.currency != spec.currency:
                raise AccountConflict(f"{spec.account} is open in {row.currency}")

    def set_overdraft_max(self, account: Account, overdraft_max: int) -> None:
        AccountSpec(account, self._row(account).currency, overdraft_max)  # validates
        with self._lock:
            row = self._row(account)
            delta = overdraft_max - row.overdraft_max
            if row.headroom + delta < 0:
                raise InsufficientFunds(account)
            row.overdraft_max, row.headroom = overdraft_max, row.headroom + delta

    def post(self, transfer: Transfer) -> PostResult:
        if len(transfer.legs) > self._limits.transfer_legs_max:
            raise InvalidTransfer(f"{len(transfer.legs)} legs > transfer_legs_max")
        with self._lock:
            existing = self._transfers.get(transfer.id)
            if existing is not None:
                if existing.transfer.fingerprint() != transfer.fingerprint():
                    raise TransferConflict(f"{transfer.id} was posted with other fields")
                return PostResult(existing, already=True)
            self._apply(effects_create(transfer), transfer.currency)
            stored = StoredTransfer.fresh(transfer)
            self._transfers[transfer.id] = stored
            return PostResult(stored, already=False)

    def post_many(self, transfers: Sequence[Transfer]) -> list[PostResult | LedgerError]:
        out: list[PostResult | LedgerError] = []
        for transfer in transfers:
            try:
                out.append(self.post(transfer))
            except LedgerError as exc:
                out.append(exc)
        return out

    def post_pending(self, transfer_id: str, final_legs: Sequence[Leg] | None = None) -> PostResult:
        with self._lock:
            found = self._transfers.get(transfer_id)
            stored, pending = must_resolve(found, transfer_id, TransferState.POSTED, final_legs)
            if not pending:
                return PostResult(stored, already=True)
            final = check_final_legs(stored.transfer, final_legs)
            self._apply(effects_post(stored.transfer, final), stored.transfer.currency)
            done = StoredTransfer(stored.transfer, TransferState.POSTED, final)
            self._transfers[transfer_id] = done
            return PostResult(done, already=False)

    def void_pending(self, transfer_id: str) -> PostResult:
        with self._lock:
            found = self._transfers.get(transfer_id)
            stored, pending = must_resolve(found, transfer_id, TransferState.VOIDED)
            if not pending:
                return PostResult(stored, already=True)
            self._apply(effects_void(stored.transfer), stored.transfer.currency)
            done = StoredTransfer(stored.transfer, TransferState.VOIDED)
            self._transfers[transfer_id] = done
            return PostResult(done, already=False)

    def get_transfer(self, transfer_id: str) -> StoredTransfer | None:
        with self._lock:
            return self._transfers.get(transfer_id)

    def balance(self, account: Account) -> Balance:
        with self._lock:
            return self._balance(account, self._row(account))

    def balances(self) -> Iterator[Balance]:
        with self._lock:
            snapshot = [self._balance(account, row) for account, row in self._rows.items()]
        return iter(snapshot)

    def journal(self) -> Iterator[StoredTransfer]:
        with self._lock:
            return iter(list(self._transfers.values()))

    def partner_transfers(
        self,
        partner_id: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        before: str | None = None,
        limit: int,
    ) -> Page[StoredTransfer]:
        with self._lock:
            listed = [
                (ms_key(stored.transfer.at_ms, stored.transfer.id), stored)
                for stored in self._transfers.values()
                if partner_id in partners_of(stored.transfer)
            ]
        low = ms_bound(since_ms) if since_ms is not None else ""
        high = ms_bound(until_ms) if until_ms is not None else None
        kept = sorted(
            (
                (key, stored)
                for key, stored in listed
                if key >= low and (high is None or key < high) and (before is None or key < before)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        page = kept[:limit]
        return Page(tuple(stored for _, stored in page), page[-1][0] if len(kept) > limit else None)

    # internals

    def _row(self, account: Account) -> _Row:
        row = self._rows.get(account)
        if row is None:
            raise AccountNotFound(str(account))
        return row

    @staticmethod
    def _balance(account: Account, row: _Row) -> Balance:
        return Balance(account, row.currency, row.net, row.pending, row.headroom, row.overdraft_max)

    def _apply(self, effects: tuple[Effect, ...], currency: str) -> None:
        for effect in effects:  # check everything first: all or nothing
            row = self._row(effect.account)
            if row.currency != currency:
                raise CurrencyMismatch(f"{effect.account} holds {row.currency}, not {currency}")
            if effect.need and row.headroom < effect.need:
                raise InsufficientFunds(effect.account)
        for effect in effects:
            row = self._rows[effect.account]
            row.net += effect.net
            row.pending += effect.pending
            row.headroom += effect.headroom
