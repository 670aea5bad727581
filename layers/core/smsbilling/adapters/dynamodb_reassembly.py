"""Parts of long MOs waiting for each other, in the messages table.

Items (partition ``CONCAT#<link>#<msisdn>#<ref>#<total>``):

============  =================================================================================
sk            attributes
============  =================================================================================
``PART#<n>``  ``mid`` (the part's MO id), ``t`` (text) or ``p`` (payload hex) + ``dc``,
              ``expires_at`` (epoch s: the set's timeout from this part's arrival; also the TTL)
``DONE``      the completion: ``owner``, ``members`` (part MO ids), ``parts`` (list of maps as
              above), ``window_end`` (epoch s), ``expires_at`` (TTL, long enough for every
              redelivery of the owner)
============  =================================================================================

A part is put with ``attribute_not_exists(pk) OR expires_at < :now`` (a timed-out part of an
earlier set with the same reference may be replaced); the completion likewise with
``attribute_not_exists(pk) OR window_end < :now``, so of two parts completing a set at once
exactly one writes it. TTL deletion lags, so reads filter on ``expires_at`` themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.domain.mo_content import Completion, Part

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_DONE = "DONE"


def _part_attrs(part: Part) -> dict[str, Any]:
    if part.payload is None:
        return {"t": {"S": part.text or ""}}
    return {"p": {"S": part.payload.hex()}, "dc": {"N": str(part.data_coding)}}


def _part_from(attrs: dict[str, Any]) -> Part:
    if "p" in attrs:
        return Part(None, payload=bytes.fromhex(attrs["p"]["S"]), data_coding=int(attrs["dc"]["N"]))
    return Part(None, text=attrs["t"]["S"])


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _completion_from(item: dict[str, Any]) -> Completion:
    return Completion(
        owner=item["owner"]["S"],
        members=tuple(m["S"] for m in item["members"]["L"]),
        parts=tuple(_part_from(p["M"]) for p in item["parts"]["L"]),
        window_end=int(item["window_end"]["N"]),
    )


class DynamoReassemblyStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, set_key: str, seq: int, message_id: str, part: Part, *, expires_at: int, now: int) -> str:
        item = {
            "pk": {"S": set_key},
            "sk": {"S": f"PART#{seq:03d}"},
            "mid": {"S": message_id},
            "expires_at": {"N": str(expires_at)},
        } | _part_attrs(part)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return str(old["mid"]["S"]) if "mid" in old else message_id
        return message_id

    def parts(self, set_key: str, *, now: int) -> dict[int, tuple[str, Part]]:
        found: dict[int, tuple[str, Part]] = {}
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :part)",
            "FilterExpression": "expires_at >= :now",
            "ExpressionAttributeValues": {
                ":pk": {"S": set_key},
                ":part": {"S": "PART#"},
                ":now": {"N": str(now)},
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**query)
            for item in response.get("Items", []):
                found[int(item["sk"]["S"].removeprefix("PART#"))] = (item["mid"]["S"], _part_from(item))
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def completion(self, set_key: str) -> Completion | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": set_key}, "sk": {"S": _DONE}}, ConsistentRead=True
        ).get("Item")
        return _completion_from(item) if item else None

    def complete(self, set_key: str, completion: Completion, *, now: int, expires_at: int) -> Completion:
        item: dict[str, Any] = {
            "pk": {"S": set_key},
            "sk": {"S": _DONE},
            "owner": {"S": completion.owner},
            "members": {"L": [{"S": m} for m in completion.members]},
            "parts": {"L": [{"M": _part_attrs(p)} for p in completion.parts]},
            "window_end": {"N": str(completion.window_end)},
            "expires_at": {"N": str(expires_at)},
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR window_end < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            standing = _completion_from(old) if old else self.completion(set_key)
            if standing is None:  # removed in between: safe to retry the record
                raise
            return standing
        return completion

    def discard(self, set_key: str) -> None:
        keys: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": set_key}},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**query)
            keys.extend({"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for key in keys:  # at most 256 items: one per part and the completion
            self._client.delete_item(TableName=self._table, Key=key)
