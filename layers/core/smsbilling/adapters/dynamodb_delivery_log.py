"""Partner delivery's log in the messages table, beside the MO (see domain/delivery_log.py).

==================  ===============  ====================================================================
pk                  sk               item
==================  ===============  ====================================================================
``MSG#<mo id>``     ``DELIVERY``     :class:`DeliveryRecord` + ``settled`` (bool): put unless a settled
                                     one is there, so nothing overwrites "delivered" or "queued";
                                     a ``calling`` one also carries ``lease_ms`` (epoch ms), and
                                     another call is claimed only once that lease has run out
``MSG#<mo id>``     ``REPLY``        :class:`ReplyRecord`: put if absent, the stored one returned
==================  ===============  ====================================================================

Separate items rather than attributes of ``MSG#<id>/META``: the MO processor writes that item whole
(a conditional put), and :class:`~smsbilling.domain.inbound.StoredMo` refuses unknown attributes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.domain.delivery_log import DeliveryRecord, ReplyRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_DELIVERY, _REPLY = "DELIVERY", "REPLY"
_STORE_ONLY = ("pk", "sk", "type", "settled", "lease_ms")


def _key(message_id: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"MSG#{message_id}"}, "sk": {"S": sk}}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDeliveryLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, message_id: str) -> DeliveryRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key=_key(message_id, _DELIVERY), ConsistentRead=True
        ).get("Item")
        return from_item(DeliveryRecord, item, skip=_STORE_ONLY) if item else None

    def record(self, record: DeliveryRecord) -> bool:
        return self._put(record, "attribute_not_exists(pk) OR settled = :false", {})

    def claim_call(self, record: DeliveryRecord, *, now: datetime) -> bool:
        return self._put(
            record,
            "attribute_not_exists(pk)"
            " OR (settled = :false AND (attribute_not_exists(lease_ms) OR lease_ms < :now))",
            {":now": {"N": str(_ms(now))}},
        )

    def _put(self, record: DeliveryRecord, condition: str, values: dict[str, Any]) -> bool:
        item = model_attributes(record) | _key(record.message_id, _DELIVERY)
        item |= {"type": {"S": "delivery"}, "settled": {"BOOL": record.state.is_settled}}
        if record.lease_until is not None:
            item["lease_ms"] = {"N": str(_ms(record.lease_until))}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues={":false": {"BOOL": False}, **values},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def claim_reply(self, reply: ReplyRecord) -> ReplyRecord:
        item = model_attributes(reply) | _key(reply.message_id, _REPLY) | {"type": {"S": "reply"}}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if old is None:  # an emulator that does not return the old item: read it
                old = self._client.get_item(
                    TableName=self._table, Key=_key(reply.message_id, _REPLY), ConsistentRead=True
                ).get("Item")
            if old is None:
                raise
            return from_item(ReplyRecord, old, skip=_STORE_ONLY)
        return reply
