"""Ports: the small interfaces the logic talks to. Adapters implement them; fakes too.

Ledger
------
:class:`LedgerStore` is the whole storage contract of the ledger. Every implementation
(``adapters.memory_ledger.MemoryLedgerStore``, ``adapters.dynamodb_ledger.DynamoDbLedgerStore``)
passes the same suite, ``tests/contract/test_ledger_contract.py``. Every method raises only
:class:`~smsbilling.domain.ledger.LedgerError` subclasses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from smsbilling.domain.accounts import Account, AccountSpec
from smsbilling.domain.ledger import Balance, LedgerError, Leg, PostResult, StoredTransfer, Transfer
from smsbilling.domain.outbox import OutboxItem


class LedgerStore(Protocol):
    def open_account(self, spec: AccountSpec) -> None:
        """Open an account (idempotent). The same account with another currency: AccountConflict."""
        ...

    def set_overdraft_max(self, account: Account, overdraft_max: int) -> None:
        """Change a constrained account's credit limit; headroom moves by the difference.

        Lowering it below what is already used raises InsufficientFunds and changes nothing.
        """
        ...

    def post(self, transfer: Transfer) -> PostResult:
        """Commit a transfer (posted, or pending if ``transfer.pending``) with its idempotency record.

        Same id and fields again: ``PostResult(already=True)`` with the stored original.
        Same id, other fields: TransferConflict. A constrained account short of headroom:
        InsufficientFunds, and nothing is written.
        """
        ...

    def post_many(self, transfers: Sequence[Transfer]) -> list[PostResult | LedgerError]:
        """Post many transfers, each exactly as :meth:`post` would (all-or-nothing, idempotent).

        The outcome of each, in order: its result, or the error :meth:`post` would have raised.
        Stores may aggregate the balance changes of a batch into fewer writes (the DynamoDB store
        writes one transaction per chunk: the hot-account strategy for platform-wide accounts).
        """
        ...

    def post_pending(self, transfer_id: str, final_legs: Sequence[Leg] | None = None) -> PostResult:
        """Post a pending transfer, in full or for less (the rest is released)."""
        ...

    def void_pending(self, transfer_id: str) -> PostResult:
        """Void a pending transfer: its held decreases are released."""
        ...

    def get_transfer(self, transfer_id: str) -> StoredTransfer | None: ...

    def balance(self, account: Account) -> Balance:
        """The account's balance, shards summed. AccountNotFound if never opened."""
        ...

    def balances(self) -> Iterator[Balance]:
        """Every open account's stored balance (a full read: for reconciliation, not the hot path)."""
        ...

    def journal(self) -> Iterator[StoredTransfer]:
        """Every transfer ever posted (a full read: for replay and reconciliation)."""
        ...


class OutboxStore(Protocol):
    """Per-partner outbox (see ``domain/outbox.py``). Implementations: memory, DynamoDB."""

    def put(self, item: OutboxItem) -> None:
        """Add an item (idempotent on ``(system_id, item_id)``)."""
        ...

    def lease(self, system_id: str, limit: int, *, now_ms: int, lease_ms: int) -> list[OutboxItem]:
        """Up to ``limit`` items not leased (or whose lease ran out), oldest first, now leased to us."""
        ...

    def ack(self, item: OutboxItem) -> None:
        """Delivered: remove it."""
        ...

    def release(self, item: OutboxItem) -> None:
        """Not delivered: make it available again at once."""
        ...
