"""Windowed traffic counters in the counters table, counted once per message (docs/traffic/fraud-limits.md).

Items:

===========================================  =================================================================
key (pk / sk)                                attributes
===========================================  =================================================================
``TC#<key>#<window>#<start>#<group>`` /      ``n``: the shard's part of the window's total (``ADD`` only);
``S<shard>``                                 ``expires_at``: the window's end + ``keep_after_window_s``
``TCMSG#<message id>`` / ``MARK``            ``ks``: the counters (``window:key``) the message added to;
                                             ``v``: a version; ``expires_at``: the longest window's end + keep
===========================================  =================================================================

**Counting** is one ``TransactWriteItems``: the message's marker (created with
``attribute_not_exists(pk)``, or, when it exists, updated under ``v = :v`` adding the new counters to
``ks``) plus an ``ADD n :amount`` on one shard item of every counter the message has not added to
yet. So a redelivery (every counter in the marker already) writes nothing; two controls counting
different counters for one message each add theirs (the process remembers the markers it wrote
last, so the second one updates the marker at once instead of failing a ``Put`` first); concurrent
messages never lose an add (``ADD`` commutes; ``TransactionConflict`` on a busy shard is retried
with full-jitter backoff, then :class:`CountersBusy`).

**Shards.** A counter of ``shards`` > 1 has that many items; the message's is its id's CRC-32 modulo
``shards``. A transaction holds every item it writes until it commits, so one item takes only a few
tens of transactions a second before most of them conflict: a counter that sees a large share of
all traffic needs many items (64 by default). They are laid out ``SHARDS_PER_KEY`` (16) to a
partition key (shard ``s`` in group ``s mod groups``): each group's partition takes a quarter of
the counter's writes (at 1,000 messages/s, 250 transactions, 500 WCU/s: under a partition's 1,000),
and one ``Query`` reads a whole group, billed by its bytes (16 small items: one read unit), not by
its items.

**Totals** are read after the write, strongly consistent: one ``BatchGetItem`` for the counters of
one item, one ``Query`` per group for the sharded ones (concurrently). The reads are not one snapshot,
but counters only grow within a window and every read starts after our commit, so each total
returned is at least the total at our commit: a message past a threshold always sees itself past it
(a message just below may also see later messages; limits err towards acting, never towards letting
a message through). ``TransactGetItems`` would give a snapshot at twice the read cost, on items
only, and nothing a threshold needs.

Counter items expire (TTL ``expires_at``) ``keep_after_window_s`` after their window ends. The
marker lives as long as the longest window it counted in, so a message redelivered (or redriven from
a dead-letter queue) while any of its windows is open is never counted twice. Raising a counter's
``shards`` mid-window is safe (the reads cover every earlier item); lowering it loses the higher
shards' part until the window ends.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.pacing import jitter_ms, sleep_ms
from smsbilling.domain.traffic import window_end, window_start
from smsbilling.logic.fraud_limits import FraudLimitControl
from smsbilling.logic.traffic_control import CounterHit, counter_ids
from smsbilling.logic.traffic_defaults import LiveTrafficLimits
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHARDS_PER_KEY: Final = 16  # shard items under one partition key (one Query reads them: ~2 KB)
_MARK_SK: Final = "MARK"
_BATCH_GET_MAX: Final = 100  # DynamoDB: keys per BatchGetItem
_TRANSACT_ITEMS_MAX: Final = 100  # DynamoDB: actions per TransactWriteItems (the marker is one)
_READERS: Final = 8  # concurrent reads of one count's totals


class CountersBusy(Exception):
    """Contention or throttling on the counters did not clear within the retries; safe to retry later."""


@dataclass(frozen=True, slots=True)
class _Marker:
    counted: frozenset[str]
    version: int
    expires_at: int


def shard_of(message_id: str, shards: int) -> int:
    """The shard a message adds to (stable across processes and redeliveries)."""
    return 0 if shards <= 1 else zlib.crc32(message_id.encode()) % shards


def groups_of(shards: int) -> int:
    """Partition keys a counter of ``shards`` items spreads over."""
    return max(1, -(-shards // SHARDS_PER_KEY))


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _group_pk(hit: CounterHit, at_s: int, group: int) -> str:
    return f"TC#{hit.key}#{hit.window.value}#{window_start(hit.window, at_s)}#{group}"


def shard_key(hit: CounterHit, at_s: int, shard: int) -> tuple[str, str]:
    """``(pk, sk)`` of a counter's shard item in the window holding ``at_s``."""
    return _group_pk(hit, at_s, shard % groups_of(hit.shards)), f"S{shard}"


