"""Prepaid credits: top-ups, and per-SMS charges from reserved blocks (the hot-account strategy).

A partner's prepaid balance is one constrained item (``partner/<id>/credits``): it alone knows
the credit limit, and every conditional write to it serialises. Sending does not touch it per
message. A sender (a worker, a campaign shard) owns a *slot* and charges each SMS against that
slot's block account ``partner/<id>/credit_block/<slot>``, itself constrained to stay >= 0. When a
block runs dry the sender moves another ``credit_block_size_credits`` from the main balance into
it (one write to the hot item per block instead of per message) and retries once; an idle sender
releases what is left. The partner's spendable total is main + all blocks.
"""

from __future__ import annotations

import contextlib

from smsbilling.domain import accounts as acc
from smsbilling.domain import postings
from smsbilling.domain.accounts import Book
from smsbilling.domain.ledger import (
    AccountNotFound,
    InsufficientFunds,
    PostResult,
    Transfer,
    TransferConflict,
)
from smsbilling.ports import LedgerStore
from smsbilling.settings import LedgerLimits


class CreditSpender:
    def __init__(self, store: LedgerStore, limits: LedgerLimits) -> None:
        self._store = store
        self._limits = limits

    def top_up(self, partner_id: str, payment_id: str, credits: int, at_ms: int) -> PostResult:
        return self._store.post(_some(postings.credit_topup(partner_id, payment_id, credits, at_ms)))

    def spendable(self, partner_id: str, slots: int) -> int:
        """Credits the partner can still spend: main headroom plus every block's balance."""
        total = self._store.balance(acc.partner(partner_id, Book.CREDITS)).headroom
        for slot in range(slots):
            total += self._store.balance(acc.credit_block(partner_id, slot)).headroom
        return total

    def charge_sms(self, partner_id: str, slot: int, message_id: str, credits: int, at_ms: int) -> PostResult:
        """Charge one SMS's credits from the slot's block, refilling the block if it is short.

        When the main balance cannot refill it, the charge falls back to the other blocks (the
        tail of a balance may sit in another sender's block), so every credit can be spent.
        """
        self._check_slot(slot)
        try:
            return self._charge_from(partner_id, slot, message_id, credits, at_ms)
        except InsufficientFunds as exc:
            if exc.account != acc.credit_block(partner_id, slot):
                raise
        self._refill(partner_id, slot, f"{partner_id}|{slot}|{message_id}", credits, at_ms)
        # A concurrent refill may have filled (or drained) this block since: its own block first.
        slots = range(self._limits.credit_block_slots_max)
        for other in (slot, *(s for s in slots if s != slot)):
            with contextlib.suppress(InsufficientFunds, AccountNotFound):
                return self._charge_from(partner_id, other, message_id, credits, at_ms)
        raise InsufficientFunds(acc.partner(partner_id, Book.CREDITS))

    def _charge_from(
        self, partner_id: str, slot: int, message_id: str, credits: int, at_ms: int
    ) -> PostResult:
        transfer = _some(postings.sms_credits(partner_id, slot, message_id, credits, at_ms))
        try:
            return self._store.post(transfer)
        except TransferConflict:  # charged before, from another slot: that charge stands
            stored = self._store.get_transfer(transfer.id)
            if stored is None:  # pragma: no cover - a conflict implies the record exists
                raise
            return PostResult(stored, already=True)

    def release(self, partner_id: str, slot: int, key: str, at_ms: int) -> PostResult | None:
        """Give a block's remaining credits back to the main balance (``key`` names this release)."""
        self._check_slot(slot)
        left = self._store.balance(acc.credit_block(partner_id, slot)).headroom
        transfer = postings.block_release(partner_id, slot, f"{partner_id}|{slot}|{key}", left, at_ms)
        return None if transfer is None else self._store.post(transfer)

    def _refill(self, partner_id: str, slot: int, key: str, needed: int, at_ms: int) -> None:
        """Move a block from the main balance into the slot, if the main can cover ``needed``."""
        main = self._store.balance(acc.partner(partner_id, Book.CREDITS)).headroom
        size = min(max(self._limits.credit_block_size_credits, needed), main)
        if size < needed:
            return
        # TransferConflict: this message triggered a refill before (of a size read at another
        # moment). InsufficientFunds: another request took the main balance since the read.
        with contextlib.suppress(TransferConflict, InsufficientFunds):
            self._store.post(_some(postings.block_reserve(partner_id, slot, key, size, at_ms)))

    def _check_slot(self, slot: int) -> None:
        if not 0 <= slot < self._limits.credit_block_slots_max:
            raise ValueError(f"slot {slot} outside 0..{self._limits.credit_block_slots_max - 1}")


def _some(transfer: Transfer | None) -> Transfer:
    if transfer is None:
        raise ValueError("nothing to post: the amount is zero")
    return transfer
