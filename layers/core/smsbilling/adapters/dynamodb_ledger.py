"""The DynamoDB :class:`~smsbilling.ports.LedgerStore`: one ``TransactWriteItems`` per change.

Posting writes the transfer item (``attribute_not_exists(pk)``: the idempotency record) and one
conditional ``ADD`` per leg in a single transaction. A cancelled transaction is read back through
``CancellationReasons`` (with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``): a failed record
condition means "posted before" (same fingerprint: success; else :class:`TransferConflict`), a
failed leg condition means a missing account, a currency mismatch or insufficient headroom, and
``TransactionConflict`` (another transaction on the same item) is retried with jittered backoff.

Hot accounts: sharded books spread over N balance items; the shard of a leg is a hash of the
transfer id and account, so the pending and resolution writes of one transfer hit the same shard.
The item layout is in :mod:`smsbilling.adapters.dynamodb_ledger_items`.

Partner index (statements): every transfer that touches a partner's account also puts, in the
same transaction, one item per partner ``P#<partner_id>#<shard>`` / ``<at_ms, 13 digits>#<id>``
(``tid``), the shard a hash of the transfer id over ``partner_index_shards_count`` (which may
only grow). Entries are never changed: a statement reads them newest first across the shards
and then the transfer records themselves, for their current state. Cost: docs/billing.md.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from smsbilling.adapters import dynamodb_ledger_items as items
from smsbilling.adapters.pacing import jitter_ms, sleep_ms
from smsbilling.domain.accounts import Account, AccountSpec, Scope, parse_account
from smsbilling.domain.cursors import Page, Window, merge_newest_first, ms_bound, ms_key
from smsbilling.domain.ledger import (
    AccountConflict,
    AccountNotFound,
    Balance,
    CurrencyMismatch,
    Effect,
    InsufficientFunds,
    InvalidTransfer,
    LedgerBusy,
    LedgerError,
    LedgerUnavailable,
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

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_ALL_OLD: Final = "ALL_OLD"
_CCF = "ConditionalCheckFailed"
_ITEMS_MAX = 100  # DynamoDB: items per TransactWriteItems
_BATCH_GET_MAX = 100  # DynamoDB: keys per BatchGetItem
INDEX_PREFIX: Final = "P#"
_AFTER_EVERY_KEY = "~"  # sorts after every index sort key (digits and '#')


class _Cancelled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons


class DynamoDbLedgerStore:
    """``DynamoDbLedgerStore(table_name, client)``; ``client`` is a boto3 DynamoDB *client*."""

    def __init__(self, table_name: str, client: DynamoDBClient, limits: LedgerLimits | None = None) -> None:
        self._table = table_name
        self._client = client
        self._limits = limits or LedgerLimits()

    # accounts

    def shard_count(self, account: Account) -> int:
        if not account.policy.sharded:
            return 1
        if account.scope is Scope.PARTNER:
            return self._limits.partner_balance_shards_count
        return self._limits.platform_balance_shards_count

    def open_account(self, spec: AccountSpec) -> None:
        for shard in range(self.shard_count(spec.account)):
            item = items.balance_item(spec.account, shard, spec.currency, spec.overdraft_max)
            try:
                self._call(partial(self._put_new, item))
            except _Cancelled as exc:
                old = exc.reasons[0].get("Item") or self._get(items.balance_key(spec.account, shard))
                if old is not None and old["cur"]["S"] != spec.currency:
                    raise AccountConflict(f"{spec.account} is open in {old['cur']['S']}") from None

    def _put_new(self, item: dict[str, Any]) -> object:
        return self._client.put_item(
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure=_ALL_OLD,
        )

    def set_overdraft_max(self, account: Account, overdraft_max: int) -> None:
        for _ in range(self._limits.conflict_retries_max + 1):
            old = self._balance_row(account, 0)
            AccountSpec(account, old["cur"]["S"], overdraft_max)  # validates
            current = int(old["lim"]["N"])
            delta = overdraft_max - current
            try:
                self._call(partial(self._update_limit, account, current, overdraft_max, delta))
                return
            except _Cancelled as exc:
                new = exc.reasons[0].get("Item") or old
                if int(new["lim"]["N"]) == current:
                    raise InsufficientFunds(account) from None
        raise LedgerBusy(f"limit of {account} kept changing")

    def _update_limit(self, account: Account, current: int, new: int, delta: int) -> object:
        return self._client.update_item(
            TableName=self._table,
            Key=items.balance_key(account, 0),
            UpdateExpression="SET lim = :new ADD head :delta",
            ConditionExpression="lim = :old AND head >= :need",
            ExpressionAttributeValues={
                ":new": items.num(new),
                ":old": items.num(current),
                ":delta": items.num(delta),
                ":need": items.num(max(0, -delta)),
            },
            ReturnValuesOnConditionCheckFailure=_ALL_OLD,
        )

    # transfers

    def post(self, transfer: Transfer) -> PostResult:
        self._check_size(transfer.legs)
        effects = effects_create(transfer)
        try:
            self._transact(
                [self._record(transfer), *self._updates(transfer, effects), *self._index_puts(transfer)]
            )
        except _Cancelled as exc:
            if exc.reasons[0].get("Code") == _CCF:
                return self._repeat(transfer, exc.reasons[0].get("Item"))
            self._raise_leg_failure(exc.reasons[1 : 1 + len(effects)], effects, transfer.currency)
        return PostResult(StoredTransfer.fresh(transfer), already=False)

    def _record(self, transfer: Transfer) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": items.transfer_item(transfer),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": _ALL_OLD,
            }
        }

    def _index_puts(self, transfer: Transfer) -> list[TransactWriteItemTypeDef]:
        """The partner index entries of a transfer: written with its record, never changed."""
        shards = self._limits.partner_index_shards_count
        shard = zlib.crc32(transfer.id.encode()) % shards
        return [
            {"Put": {"TableName": self._table, "Item": _index_item(partner_id, shard, transfer)}}
            for partner_id in sorted(partners_of(transfer))
        ]

    def post_many(self, transfers: Sequence[Transfer]) -> list[PostResult | LedgerError]:
        """Chunks of transfers in one transaction each, balance changes summed per account.

        A chunk whose records collide (posted before) settles those (already / conflict) and is
        retried without them; a chunk refused by a balance condition is posted one by one, so a
        failing transfer never takes the others down.
        """
        out: dict[int, PostResult | LedgerError] = {}
        seen: set[str] = set()
        todo: list[int] = []
        for index, transfer in enumerate(transfers):
            if transfer.id in seen or len(transfer.legs) > self._limits.transfer_legs_max:
                continue  # repeats and oversized transfers go through post() below
            seen.add(transfer.id)
            todo.append(index)
        for chunk in _chunks(transfers, todo, self._limits.post_batch_transfers_max):
            self._post_chunk(transfers, chunk, out)
        for index, transfer in enumerate(transfers):
            if index not in out:
                out[index] = self._post_one(transfer)
        return [out[index] for index in range(len(transfers))]

    def _post_one(self, transfer: Transfer) -> PostResult | LedgerError:
        try:
            return self.post(transfer)
        except LedgerError as exc:
            return exc

    def _post_chunk(
        self, transfers: Sequence[Transfer], chunk: list[int], out: dict[int, PostResult | LedgerError]
    ) -> None:
        while len(chunk) > 1:
            batch = [transfers[index] for index in chunk]
            try:
                indexed = [put for transfer in batch for put in self._index_puts(transfer)]
                self._transact([*map(self._record, batch), *self._batch_updates(batch), *indexed])
            except _Cancelled as exc:
                if not self._settle_records(batch, chunk, exc.reasons, out):
                    return  # a balance condition failed: the caller posts the rest one by one
                chunk = [index for index in chunk if index not in out]
                continue
            for index, transfer in zip(chunk, batch, strict=True):
                out[index] = PostResult(StoredTransfer.fresh(transfer), already=False)
            return

    def _settle_records(
        self,
        batch: list[Transfer],
        chunk: list[int],
        reasons: list[dict[str, Any]],
        out: dict[int, PostResult | LedgerError],
    ) -> bool:
        settled = False
        for index, transfer, reason in zip(chunk, batch, reasons, strict=False):
            if reason.get("Code") == _CCF:
                try:
                    out[index] = self._repeat(transfer, reason.get("Item"))
                except LedgerError as exc:
                    out[index] = exc
                settled = True
        return settled

    def _batch_updates(self, batch: list[Transfer]) -> list[TransactWriteItemTypeDef]:
        """One update per account for the whole batch (one shard per sharded account)."""
        totals: dict[Account, list[int]] = {}
        for transfer in batch:
            for effect in effects_create(transfer):
                total = totals.setdefault(effect.account, [0, 0, 0, 0])
                total[0] += effect.net
                total[1] += effect.pending
                total[2] += effect.headroom
                total[3] += effect.need
        summed = tuple(Effect(account, *total) for account, total in totals.items())
        return self._updates(batch[0], summed)

    def _repeat(self, transfer: Transfer, old: dict[str, Any] | None) -> PostResult:
        old = old or self._get(items.transfer_key(transfer.id))
        if old is None:  # pragma: no cover - the record cannot vanish (transfers are never deleted)
            raise LedgerBusy(f"{transfer.id} vanished")
        if old["fp"]["S"] != transfer.fingerprint():
            raise TransferConflict(f"{transfer.id} was posted with other fields")
        return PostResult(items.stored_from_item(old), already=True)

    def post_pending(self, transfer_id: str, final_legs: Sequence[Leg] | None = None) -> PostResult:
        def write(stored: StoredTransfer) -> StoredTransfer:
            final = check_final_legs(stored.transfer, final_legs)
            effects = effects_post(stored.transfer, final)
            self._resolve(stored.transfer, TransferState.POSTED, effects, {":fin": items.legs_to_list(final)})
            return StoredTransfer(stored.transfer, TransferState.POSTED, final)

        return self._resolution(transfer_id, TransferState.POSTED, final_legs, write)

    def void_pending(self, transfer_id: str) -> PostResult:
        def write(stored: StoredTransfer) -> StoredTransfer:
            self._resolve(stored.transfer, TransferState.VOIDED, effects_void(stored.transfer), {})
            return StoredTransfer(stored.transfer, TransferState.VOIDED)

        return self._resolution(transfer_id, TransferState.VOIDED, None, write)

    def _resolution(
        self,
        transfer_id: str,
        target: TransferState,
        final_legs: Sequence[Leg] | None,
        write: Callable[[StoredTransfer], StoredTransfer],
    ) -> PostResult:
        for _ in range(2):  # a concurrent resolution between read and write: decide again
            stored, pending = must_resolve(self.get_transfer(transfer_id), transfer_id, target, final_legs)
            if not pending:
                return PostResult(stored, already=True)
            try:
                return PostResult(write(stored), already=False)
            except _Cancelled as exc:
                if exc.reasons[0].get("Code") != _CCF:
                    raise LedgerBusy(f"{transfer_id}: {exc.reasons}") from None
        raise LedgerBusy(f"{transfer_id} changed state twice")  # pragma: no cover

    def _resolve(
        self, transfer: Transfer, target: TransferState, effects: tuple[Effect, ...], extra: dict[str, Any]
    ) -> None:
        set_fin = ", fin = :fin" if extra else ""
        record: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": items.transfer_key(transfer.id),
                "UpdateExpression": f"SET st = :target{set_fin}",
                "ConditionExpression": "st = :pending",
                "ExpressionAttributeValues": {
                    ":target": {"S": str(target)},
                    ":pending": {"S": str(TransferState.PENDING)},
                    **extra,
                },
            }
        }
        self._transact([record, *self._updates(transfer, effects)])

    def get_transfer(self, transfer_id: str) -> StoredTransfer | None:
        item = self._get(items.transfer_key(transfer_id))
        return None if item is None else items.stored_from_item(item)

    # balances

    def balance(self, account: Account) -> Balance:
        keys = [items.balance_key(account, shard) for shard in range(self.shard_count(account))]
        found: list[dict[str, Any]] = []
        for key in keys:  # GetItem per shard keeps reads strongly consistent and simple
            item = self._get(key)
            if item is not None:
                found.append(item)
        if not found:
            raise AccountNotFound(str(account))
        return _sum_balance(account, found)

    def balances(self) -> Iterator[Balance]:
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in self._scan(items.BALANCE_PREFIX):
            by_account[item["acct"]["S"]].append(item)
        for key, shards in by_account.items():
            yield _sum_balance(parse_account(key), shards)

    def journal(self) -> Iterator[StoredTransfer]:
        for item in self._scan(items.TRANSFER_PREFIX):
            yield items.stored_from_item(item)

    def partner_transfers(
        self,
        partner_id: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        before: str | None = None,
        limit: int,
    ) -> Page[StoredTransfer]:
        """Transfers touching the partner, newest first, ``since_ms <= at < until_ms``, below ``before``."""
        low = ms_bound(since_ms) if since_ms is not None else "0"
        until = ms_bound(until_ms) if until_ms is not None else _AFTER_EVERY_KEY
        high = min(until, before or _AFTER_EVERY_KEY)
        if low > high:
            return Page((), None)
        windows = [
            self._index_window(f"{INDEX_PREFIX}{partner_id}#{shard}", low, high, limit)
            for shard in range(self._limits.partner_index_shards_count)
        ]
        page = merge_newest_first(windows, limit)
        found = self._transfers_by_id(list(page.items))
        return Page(tuple(found[tid] for tid in page.items if tid in found), page.boundary)

    def _index_window(self, pk: str, low: str, high: str, limit: int) -> Window[str]:
        try:
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":pk": {"S": pk}, ":low": {"S": low}, ":high": {"S": high}},
                ProjectionExpression="sk, tid",
                ScanIndexForward=False,
                Limit=limit + 1,  # the boundary itself may be the first one (it is excluded)
            )
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        found = tuple(
            (item["sk"]["S"], item["tid"]["S"]) for item in answer.get("Items", []) if item["sk"]["S"] != high
        )
        last = answer.get("LastEvaluatedKey")
        return Window(found, last["sk"]["S"] if last else None)

    def _transfers_by_id(self, transfer_ids: list[str]) -> dict[str, StoredTransfer]:
        found: dict[str, StoredTransfer] = {}
        for start in range(0, len(transfer_ids), _BATCH_GET_MAX):
            chunk = transfer_ids[start : start + _BATCH_GET_MAX]
            keys: list[Any] = [items.transfer_key(tid) for tid in chunk]
            for attempt in range(self._limits.conflict_retries_max + 1):
                if attempt:  # unprocessed keys: the table is throttling, back off
                    sleep_ms(jitter_ms(self._limits.conflict_backoff_base_ms * 2**attempt))
                try:
                    answer = self._client.batch_get_item(
                        RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                    )
                except (ClientError, BotoCoreError) as exc:
                    raise LedgerUnavailable(str(exc)) from exc
                for item in answer.get("Responses", {}).get(self._table, []):
                    stored = items.stored_from_item(item)
                    found[stored.transfer.id] = stored
                unprocessed = answer.get("UnprocessedKeys") or {}
                keys = list(unprocessed[self._table]["Keys"]) if self._table in unprocessed else []
                if not keys:
                    break
            if keys:
                raise LedgerUnavailable("transfers not read: the table kept throttling")
        return found

    # internals

    def _check_size(self, legs: Sequence[Leg]) -> None:
        if len(legs) > self._limits.transfer_legs_max:
            raise InvalidTransfer(f"{len(legs)} legs > transfer_legs_max {self._limits.transfer_legs_max}")

    def _shard(self, transfer: Transfer, account: Account) -> int:
        count = self.shard_count(account)
        return 0 if count == 1 else zlib.crc32(f"{transfer.id}|{account.key}".encode()) % count

    def _updates(self, transfer: Transfer, effects: tuple[Effect, ...]) -> list[TransactWriteItemTypeDef]:
        out: list[TransactWriteItemTypeDef] = []
        for effect in effects:
            values: dict[str, Any] = {
                ":cur": {"S": transfer.currency},
                ":net": items.num(effect.net),
                ":pnd": items.num(effect.pending),
            }
            update, condition = "ADD net :net, pnd :pnd", "cur = :cur"
            if effect.account.policy.constrained:
                update += ", head :head"
                values[":head"] = items.num(effect.headroom)
            if effect.need:
                condition += " AND head >= :need"
                values[":need"] = items.num(effect.need)
            key = items.balance_key(effect.account, self._shard(transfer, effect.account))
            out.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key,
                        "UpdateExpression": update,
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": values,
                        "ReturnValuesOnConditionCheckFailure": _ALL_OLD,
                    }
                }
            )
        return out

    def _raise_leg_failure(
        self, reasons: list[dict[str, Any]], effects: tuple[Effect, ...], currency: str
    ) -> NoReturn:
        for reason, effect in zip(reasons, effects, strict=True):
            if reason.get("Code") != _CCF:
                continue
            old = reason.get("Item")
            if not old:
                raise AccountNotFound(str(effect.account))
            if old["cur"]["S"] != currency:
                raise CurrencyMismatch(f"{effect.account} holds {old['cur']['S']}, not {currency}")
            raise InsufficientFunds(effect.account)
        raise LedgerBusy(f"transaction cancelled: {reasons}")

    def _transact(self, transact_items: list[TransactWriteItemTypeDef]) -> None:
        limits = self._limits
        for attempt in range(limits.conflict_retries_max + 1):
            try:
                self._call(lambda: self._client.transact_write_items(TransactItems=transact_items))
                return
            except _Cancelled as exc:
                codes = {reason.get("Code") for reason in exc.reasons}
                if _CCF in codes or "TransactionConflict" not in codes:
                    raise
                if attempt == limits.conflict_retries_max:
                    raise LedgerBusy("transaction conflict persisted") from None
                sleep_ms(jitter_ms(limits.conflict_backoff_base_ms * 2**attempt))

    def _call(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                raise _Cancelled([dict(reason) for reason in reasons]) from None
            if code == "ConditionalCheckFailedException":
                raise _Cancelled([{"Code": _CCF, "Item": exc.response.get("Item")}]) from None
            raise LedgerUnavailable(f"{code}: {exc}") from exc
        except BotoCoreError as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        item = response.get("Item")
        return dict(item) if item else None

    def _balance_row(self, account: Account, shard: int) -> dict[str, Any]:
        item = self._get(items.balance_key(account, shard))
        if item is None:
            raise AccountNotFound(str(account))
        return item

    def _scan(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": prefix}},
            ConsistentRead=True,
        )
        try:
            for page in pages:
                for item in page.get("Items", []):
                    yield dict(item)
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(str(exc)) from exc


def _chunks(transfers: Sequence[Transfer], todo: list[int], size_max: int) -> Iterator[list[int]]:
    """Group by currency, then cut so records + distinct accounts fit one transaction."""
    by_currency: dict[str, list[int]] = defaultdict(list)
    for index in todo:
        by_currency[transfers[index].currency].append(index)
    for indices in by_currency.values():
        chunk: list[int] = []
        accounts: set[Account] = set()
        indexed = 0  # partner index entries: one per partner of each transfer
        for index in indices:
            legs = {leg.account for leg in transfers[index].legs}
            entries = len(partners_of(transfers[index]))
            size = len(chunk) + 1 + len(accounts | legs) + indexed + entries
            if chunk and (len(chunk) >= size_max or size > _ITEMS_MAX):
                yield chunk
                chunk, accounts, indexed = [], set(), 0
            chunk.append(index)
            accounts |= legs
            indexed += entries
        if chunk:
            yield chunk


def _index_item(partner_id: str, shard: int, transfer: Transfer) -> dict[str, Any]:
    return {
        "pk": {"S": f"{INDEX_PREFIX}{partner_id}#{shard}"},
        "sk": {"S": ms_key(transfer.at_ms, transfer.id)},
        "tid": {"S": transfer.id},
    }


def _sum_balance(account: Account, shards: list[dict[str, Any]]) -> Balance:
    currency = shards[0]["cur"]["S"]
    net = sum(int(item["net"]["N"]) for item in shards)
    pending = sum(int(item["pnd"]["N"]) for item in shards)
    head = sum(int(item["head"]["N"]) for item in shards if "head" in item)
    limit = sum(int(item["lim"]["N"]) for item in shards if "lim" in item)
    return Balance(account, currency, net, pending, head, limit)
