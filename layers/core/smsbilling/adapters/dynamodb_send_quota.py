"""Message quotas in the counters table (port in logic/send_limits.py).

One item per key and UTC minute, as the API's request counters (adapters/dynamodb_rate_counter.py):
``SENDQ#<key>`` / ``M#<minute start, epoch s>`` holding ``n`` (the minute's messages) and ``sNN``
(second NN's). A take is one conditional ``UpdateItem``: ``ADD`` the count to both only if each
stays within its maximum, so concurrent requests can never take more than the limit together, and
a refused one adds nothing. Only a refusal reads the item again, to say which window is full.
``expires_at`` (the table's TTL attribute) lets the item go a minute after its minute ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smsbilling.logic.send_limits import QuotaRefused, WindowName

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_AFTER_MINUTE_S = 60


class DynamoSendQuota:
    def __init__(self, client: DynamoDBClient, table: str, *, prefix: str = "SENDQ") -> None:
        self._client = client
        self._table = table
        self._prefix = prefix

    def _key(self, key: str, at_s: int) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"{self._prefix}#{key}"}, "sk": {"S": f"M#{at_s - at_s % 60}"}}

    def take(
        self, key: str, count: int, at_s: int, *, per_s_max: int, per_min_max: int
    ) -> QuotaRefused | None:
        minute = at_s - at_s % 60
        second = f"s{at_s % 60:02d}"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key, at_s),
                UpdateExpression="ADD n :k, #s :k SET expires_at = :ttl",
                ConditionExpression=(
                    "(attribute_not_exists(n) OR n <= :min_left)"
                    " AND (attribute_not_exists(#s) OR #s <= :s_left)"
                ),
                ExpressionAttributeNames={"#s": second},
                ExpressionAttributeValues={
                    ":k": {"N": str(count)},
                    ":min_left": {"N": str(per_min_max - count)},
                    ":s_left": {"N": str(per_s_max - count)},
                    ":ttl": {"N": str(minute + 60 + _KEEP_AFTER_MINUTE_S)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return QuotaRefused(self._full_window(key, at_s, count, per_min_max))
        return None

    def _full_window(self, key: str, at_s: int, count: int, per_min_max: int) -> WindowName:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(key, at_s), ConsistentRead=True, ProjectionExpression="n"
        ).get("Item", {})
        used = int(item.get("n", {}).get("N", "0"))
        return "minute" if used + count > per_min_max else "second"

    def give_back(self, key: str, count: int, at_s: int) -> None:
        second = f"s{at_s % 60:02d}"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key, at_s),
                UpdateExpression="ADD n :minus, #s :minus",
                ConditionExpression="attribute_exists(n) AND n >= :k AND #s >= :k",
                ExpressionAttributeNames={"#s": second},
                ExpressionAttributeValues={":minus": {"N": str(-count)}, ":k": {"N": str(count)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