class DynamoTrafficCounters:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        keep_after_window_s: int = 3_600,
        conflict_retries_max: int = 8,
        backoff_base_ms: int = 5,
    ) -> None:
        self._client = client
        self._table = table
        self._keep_s = keep_after_window_s
        self._retries = conflict_retries_max
        self._backoff_ms = backoff_base_ms
        self._readers: ThreadPoolExecutor | None = None

    # --- the port -------------------------------------------------------------------------------------

    def count(self, message_id: str, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        ids = counter_ids(hits)
        if not hits:
            return []
        if len(hits) >= _TRANSACT_ITEMS_MAX:
            raise ValueError(f"{len(hits)} counters in one count; at most {_TRANSACT_ITEMS_MAX - 1}")
        expires_at = max(window_end(hit.window, at_s) for hit in hits) + self._keep_s
        # The marker as this process last wrote it (another control counting for the same message),
        # else assume a new message: no read before the write. A stale one fails its condition.
        marker = _RECENT.get(self._table, message_id)
        for attempt in range(self._retries + 1):
            new = [(hit, ident) for hit, ident in zip(hits, ids, strict=True) if not _has(marker, ident)]
            if not new:
                break
            reasons = self._transact(self._writes(message_id, marker, new, expires_at, at_s))
            if reasons is None:
                _RECENT.put(self._table, message_id, _after(marker, new, expires_at))
                break
            if reasons[0] == "ConditionalCheckFailed":  # counted before, or the marker moved: look again
                marker = self._marker(message_id)
                continue
            if "TransactionConflict" not in reasons:
                raise CountersBusy(f"counting {message_id} cancelled: {reasons}")
            if attempt < self._retries:
                sleep_ms(jitter_ms(self._backoff_ms * 2**attempt))
        else:
            raise CountersBusy(f"counting {message_id}: contention on the counters persisted")
        return self.totals(hits, at_s=at_s)

    def totals(self, hits: Sequence[CounterHit], *, at_s: int) -> list[int]:
        counter_ids(hits)
        single = [shard_key(hit, at_s, 0) for hit in hits if hit.shards == 1]
        groups = list(
            dict.fromkeys(
                _group_pk(hit, at_s, group)
                for hit in hits
                if hit.shards > 1
                for group in range(groups_of(hit.shards))
            )
        )
        found: dict[str, int] = {}
        if groups:
            readers = self._pool()
            queried = [readers.submit(self._query_group, pk) for pk in groups]
            found |= self._read_items(single)
            for pk, future in zip(groups, queried, strict=True):
                found[pk] = future.result()
        else:
            found |= self._read_items(single)
        return [
            found.get(shard_key(hit, at_s, 0)[0], 0)
            if hit.shards == 1
            else sum(found[_group_pk(hit, at_s, g)] for g in range(groups_of(hit.shards)))
            for hit in hits
        ]

    # --- writes ---------------------------------------------------------------------------------------

    def _writes(
        self,
        message_id: str,
        marker: _Marker | None,
        new: list[tuple[CounterHit, str]],
        expires_at: int,
        at_s: int,
    ) -> list[dict[str, Any]]:
        key = {"pk": _s(f"TCMSG#{message_id}"), "sk": _s(_MARK_SK)}
        idents = {"SS": [ident for _, ident in new]}
        write: dict[str, Any]
        if marker is None:
            write = {
                "Put": {
                    "TableName": self._table,
                    "Item": key | {"ks": idents, "v": _n(1), "expires_at": _n(expires_at)},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        else:
            write = {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "UpdateExpression": "SET v = :next, expires_at = :ttl ADD ks :ks",
                    "ConditionExpression": "v = :v",
                    "ExpressionAttributeValues": {
                        ":v": _n(marker.version),
                        ":next": _n(marker.version + 1),
                        ":ttl": _n(max(expires_at, marker.expires_at)),
                        ":ks": idents,
                    },
                }
            }
        writes = [write]
        for hit, _ in new:
            if hit.amount == 0:
                continue  # counted (in the marker), nothing to add
            pk, sk = shard_key(hit, at_s, shard_of(message_id, hit.shards))
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(pk), "sk": _s(sk)},
                        "UpdateExpression": "ADD n :amount SET expires_at = :ttl",
                        "ExpressionAttributeValues": {
                            ":amount": _n(hit.amount),
                            ":ttl": _n(window_end(hit.window, at_s) + self._keep_s),
                        },
                    }
                }
            )
        return writes

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run the transaction: None when committed, else the cancellation reason codes."""
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "TransactionConflictException":  # a non-transactional writer held an item
                return ["None", "TransactionConflict"]
            if code != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            return [reason.get("Code", "None") for reason in reasons] or ["None"]

    # --- reads ----------------------------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        if self._readers is None:
            self._readers = ThreadPoolExecutor(max_workers=_READERS, thread_name_prefix="counters")
        return self._readers

    def _marker(self, message_id: str) -> _Marker | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": _s(f"TCMSG#{message_id}"), "sk": _s(_MARK_SK)},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return _Marker(
            counted=frozenset(item["ks"]["SS"]),
            version=int(item["v"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )

    def _query_group(self, pk: str) -> int:
        """The sum of one group's shard items."""
        total = 0
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": _s(pk)},
                "ProjectionExpression": "n",
                "ConsistentRead": True,
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            answer = self._client.query(**request)
            total += sum(int(item["n"]["N"]) for item in answer.get("Items", []) if "n" in item)
            start = answer.get("LastEvaluatedKey")
            if not start:
                return total

    def _read_items(self, keys: list[tuple[str, str]]) -> dict[str, int]:
        """``n`` of single items by pk (absent items: not in the answer)."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(keys))
        for begin in range(0, len(unique), _BATCH_GET_MAX):
            chunk = unique[begin : begin + _BATCH_GET_MAX]
            wanted: list[Any] = [{"pk": _s(pk), "sk": _s(sk)} for pk, sk in chunk]
            for attempt in range(self._retries + 1):
                if attempt:  # unprocessed keys: the table is throttling, back off
                    sleep_ms(jitter_ms(self._backoff_ms * 2**attempt))
                answer = self._client.batch_get_item(
                    RequestItems={
                        self._table: {"Keys": wanted, "ConsistentRead": True, "ProjectionExpression": "pk, n"}
                    }
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"]] = int(item["n"]["N"])
                unprocessed = answer.get("UnprocessedKeys") or {}
                wanted = list(unprocessed[self._table]["Keys"]) if self._table in unprocessed else []
                if not wanted:
                    break
            if wanted:
                raise CountersBusy("counter totals not read: the table kept throttling")
        return found


def _has(marker: _Marker | None, ident: str) -> bool:
    return marker is not None and ident in marker.counted


def _after(marker: _Marker | None, new: list[tuple[CounterHit, str]], expires_at: int) -> _Marker:
    """The marker as the transaction that added ``new`` left it."""
    added = frozenset(ident for _, ident in new)
    if marker is None:
        return _Marker(added, 1, expires_at)
    return _Marker(marker.counted | added, marker.version + 1, max(expires_at, marker.expires_at))


class _RecentMarkers:
    """The markers this process wrote last (bounded), shared by every adapter instance: the guard's
    controls each count for the same message, one after the other, through their own instances."""

    def __init__(self, size_max: int) -> None:
        self._size_max = size_max
        self._markers: OrderedDict[tuple[str, str], _Marker] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, table: str, message_id: str) -> _Marker | None:
        with self._lock:
            return self._markers.get((table, message_id))

    def put(self, table: str, message_id: str, marker: _Marker) -> None:
        with self._lock:
            self._markers[table, message_id] = marker
            self._markers.move_to_end((table, message_id))
            while len(self._markers) > self._size_max:
                self._markers.popitem(last=False)


_RECENT: Final = _RecentMarkers(size_max=4_096)


def build_fraud_limit_control(
    settings: Settings, client: DynamoDBClient, entities: DynamoEntityStore, live: LiveTrafficLimits
) -> FraudLimitControl:
    """The deployed fraud-limit and MO flood control (adapters/traffic_guard.py, slot 4); ``live``:
    the admin's overrides of the settings."""
    return FraudLimitControl(entities, DynamoTrafficCounters(client, settings.tables.counters), live)
