"""Ports: the small interfaces the logic talks to. Adapters implement them; fakes too.

Ledger
------
:class:`LedgerStore` is the whole storage contract of the ledger. Every implementation
(``adapters.memory_ledger.MemoryLedgerStore``, ``adapters.dynamodb_ledger.DynamoDbLedgerStore``)
passes the same suite, ``tests/contract/test_ledger_contract.py``. Every method raises only
:class:`~smsbilling.domain.ledger.LedgerError` subclasses.

MT messages
-----------
:class:`MtStore` keeps :class:`MtRecord` (the domain :class:`~smsbilling.domain.mt.Mt` plus what
sending and settling need) with a version for optimistic writes, and the operator-id correlation
items (:class:`Correlation`). Implementations: ``adapters.memory_mt``, ``adapters.dynamodb_mt``;
suite: ``tests/contract/test_mt_store_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.contracts import MtPurpose
from smsbilling.domain.accounts import Account, AccountSpec
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import BillingModel
from smsbilling.domain.handler_protocol import RawResponse
from smsbilling.domain.ledger import Balance, LedgerError, Leg, PostResult, StoredTransfer, Transfer
from smsbilling.domain.mt import Mt
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


# --- MT messages ------------------------------------------------------------------------------------


class MtOrigin(StrEnum):
    REQUESTED = "requested"  # MtRequested: the platform writes the text (replies, notices, OTP, API)
    SMPP = "smpp"  # SendMt: a partner's submit_sm on its bind, sent as submitted


class NotifyOutcome(StrEnum):
    SENT = "sent"  # the partner took the status (a 2xx, or the receipt is in its outbox)
    FAILED = "failed"  # given up: refused for good, or every attempt failed
    SKIPPED = "skipped"  # nobody to tell: the platform's own MT, no status_url, no receipt asked for


class MtRecord(BaseModel):
    """An MT as stored (``MT#<id>``): its lifecycle, what sending needs, and how settling went.

    ``version`` counts writes: a write succeeds only over the version it read (optimistic).
    ``parts_hex`` is each part's ``short_message`` (its UDH included when ``esm_class`` has 0x40);
    empty for an MT refused before anything could be encoded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mt: Mt
    version: int = Field(default=0, ge=0)
    origin: MtOrigin
    purpose: MtPurpose | None = None
    partner_id: str | None = None
    service_id: str | None = None
    partner_system_id: str | None = Field(default=None, description="SendMt: the bind receipts go to")
    partner_registered_delivery: int = Field(default=0, ge=0, le=255, description="what the partner asked")
    in_reply_to: str | None = None
    operator_id: str | None = None
    link_id: str | None = None
    source: str
    source_ton: int = Field(default=0, ge=0, le=255)
    source_npi: int = Field(default=0, ge=0, le=255)
    destination: str
    text: str | None = None
    data_coding: int = Field(default=0, ge=0, le=255)
    esm_class: int = Field(default=0, ge=0, le=255)
    parts_hex: tuple[str, ...] = ()
    billed: bool = False
    is_test: bool = Field(default=False, description="a test MO's reply: never sent, never billed")
    created_at: datetime
    handed_parts: tuple[int, ...] = Field(default=(), description="parts whose submit went out")
    billing_done: bool = False
    notify_attempts: int = Field(default=0, ge=0)
    notified: NotifyOutcome | None = None
    notify_error: str = Field(default="", max_length=200)
    # Traffic control (domain/traffic.py): held for an admin while ``held_reason`` is set.
    held_reason: str = Field(default="", max_length=200)
    risk_score: int | None = Field(default=None, ge=0, le=100)
    controls: tuple[str, ...] = ()

    @property
    def message_id(self) -> str:
        return self.mt.message_id

    @property
    def billing_model(self) -> BillingModel:
        """MT-billing for the billed MT (its charge waits for the DLR); nothing to settle otherwise."""
        return BillingModel.MT if self.billed else BillingModel.MO


class WaitingReceipt(BaseModel):
    """A final receipt kept on a correlation item until the submit result links the id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    receipt_id: str
    status: DlrStatus
    reason: str = ""


class Correlation(BaseModel):
    """``OPID#<link_id>#<key>``: which MT part an operator message id belongs to (ADR 0003 §8)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_id: str
    key: str
    message_id: str | None = None
    part_index: int | None = None
    receipts: tuple[WaitingReceipt, ...] = ()


class MtStore(Protocol):
    def create(self, record: MtRecord) -> MtRecord:
        """Store a new record (version 0) unless one has its id; return the stored one."""
        ...

    def get(self, message_id: str) -> MtRecord | None: ...

    def replace(self, record: MtRecord) -> bool:
        """Write ``record`` (version n + 1) only if the stored version is n; False otherwise."""
        ...

    def link(
        self, link_id: str, key: str, message_id: str, part_index: int, *, expires_at_s: int
    ) -> Correlation:
        """Claim ``(link_id, key)`` for an MT part; returns the item as it stands afterwards.

        Another MT part holding it already stays (the returned item names it); receipts kept on the
        item come back with it, for the caller to apply.
        """
        ...

    def add_receipt(
        self, link_id: str, key: str, receipt: WaitingReceipt, *, expires_at_s: int, receipts_max: int
    ) -> Correlation | None:
        """Keep a receipt on the item (created if absent); the item afterwards.

        A receipt id kept already changes nothing. None when ``receipts_max`` are kept already and
        the item is not linked (the caller retries later).
        """
        ...

    def correlation(self, link_id: str, key: str) -> Correlation | None: ...

    def expired(self, now_ms: int, limit: int) -> list[str]:
        """Ids of MTs not final whose deadline (``expires_at_ms``) is at or before ``now_ms``.

        Soonest deadline first, at most ``limit``. Read from an index: an MT that became final a
        moment ago may still be listed (the lifecycle then calls its expiry a duplicate).
        """
        ...


class OperatorPart(BaseModel):
    """One MT part as an HTTP operator link receives it (docs/operator-http.md).

    Exactly one of ``text`` (a text part, already cut so it decodes alone) and ``payload_hex``
    (bytes we do not read as text); ``udh_hex`` when the part carries a user data header.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1
    message_id: str
    part: int = Field(ge=1, le=255)
    parts: int = Field(ge=1, le=255)
    source: str
    destination: str
    data_coding: int = Field(ge=0, le=255)
    text: str | None = None
    payload_hex: str | None = None
    udh_hex: str | None = None
    registered_delivery: int = Field(ge=0, le=255)


class OperatorAnswer(BaseModel):
    """How an HTTP operator link answered one part: accepted with its id, or refused and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accepted: bool
    operator_message_id: str | None = None
    error: str = Field(default="", max_length=200)
    permanent: bool = True  # refused: False means "try again later" (5xx, 408, 429, no answer)


class HttpClient(Protocol):
    """One bounded HTTP exchange (``adapters.http_delivery.UrllibHandlerClient``): partner handlers,
    status callbacks, operator MT links and HLR providers all go through it."""

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout_s: float,
        body_bytes_max: int,
    ) -> RawResponse:
        """One HTTP exchange, redirects not followed, within ``timeout_s`` in total.

        The returned body holds at most ``body_bytes_max + 1`` bytes (one more than the limit, so
        the caller can tell an over-long body). No response at all: TransportError.
        """
        ...


class OperatorClient(Protocol):
    def submit(self, url: str, token: str | None, part: OperatorPart) -> OperatorAnswer:
        """POST one part to an operator's ``mt_url``; every outcome is an answer, nothing raises."""
        ...
