"""A partner's messages, newest first, from the messages table's ``gsi1`` (read only).

Two index partitions per partner: ``MOS#<partner_id>`` (decided MOs, written by
:meth:`~smsbilling.adapters.dynamodb_inbound.DynamoInboundStore.decide`) and ``MTS#<partner_id>``
(final MTs, written by :mod:`smsbilling.adapters.dynamodb_mt`), both sorted by
``<UTC ISO time>#<id>``. Each is queried newest first between the time bounds and below the
page's boundary; the subscriber, status and service are a ``FilterExpression``, so a selective
filter reads more than it returns: one request reads at most ``examined_max`` index entries
(split over the partitions) and then ends its page early, with a boundary to go on from.
:func:`~smsbilling.domain.cursors.merge_newest_first` merges the two.

The index is eventually consistent: a message decided a moment ago may not be listed yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from smsbilling.adapters.dynamodb_entities import from_item
from smsbilling.adapters.dynamodb_inbound import MO_LISTING_PREFIX
from smsbilling.domain.cursors import Page, Window, merge_newest_first, time_bound
from smsbilling.domain.inbound import StoredMo
from smsbilling.domain.message_search import Direction, MessageFilter
from smsbilling.ports import MtRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MT_LISTING_PREFIX: Final = "MTS#"
_INDEX: Final = "gsi1"
_SKIP: Final = ("pk", "sk", "type", "gsi1pk", "gsi1sk")
_AFTER_EVERY_KEY: Final = "~"  # sorts after every listing key (they start with a year)
_FILTERED_READ_FACTOR: Final = 10  # a filtered query reads this many entries per wanted match

Listed = StoredMo | MtRecord


def _mo(item: dict[str, Any]) -> Listed:
    message_id = {"S": item["pk"]["S"].removeprefix("MSG#")}  # records of the first version lack it
    return from_item(StoredMo, item | {"message_id": message_id}, skip=_SKIP)


def _mt(item: dict[str, Any]) -> Listed:
    return from_item(MtRecord, item, skip=_SKIP)


def _filter(direction: Direction, query: MessageFilter) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The FilterExpression, its names and values for one partition ('' when nothing filters)."""
    terms: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if query.msisdn is not None:
        names["#num"] = "msisdn" if direction is Direction.MO else "destination"
        values[":num"] = {"S": query.msisdn}
        terms.append("#num = :num")
    if query.status is not None:
        if direction is Direction.MO:
            names["#st"] = "state"
            terms.append("#st = :st")
        else:
            names |= {"#mt": "mt", "#st": "state"}
            terms.append("#mt.#st = :st")
        values[":st"] = {"S": query.status}
    if query.service_id is not None:
        names["#svc"] = "service_id"
        values[":svc"] = {"S": query.service_id}
        terms.append("#svc = :svc")
    return " AND ".join(terms), names, values


class DynamoMessageSearch:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def search(
        self, partner_id: str, query: MessageFilter, *, before: str | None, limit: int, examined_max: int
    ) -> Page[Listed]:
        low = time_bound(query.since) if query.since is not None else "0"
        until = time_bound(query.until) if query.until is not None else _AFTER_EVERY_KEY
        high = min(until, before or _AFTER_EVERY_KEY)
        if low > high:
            return Page((), None)
        directions = query.directions()
        budget = max(limit + 1, examined_max // len(directions))
        bounds = (low, high)
        windows = [
            self._window(partner_id, direction, query, bounds, limit=limit, budget=budget)
            for direction in directions
        ]
        return merge_newest_first(windows, limit)

    def _window(
        self,
        partner_id: str,
        direction: Direction,
        query: MessageFilter,
        bounds: tuple[str, str],
        *,
        limit: int,
        budget: int,
    ) -> Window[Listed]:
        low, high = bounds
        prefix, parse = (MO_LISTING_PREFIX, _mo) if direction is Direction.MO else (MT_LISTING_PREFIX, _mt)
        parse_item: Callable[[dict[str, Any]], Listed] = parse
        expression, names, values = _filter(direction, query)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"{prefix}{partner_id}"},
                ":low": {"S": low},
                ":high": {"S": high},
            }
            | values,
            "ScanIndexForward": False,
        }
        if expression:
            request |= {"FilterExpression": expression, "ExpressionAttributeNames": names}
        per_read = (limit + 1) * (_FILTERED_READ_FACTOR if expression else 1)
        found: list[tuple[str, Listed]] = []
        examined = 0
        while True:
            answer = self._client.query(**request, Limit=min(per_read, budget - examined))
            examined += answer.get("ScannedCount", 0)
            for item in answer.get("Items", []):
                key = item["gsi1sk"]["S"]
                if key != high:  # the boundary itself was on the last page
                    found.append((key, parse_item(item)))
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return Window(tuple(found), None)
            if len(found) >= limit or examined >= budget:
                return Window(tuple(found), last["gsi1sk"]["S"])
            request["ExclusiveStartKey"] = last
