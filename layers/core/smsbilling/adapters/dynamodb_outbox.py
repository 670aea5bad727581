"""The outbox in the messages table: ``pk = "OUTBOX#<system_id>"``, ``sk = "<created ms>#<item id>"``.

Items sort oldest first within a partner. A lease is a conditional update of ``lease_until``
(ms), so several bridge instances holding binds of the same partner never deliver one item at
the same time; a bridge that dies mid-delivery leaves a lease that simply runs out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.domain.outbox import OutboxItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_STORE_ONLY = ("pk", "sk", "lease_until", "entity_type")
_CLAIMABLE = "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)"


def _key(item: OutboxItem) -> dict[str, Any]:
    created_ms = int(item.created_at.timestamp() * 1000)
    return {"pk": {"S": f"OUTBOX#{item.system_id}"}, "sk": {"S": f"{created_ms:013d}#{item.item_id}"}}


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoOutboxStore:
    def __init__(self, client: DynamoDBClient, table: str, *, scan_factor: int = 4) -> None:
        self._client = client
        self._table = table
        self._scan_factor = scan_factor  # items read per item wanted, to step over leased ones

    def put(self, item: OutboxItem) -> None:
        record = model_attributes(item) | _key(item)
        try:
            self._client.put_item(
                TableName=self._table, Item=record, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def lease(self, system_id: str, limit: int, *, now_ms: int, lease_ms: int) -> list[OutboxItem]:
        """Reads page by page past items leased by others, so leased heads never hide free items."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "attribute_not_exists(lease_until) OR lease_until < :now",
            "ExpressionAttributeValues": {":pk": {"S": f"OUTBOX#{system_id}"}, ":now": {"N": str(now_ms)}},
            "Limit": max(limit * self._scan_factor, limit),
            "ConsistentRead": True,
        }
        leased: list[OutboxItem] = []
        while len(leased) < limit:
            response = self._client.query(**query)
            for record in response.get("Items", []):
                claimed = self._claim(record, now_ms, lease_ms)
                if claimed is not None:
                    leased.append(claimed)
                    if len(leased) >= limit:
                        break
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return leased

    def _claim(self, record: dict[str, Any], now_ms: int, lease_ms: int) -> OutboxItem | None:
        try:
            updated = self._client.update_item(
                TableName=self._table,
                Key={"pk": record["pk"], "sk": record["sk"]},
                UpdateExpression="SET lease_until = :until ADD attempts :one",
                ConditionExpression=_CLAIMABLE,
                ExpressionAttributeValues={
                    ":until": {"N": str(now_ms + lease_ms)},
                    ":now": {"N": str(now_ms)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None  # another bridge took it, or it was delivered meanwhile
            raise
        return from_item(OutboxItem, dict(updated["Attributes"]), skip=_STORE_ONLY)

    def ack(self, item: OutboxItem) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(item))

    def release(self, item: OutboxItem) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(item),
                UpdateExpression="REMOVE lease_until",
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
