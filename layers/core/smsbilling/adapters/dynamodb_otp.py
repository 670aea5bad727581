"""The password-by-SMS stores (ports in logic/otp.py).

* :class:`DynamoOtpStore`, in the messages table: ``OTP#<otp id>`` / ``META`` with the record's
  fields (the code's scrypt hash, never the code) and ``ttl`` = expiry + ``keep_s`` in epoch
  seconds under the table's TTL attribute (``expires_at``; the record's own expiry is stored as
  ``valid_until``, ISO). An attempt is an ``UpdateItem`` that decrements ``attempts_left`` only
  while the code is pending, unexpired and has attempts left, so parallel guesses cannot exceed
  the limit.
* :class:`DynamoSendLimiter`, in the counters table: ``OTPRATE#<msisdn>`` / ``W#<window start>``
  counted with ``ADD`` under the condition that the count is below the limit (a fixed window;
  the item expires a window after it ends).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.adapters.dynamodb_subscriptions import sortable_time
from smsbilling.logic.otp import OtpRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_STORE_ONLY = ("pk", "sk", "valid_until")  # and expires_at, which is the TTL here


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _key(otp_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"OTP#{otp_id}"}, "sk": {"S": "META"}}


def _record(item: dict[str, Any]) -> OtpRecord:
    return from_item(OtpRecord, item | {"expires_at": item["valid_until"]}, skip=_STORE_ONLY)


class DynamoOtpStore:
    def __init__(self, client: DynamoDBClient, table: str, *, keep_s: int) -> None:
        self._client = client
        self._table = table
        self._keep_s = keep_s

    def create(self, record: OtpRecord) -> OtpRecord | None:
        item = model_attributes(record) | _key(record.otp_id)
        item["valid_until"] = {"S": sortable_time(record.expires_at)}
        item["expires_at"] = {
            "N": str(int((record.expires_at + timedelta(seconds=self._keep_s)).timestamp()))
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return self.get(record.otp_id)
        return None

    def get(self, otp_id: str) -> OtpRecord | None:
        item = self._client.get_item(TableName=self._table, Key=_key(otp_id), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def take_attempt(self, otp_id: str, now: datetime) -> OtpRecord | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(otp_id),
                UpdateExpression="SET attempts_left = attempts_left - :one",
                ConditionExpression="#st = :pending AND attempts_left > :zero AND valid_until > :now",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":zero": {"N": "0"},
                    ":pending": {"S": "pending"},
                    ":now": {"S": sortable_time(now)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _record(answer["Attributes"])

    def mark_used(self, otp_id: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(otp_id),
                UpdateExpression="SET #st = :used",
                ConditionExpression="#st = :pending",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":used": {"S": "used"}, ":pending": {"S": "pending"}},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def delete(self, otp_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(otp_id))


class DynamoSendLimiter:
    def __init__(self, client: DynamoDBClient, table: str, *, prefix: str = "OTPRATE") -> None:
        self._client = client
        self._table = table
        self._prefix = prefix

    def try_count(self, key: str, *, window_start: datetime, window_s: int, limit: int) -> bool:
        start_s = int(window_start.timestamp())
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"{self._prefix}#{key}"}, "sk": {"S": f"W#{start_s}"}},
                UpdateExpression="ADD sends :one SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(sends) OR sends < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(start_s + 2 * window_s)},
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True
