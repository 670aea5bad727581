"""API request counters in the counters table (port in logic/rate_limits.py).

One item per key and UTC minute: ``APIRATE#<key>`` / ``M#<minute start, epoch s>`` holding ``n``
(the minute's count) and ``sNN`` (the count of second NN of that minute). One ``UpdateItem``
with ``ADD`` counts a request in both windows atomically and returns both counts; ``expires_at``
(the table's TTL attribute) lets the item go a minute after its minute ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.logic.rate_limits import WindowCounts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEEP_AFTER_MINUTE_S = 60


class DynamoRateCounter:
    def __init__(self, client: DynamoDBClient, table: str, *, prefix: str = "APIRATE") -> None:
        self._client = client
        self._table = table
        self._prefix = prefix

    def hit(self, key: str, at_s: int) -> WindowCounts:
        minute = at_s - at_s % 60
        second = f"s{at_s % 60:02d}"
        answer = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"{self._prefix}#{key}"}, "sk": {"S": f"M#{minute}"}},
            UpdateExpression="ADD n :one, #s :one SET expires_at = :ttl",
            ExpressionAttributeNames={"#s": second},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":ttl": {"N": str(minute + 60 + _KEEP_AFTER_MINUTE_S)},
            },
            ReturnValues="UPDATED_NEW",
        )
        counts = answer["Attributes"]
        return WindowCounts(second=int(counts[second]["N"]), minute=int(counts["n"]["N"]))
