"""The test tool's log in the messages table: one small item per test MO, listed per service.

==========================  ===========================================  =======================
pk                          sk                                           attributes
==========================  ===========================================  =======================
``TESTLOG#<service_id>``    ``<received_at UTC, fixed width>#<mo id>``   ``message_id``,
                                                                         ``partner_id``,
                                                                         ``received_at``,
                                                                         ``expires_at`` (TTL)
==========================  ===========================================  =======================

A separate item beside the MO (``MSG#<id>``) rather than an index on it: the MO processor writes
the MO whole, and a service's test traffic is small, so one partition per service is plenty. The
MO, its delivery record and its reply are read by id when the log is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.domain.handler_testing import HandlerTestEntry, log_sort_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_PREFIX = "TESTLOG#"
_STORE_ONLY = ("pk", "sk", "type", "expires_at")


class DynamoHandlerTestLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, entry: HandlerTestEntry, *, expires_at_s: int) -> None:
        item = model_attributes(entry) | {
            "pk": {"S": f"{_PREFIX}{entry.service_id}"},
            "sk": {"S": log_sort_key(entry)},
            "type": {"S": "test_log"},
            "expires_at": {"N": str(expires_at_s)},
        }
        self._client.put_item(TableName=self._table, Item=item)  # the same entry again is the same item

    def recent(
        self, service_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[HandlerTestEntry], str | None]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{_PREFIX}{service_id}"}},
            "ScanIndexForward": False,
            "Limit": limit + 1,  # one more tells whether another page follows
        }
        if after is not None:
            query["ExclusiveStartKey"] = {"pk": {"S": f"{_PREFIX}{service_id}"}, "sk": {"S": after}}
        page = self._client.query(**query)
        items = page.get("Items", [])
        entries = [from_item(HandlerTestEntry, item, skip=_STORE_ONLY) for item in items[:limit]]
        return entries, (log_sort_key(entries[-1]) if len(items) > limit else None)
