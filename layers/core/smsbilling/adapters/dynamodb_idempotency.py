"""The idempotency store in the idempotency table (port in logic/idempotency.py).

One item per caller and key: ``IDEM#<scope>`` / ``KEY#<sha-256 of the key>``, with the request's
``fingerprint``, the claim's ``token``, times as epoch microseconds (``created_us``,
``lease_until_us``, ``valid_until_us``: exact round trips) and ``expires_at`` (epoch seconds, the
table's TTL attribute; DynamoDB deletes within days after it, so reads check ``valid_until_us``).
A done record has ``response``, the :class:`StoredResponse` as JSON.

A claim is one conditional ``PutItem``: it succeeds when no item holds the key, or the one there
is past its validity, or in flight with its lease run out. Completing and releasing are
conditional on the token, so a request whose lease was taken over cannot overwrite the new one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.logic.idempotency import IdempotencyRecord, StoredResponse

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLAIM_ATTEMPTS_MAX = 5  # a claim races a release or an expiry only briefly


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(us: str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _key(scope: str, key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"IDEM#{scope}"}, "sk": {"S": f"KEY#{key_hash}"}}


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _record(item: dict[str, Any]) -> IdempotencyRecord:
    response = item.get("response")
    return IdempotencyRecord(
        scope=item["pk"]["S"].removeprefix("IDEM#"),
        key_hash=item["sk"]["S"].removeprefix("KEY#"),
        fingerprint=item["fingerprint"]["S"],
        token=item["token"]["S"],
        created_at=_moment(item["created_us"]["N"]),
        lease_until=_moment(item["lease_until_us"]["N"]),
        expires_at=_moment(item["valid_until_us"]["N"]),
        response=StoredResponse.model_validate_json(response["S"]) if response else None,
    )


class DynamoIdempotencyStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        item = _key(record.scope, record.key_hash) | {
            "fingerprint": {"S": record.fingerprint},
            "token": {"S": record.token},
            "created_us": {"N": str(_us(record.created_at))},
            "lease_until_us": {"N": str(_us(record.lease_until))},
            "valid_until_us": {"N": str(_us(record.expires_at))},
            "expires_at": {"N": str(math.ceil(_us(record.expires_at) / 1_000_000))},
        }
        if record.response is not None:
            item["response"] = {"S": record.response.model_dump_json()}
        for _ in range(_CLAIM_ATTEMPTS_MAX):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR valid_until_us <= :now"
                        " OR (attribute_not_exists(#r) AND lease_until_us <= :now)"
                    ),
                    ExpressionAttributeNames={"#r": "response"},
                    ExpressionAttributeValues={":now": {"N": str(_us(now))}},
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                existing = self.get(record.scope, record.key_hash)
                if existing is not None and existing.blocks(now):
                    return existing
                continue  # released or expired between the put and the read: claim again
            return None
        raise RuntimeError(f"idempotency claim kept racing for {record.scope}")

    def complete(
        self, scope: str, key_hash: str, token: str, response: StoredResponse, expires_at: datetime
    ) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(scope, key_hash),
                UpdateExpression="SET #r = :r, valid_until_us = :v, expires_at = :ttl",
                ConditionExpression="#t = :t AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "response", "#t": "token"},
                ExpressionAttributeValues={
                    ":r": {"S": response.model_dump_json()},
                    ":v": {"N": str(_us(expires_at))},
                    ":ttl": {"N": str(math.ceil(_us(expires_at) / 1_000_000))},
                    ":t": {"S": token},
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def release(self, scope: str, key_hash: str, token: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_key(scope, key_hash),
                ConditionExpression="#t = :t AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "response", "#t": "token"},
                ExpressionAttributeValues={":t": {"S": token}},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key=_key(scope, key_hash), ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None
