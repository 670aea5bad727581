"""Partner statistics in the counters table, aggregated as charges are booked (exactly once each).

Items:

======================================  ===========================  =============================
pk                                      sk                           attributes
======================================  ===========================  =============================
``STAT#<partner>#<YYYY-MM>#<shard>``    ``<YYYY-MM-DD>#<combo>``     ``day``, ``svc``, ``num``,
                                                                     ``op``, ``cur``; the counts
                                                                     (domain/statistics.py)
                                                                     changed by ``ADD`` only
``STATMSG#<message_id>``                ``M``                        the message's marker: partner,
                                                                     day, combination, shard,
                                                                     ``inc`` (its share), ``st``
                                                                     pending / posted / voided,
                                                                     ``expires_at`` (TTL)
======================================  ===========================  =============================

``<combo>`` is a hash of (service, short number, operator, currency): one item per combination
and day, so an item stays small however many services a partner has. The shard is a hash of the
message id over ``shards`` (which may only grow: reads query every shard up to the count), so a
busy partner's writes spread over ``shards`` partition keys and items; a month per partition key
keeps a statistics read to (months x shards) queries.

Counting is one ``TransactWriteItems``: the marker is put with ``attribute_not_exists(pk)`` and
the counts are added, so a repeated charge (its marker exists) counts nothing. Settling a pending
charge moves the marker from ``pending`` (a condition) and the counts in one transaction, so a
DLR counted twice moves nothing twice. ``TransactionConflict`` is retried with jitter; contention
that does not clear raises :class:`StatisticsBusy` (the caller's record is retried: safe).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from smsbilling.adapters.pacing import jitter_ms, sleep_ms
from smsbilling.domain.statistics import ChargeEntry, Counts, StatLine, booked, settled
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_MARKER_SK: Final = "M"
_PENDING, _POSTED, _VOIDED = "pending", "posted", "voided"
_COUNT_ATTRS: Final = {
    "charged": "n",
    "income": "inc",
    "pending": "pn",
    "pending_income": "pinc",
    "voided": "vn",
}
_AFTER_COMBOS: Final = "$"  # sorts after '#': the end of a day's combinations


class StatisticsBusy(Exception):
    """Contention on the statistics items did not clear within the retries; safe to retry later."""


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _marker_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"STATMSG#{message_id}"}, "sk": {"S": _MARKER_SK}}


def _stat_pk(partner_id: str, day: date, shard: int) -> str:
    return f"STAT#{partner_id}#{day:%Y-%m}#{shard}"


def _stat_sk(day: date, service_id: str, short_number: str, operator_id: str, currency: str) -> str:
    combo = json.dumps([service_id, short_number, operator_id, currency], separators=(",", ":"))
    return f"{day.isoformat()}#{hashlib.sha256(combo.encode()).hexdigest()[:24]}"


def _months(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s."""
    return [
        date(index // 12, index % 12 + 1, 1)
        for index in range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
    ]


def _counts_update(table: str, key: dict[str, Any], dims: dict[str, str], delta: Counts) -> dict[str, Any]:
    changed = delta.changed()
    names = {f"#d{i}": name for i, name in enumerate(dims)} | {
        f"#c{i}": _COUNT_ATTRS[name] for i, name in enumerate(changed)
    }
    values = {f":d{i}": {"S": value} for i, value in enumerate(dims.values())} | {
        f":c{i}": _n(value) for i, value in enumerate(changed.values())
    }
    sets = ", ".join(f"#d{i} = :d{i}" for i in range(len(dims)))
    adds = ", ".join(f"#c{i} :c{i}" for i in range(len(changed)))
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": f"SET {sets} ADD {adds}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _line(item: dict[str, Any]) -> StatLine:
    counts = Counts(**{name: int(item[attr]["N"]) for name, attr in _COUNT_ATTRS.items() if attr in item})
    return StatLine(
        day=date.fromisoformat(item["day"]["S"]),
        service_id=item["svc"]["S"],
        short_number=item["num"]["S"],
        operator_id=item["op"]["S"],
        currency=item["cur"]["S"],
        counts=counts,
    )


class DynamoStatisticsStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        shards: int = 4,
        marker_keep_s: int = 35 * 86_400,
        conflict_retries_max: int = 6,
        backoff_base_ms: int = 5,
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be positive")
        self._client = client
        self._table = table
        self._shards = shards
        self._keep_s = marker_keep_s
        self._retries = conflict_retries_max
        self._backoff_ms = backoff_base_ms

    @classmethod
    def deployed(cls, client: DynamoDBClient, settings: Settings) -> DynamoStatisticsStore:
        """The store on the counters table, as every function that charges builds it."""
        return cls(
            client,
            settings.tables.counters,
            shards=settings.reports.statistics_shards_count,
            marker_keep_s=settings.reports.statistics_marker_keep_s,
            conflict_retries_max=settings.ledger.conflict_retries_max,
            backoff_base_ms=settings.ledger.conflict_backoff_base_ms,
        )

    # --- counting (the charger) ------------------------------------------------------------------

    def booked(self, entry: ChargeEntry, *, pending: bool) -> bool:
        """Count a booked charge once; False if its marker exists (counted before)."""
        shard = zlib.crc32(entry.message_id.encode()) % self._shards
        day = entry.day
        stat_key = {
            "pk": {"S": _stat_pk(entry.partner_id, day, shard)},
            "sk": {
                "S": _stat_sk(day, entry.service_id, entry.short_number, entry.operator_id, entry.currency)
            },
        }
        marker = _marker_key(entry.message_id) | {
            "p": {"S": entry.partner_id},
            "day": {"S": day.isoformat()},
            "svc": {"S": entry.service_id},
            "num": {"S": entry.short_number},
            "op": {"S": entry.operator_id},
            "cur": {"S": entry.currency},
            "inc": _n(entry.income),
            "shard": _n(shard),
            "st": {"S": _PENDING if pending else _POSTED},
            "expires_at": _n(entry.at_ms // 1000 + self._keep_s),
        }
        dims = {
            "day": day.isoformat(),
            "svc": entry.service_id,
            "num": entry.short_number,
            "op": entry.operator_id,
            "cur": entry.currency,
        }
        return self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": marker,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": _counts_update(
                        self._table, stat_key, dims, booked(entry.income, pending=pending)
                    )
                },
            ]
        )

    def settled(self, message_id: str, *, delivered: bool) -> bool:
        """Move a pending charge to posted or voided once; False if none is pending."""
        marker = self._client.get_item(
            TableName=self._table, Key=_marker_key(message_id), ConsistentRead=True
        ).get("Item")
        if marker is None or marker["st"]["S"] != _PENDING:
            return False
        day = date.fromisoformat(marker["day"]["S"])
        dims = {name: marker[name]["S"] for name in ("day", "svc", "num", "op", "cur")}
        stat_key = {
            "pk": {"S": _stat_pk(marker["p"]["S"], day, int(marker["shard"]["N"]))},
            "sk": {"S": _stat_sk(day, dims["svc"], dims["num"], dims["op"], dims["cur"])},
        }
        delta = settled(int(marker["inc"]["N"]), delivered=delivered)
        return self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _marker_key(message_id),
                        "UpdateExpression": "SET st = :new",
                        "ConditionExpression": "st = :pending",
                        "ExpressionAttributeValues": {
                            ":new": {"S": _POSTED if delivered else _VOIDED},
                            ":pending": {"S": _PENDING},
                        },
                    }
                },
                {"Update": _counts_update(self._table, stat_key, dims, delta)},
            ]
        )

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """True when committed; False when the marker's condition refused it (done before)."""
        for attempt in range(self._retries + 1):
            try:
                self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons") or []]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if "TransactionConflict" not in reasons:
                    raise StatisticsBusy(f"statistics not counted: {reasons}") from error
                if attempt < self._retries:
                    sleep_ms(jitter_ms(self._backoff_ms * 2**attempt))
        raise StatisticsBusy("transaction conflict on the statistics persisted")

    # --- reading (the partner API) ---------------------------------------------------------------

    def lines(self, partner_id: str, first: date, last: date) -> list[StatLine]:
        """Every stored line of the partner from ``first`` to ``last`` (inclusive), shards not summed."""
        out: list[StatLine] = []
        for month in _months(first, last):
            for shard in range(self._shards):
                request: dict[str, Any] = {
                    "TableName": self._table,
                    "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                    "ExpressionAttributeValues": {
                        ":pk": {"S": _stat_pk(partner_id, month, shard)},
                        ":low": {"S": first.isoformat()},
                        ":high": {"S": f"{last.isoformat()}{_AFTER_COMBOS}"},
                    },
                }
                while True:
                    answer = self._client.query(**request)
                    out += [_line(item) for item in answer.get("Items", [])]
                    if "LastEvaluatedKey" not in answer:
                        break
                    request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return out
