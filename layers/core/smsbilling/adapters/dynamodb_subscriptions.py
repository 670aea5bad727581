"""MT-subscriptions in the entities table, with the due index on ``gsi1`` (the port: logic/subscriptions.py).

Items (all ``sk = "META"`` unless said otherwise):

* ``SUBSCR#<service>#<msisdn>``: the :class:`Subscription` as the entities adapter writes it, plus,
  while it is active, ``gsi1pk = "SUBSCR_DUE#<shard>"`` and ``gsi1sk`` = ``next_charge_at`` in UTC,
  fixed width (so strings sort as times). A cancel writes the item without them: a due query never
  sees a cancelled subscription. The shard (a hash of service and msisdn, ``shards`` of them) only
  spreads the write load of a big charge wave over several index partitions; the count may only
  grow (a query reads every shard below the count, and an item's shard under a smaller count is
  below it too).
* ``SUBSCRNUM#<msisdn>`` / ``<short number>#<service>``: which subscriptions a subscriber has on a
  short number (a bare "STOP" finds them here). Written with the subscription, never removed.
* ``SUBSCHG#<MT id>``: a claimed billed MT not yet queued (the command as JSON), on
  ``gsi1pk = "SUBSCR_UNSENT"``; written in the same transaction as the claim, deleted once queued.

Every write of a subscription is conditional on the stored record being the one the caller read
(state, ``charges_count``, ``next_charge_at``, ``started_at``), so a cancel and a charge can never
both win against the same read.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes, to_item
from smsbilling.contracts import MtRequested
from smsbilling.domain.entities import Subscription, SubscriptionState, entity_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DUE_PREFIX = "SUBSCR_DUE#"
UNSENT_PK = "SUBSCR_UNSENT"
INDEX = "gsi1"
_STORE_ONLY = ("pk", "sk", "entity_type", "gsi1pk", "gsi1sk")
_SAME_AS_READ = "#st = :st AND charges_count = :cc AND next_charge_at = :nc AND started_at = :sa"


def sortable_time(at: datetime) -> str:
    """A datetime as a fixed-width UTC string (naive datetimes are taken as UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def due_shard(service_id: str, msisdn: str, shards: int) -> int:
    digest = hashlib.sha256(f"{service_id}\x1f{msisdn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards


def _condition_failed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) and all(
            r.get("Code") in {"ConditionalCheckFailed", "None", None} for r in reasons
        )
    return False


class DynamoSubscriptionStore:
    def __init__(self, client: DynamoDBClient, table: str, *, shards: int = 4, page_size: int = 100) -> None:
        self._client = client
        self._table = table
        self._shards = shards
        self._page_size = page_size

    # --- reads --------------------------------------------------------------------------------

    def get(self, service_id: str, msisdn: str) -> Subscription | None:
        pk, sk = entity_key(Subscription.type_name, f"{service_id}#{msisdn}")
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return from_item(Subscription, item, skip=_STORE_ONLY) if item else None

    def on_short_number(self, msisdn: str, short_number: str) -> list[Subscription]:
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sn)",
            ExpressionAttributeValues={":pk": {"S": f"SUBSCRNUM#{msisdn}"}, ":sn": {"S": f"{short_number}#"}},
            ConsistentRead=True,
        )
        found = []
        for item in answer.get("Items", []):
            service_id = item["sk"]["S"].removeprefix(f"{short_number}#")
            subscription = self.get(service_id, msisdn)
            if subscription is not None and subscription.short_number == short_number:
                found.append(subscription)
        return found

    def due(self, now: datetime) -> Iterator[Subscription]:
        shards = [self._due_in_shard(shard, sortable_time(now)) for shard in range(self._shards)]
        return heapq.merge(*shards, key=lambda s: sortable_time(s.next_charge_at))

    def _due_in_shard(self, shard: int, until: str) -> Iterator[Subscription]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :until",
            "ExpressionAttributeValues": {":pk": {"S": f"{DUE_PREFIX}{shard}"}, ":until": {"S": until}},
            "Limit": self._page_size,
        }
        while True:
            answer = self._client.query(**query)
            for item in answer.get("Items", []):
                yield from_item(Subscription, item, skip=_STORE_ONLY)
            if "LastEvaluatedKey" not in answer:
                return
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def unsent_charges(self, limit: int) -> list[MtRequested]:
        answer = self._client.query(
            TableName=self._table,
            IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": UNSENT_PK}},
            Limit=limit,
        )
        return [MtRequested.model_validate_json(item["command"]["S"]) for item in answer.get("Items", [])]

    # --- writes -------------------------------------------------------------------------------

    def activate(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        if subscription.state is not SubscriptionState.ACTIVE:
            raise ValueError("activate stores an active subscription")
        index = {
            "pk": {"S": f"SUBSCRNUM#{subscription.msisdn}"},
            "sk": {"S": f"{subscription.short_number}#{subscription.service_id}"},
        }
        return self._transact(
            [self._put(subscription, previous), {"Put": {"TableName": self._table, "Item": index}}]
        )

    def cancel(self, subscription: Subscription, *, previous: Subscription) -> bool:
        if subscription.state is not SubscriptionState.CANCELLED:
            raise ValueError("cancel stores a cancelled subscription")
        return self._transact([self._put(subscription, previous)])

    def reschedule(self, updated: Subscription, *, previous: Subscription) -> bool:
        return self._transact([self._put(updated, previous)])

    def claim_charge(self, command: MtRequested, *, updated: Subscription, previous: Subscription) -> bool:
        charge = {
            "pk": {"S": f"SUBSCHG#{command.message_id}"},
            "sk": {"S": "META"},
            "gsi1pk": {"S": UNSENT_PK},
            "gsi1sk": {"S": f"{sortable_time(command.requested_at)}#{command.message_id}"},
            "command": {"S": command.model_dump_json()},
        }
        return self._transact(
            [self._put(updated, previous), {"Put": {"TableName": self._table, "Item": charge}}]
        )

    def charge_sent(self, message_id: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"pk": {"S": f"SUBSCHG#{message_id}"}, "sk": {"S": "META"}}
        )

    def _put(self, subscription: Subscription, previous: Subscription | None) -> dict[str, Any]:
        item = to_item(subscription)
        if subscription.state is SubscriptionState.ACTIVE:
            shard = due_shard(subscription.service_id, subscription.msisdn, self._shards)
            item["gsi1pk"] = {"S": f"{DUE_PREFIX}{shard}"}
            item["gsi1sk"] = {"S": sortable_time(subscription.next_charge_at)}
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            read = model_attributes(previous)
            put["ConditionExpression"] = _SAME_AS_READ
            put["ExpressionAttributeNames"] = {"#st": "state"}
            put["ExpressionAttributeValues"] = {
                ":st": read["state"],
                ":cc": read["charges_count"],
                ":nc": read["next_charge_at"],
                ":sa": read["started_at"],
            }
        return {"Put": put}

    def _transact(self, writes: list[dict[str, Any]]) -> bool:
        try:
            if len(writes) == 1:
                self._client.put_item(**writes[0]["Put"])
            else:
                self._client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True


def create_entities_table(client: DynamoDBClient, table_name: str) -> None:
    """A table shaped like the template's entities table (pk/sk, ``gsi1``), for tests and tools."""
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
