"""MT records and operator-id correlation in the messages table (the port: ``ports.MtStore``).

Items:

* ``MT#<id>`` / ``META``: the :class:`~smsbilling.ports.MtRecord` as native attributes (the
  domain MT as a map, so its state and parts read in the console), ``type = "mt"``, and on
  ``gsi1``: while the MT is not final, the **expiry index** ``gsi1pk = "MTDUE#<shard>"``,
  ``gsi1sk = "<expires_at_ms, 13 digits>#<id>"`` (the sweep reads what is due, soonest first; the
  shard, a hash of the id, spreads a burst of MTs over ``shards`` partitions, a count that may
  only grow); once final, a partner's MT moves to ``gsi1pk = "MTS#<partner_id>"``,
  ``gsi1sk = "<created_at>#<id>"`` (per-partner listing). Every write is conditional: the create
  on the key being free, a replace on ``version`` being the one the writer read.
* ``OPID#<link_id>#<key>`` / ``META``: which MT part an operator message id belongs to
  (``message_id``, ``part_index``), and final receipts that arrived before it was linked
  (``receipts``, their ids in the string set ``receipt_ids``). Both sides upsert the item in one
  atomic update returning ``ALL_NEW`` (ADR 0003 §8); ``expires_at`` (TTL) removes it after the
  MT's final wait plus ``mt_correlation_keep_s``.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.ports import Correlation, MtRecord, WaitingReceipt

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_META = "META"
DUE_PREFIX = "MTDUE#"
_INDEX = "gsi1"
_RECORD_ONLY = ("pk", "sk", "type", "gsi1pk", "gsi1sk")
_deserialise = TypeDeserializer().deserialize
_UNCLAIMED_OR_MINE = "attribute_not_exists(message_id) OR (message_id = :m AND part_index = :p)"


def _mt_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"MT#{message_id}"}, "sk": {"S": _META}}


def _opid_key(link_id: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"OPID#{link_id}#{key}"}, "sk": {"S": _META}}


def due_shard(message_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:4], "big") % shards


def _to_item(record: MtRecord, shards: int) -> dict[str, Any]:
    item = model_attributes(record) | _mt_key(record.message_id) | {"type": {"S": "mt"}}
    mt = record.mt
    if not mt.is_final:
        item |= {
            "gsi1pk": {"S": f"{DUE_PREFIX}{due_shard(mt.message_id, shards)}"},
            "gsi1sk": {"S": f"{mt.expires_at_ms:013d}#{mt.message_id}"},
        }
    elif record.partner_id is not None:
        item |= {
            "gsi1pk": {"S": f"MTS#{record.partner_id}"},
            "gsi1sk": {"S": f"{record.created_at.isoformat()}#{mt.message_id}"},
        }
    return item


def _from_item(item: dict[str, Any]) -> MtRecord:
    return from_item(MtRecord, item, skip=_RECORD_ONLY)


def _correlation(link_id: str, key: str, item: dict[str, Any] | None) -> Correlation:
    values = {name: _deserialise(value) for name, value in (item or {}).items()}
    return Correlation(
        link_id=link_id,
        key=key,
        message_id=values.get("message_id"),
        part_index=int(values["part_index"]) if "part_index" in values else None,
        receipts=tuple(WaitingReceipt.model_validate(r) for r in values.get("receipts", [])),
    )


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _old_item(error: ClientError) -> dict[str, Any] | None:
    return error.response.get("Item")  # type: ignore[return-value]


class DynamoMtStore:
    def __init__(self, client: DynamoDBClient, table: str, *, shards: int = 4) -> None:
        self._client = client
        self._table = table
        self._shards = shards

    # --- MT records ---------------------------------------------------------------------------

    def create(self, record: MtRecord) -> MtRecord:
        if record.version != 0:
            raise ValueError("a new MT record has version 0")
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(record, self._shards),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old = _old_item(error)
            stored = _from_item(old) if old else self.get(record.message_id)
            if stored is None:  # removed in between: only a person can do that; retry the record
                raise
            return stored
        return record

    def get(self, message_id: str) -> MtRecord | None:
        item = self._client.get_item(TableName=self._table, Key=_mt_key(message_id), ConsistentRead=True).get(
            "Item"
        )
        return _from_item(item) if item else None

    def replace(self, record: MtRecord) -> bool:
        if record.version < 1:
            raise ValueError("a replacing record has version >= 1")
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(record, self._shards),
                ConditionExpression="version = :read",
                ExpressionAttributeValues={":read": {"N": str(record.version - 1)}},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # --- correlation --------------------------------------------------------------------------

    def link(
        self, link_id: str, key: str, message_id: str, part_index: int, *, expires_at_s: int
    ) -> Correlation:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_opid_key(link_id, key),
                UpdateExpression="SET message_id = :m, part_index = :p, expires_at = :exp, #t = :type",
                ConditionExpression=_UNCLAIMED_OR_MINE,
                ExpressionAttributeNames={"#t": "type"},
                ExpressionAttributeValues={
                    ":m": {"S": message_id},
                    ":p": {"N": str(part_index)},
                    ":exp": {"N": str(expires_at_s)},
                    ":type": {"S": "opid"},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return _correlation(link_id, key, _old_item(error))  # another part holds it
        return _correlation(link_id, key, answer.get("Attributes"))

    def add_receipt(
        self, link_id: str, key: str, receipt: WaitingReceipt, *, expires_at_s: int, receipts_max: int
    ) -> Correlation | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_opid_key(link_id, key),
                UpdateExpression=(
                    "SET receipts = list_append(if_not_exists(receipts, :none), :r),"
                    " expires_at = if_not_exists(expires_at, :exp), #t = :type ADD receipt_ids :ids"
                ),
                ConditionExpression=(
                    "(attribute_not_exists(receipt_ids) OR NOT contains(receipt_ids, :id))"
                    " AND (attribute_not_exists(receipts) OR size(receipts) < :max)"
                ),
                ExpressionAttributeNames={"#t": "type"},
                ExpressionAttributeValues={
                    ":r": {"L": [{"M": model_attributes(receipt)}]},
                    ":none": {"L": []},
                    ":exp": {"N": str(expires_at_s)},
                    ":type": {"S": "opid"},
                    ":ids": {"SS": [receipt.receipt_id]},
                    ":id": {"S": receipt.receipt_id},
                    ":max": {"N": str(receipts_max)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old = _correlation(link_id, key, _old_item(error))
            kept = any(r.receipt_id == receipt.receipt_id for r in old.receipts)
            return old if kept or old.message_id is not None else None
        return _correlation(link_id, key, answer.get("Attributes"))

    def correlation(self, link_id: str, key: str) -> Correlation | None:
        item = self._client.get_item(
            TableName=self._table, Key=_opid_key(link_id, key), ConsistentRead=True
        ).get("Item")
        return _correlation(link_id, key, item) if item else None

    # --- the expiry index ---------------------------------------------------------------------

    def expired(self, now_ms: int, limit: int) -> list[str]:
        """Every shard read up to ``limit`` due entries; merged soonest first."""
        per_shard = [self._due(shard, now_ms, limit) for shard in range(self._shards)]
        return [message_id for _, message_id in heapq.merge(*per_shard)][:limit]

    def _due(self, shard: int, now_ms: int, limit: int) -> list[tuple[str, str]]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :end",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"{DUE_PREFIX}{shard}"},
                ":end": {"S": f"{now_ms:013d}$"},  # '$' sorts after '#': every id due at now_ms
            },
            "ProjectionExpression": "gsi1sk",
            "Limit": limit,
        }
        found: list[tuple[str, str]] = []
        while len(found) < limit:
            page = self._client.query(**query)
            for item in page.get("Items", []):
                sort_key = item["gsi1sk"]["S"]
                found.append((sort_key, sort_key.split("#", 1)[1]))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]
