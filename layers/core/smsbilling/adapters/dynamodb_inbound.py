"""DynamoDB adapter for inbound messages (messages table): ``pk = "MSG#<message_id>"``, ``sk = "META"``.

The item holds every :class:`StoredMo` field as a native attribute (``None`` fields left out),
plus ``type = "mo"``. :meth:`DynamoInboundStore.decide` writes the MO processor's decision as
one conditional update (every field of the decided MO set; attributes other writers add are
kept): it succeeds only while the stored message is still undecided
(``received``, or ``accepted`` for records an earlier version claimed), so of two concurrent
processors exactly one decides and the other learns it lost.

A decision that names a partner (routed, or blacklisted by that partner) also puts the MO on
``gsi1``, the partner's message listing: ``gsi1pk = "MOS#<partner_id>"``, ``gsi1sk =
"<received_at, UTC ISO 8601>#<message_id>"`` (:func:`smsbilling.domain.cursors.listing_key`; the
MT store lists a partner's final MTs the same way under ``MTS#``). MO records have no TTL, so
neither have their index entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import from_item, model_attributes
from smsbilling.domain.cursors import listing_key
from smsbilling.domain.inbound import MoState, StoredMo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_META = "META"
_STORE_ONLY = ("pk", "sk", "type", "gsi1pk", "gsi1sk")
MO_LISTING_PREFIX = "MOS#"
_UNDECIDED = "#s IN (:received, :accepted, :held)"


def _msg_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"MSG#{message_id}"}, "sk": {"S": _META}}


def _mo_to_item(mo: StoredMo) -> dict[str, Any]:
    return model_attributes(mo) | _msg_key(mo.message_id) | {"type": {"S": "mo"}}


def _mo_from_item(item: dict[str, Any]) -> StoredMo:
    message_id = {"S": item["pk"]["S"].removeprefix("MSG#")}  # items of the first version lack it
    return from_item(StoredMo, item | {"message_id": message_id}, skip=_STORE_ONLY)


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoInboundStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_mo_to_item(mo),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            existing = _mo_from_item(old) if old else self.get(mo.message_id)
            if existing is None:  # deleted in between: vanishingly rare, and safe to retry
                raise
            return existing
        return mo

    def decide(self, mo: StoredMo) -> bool:
        if not mo.state.is_decided:
            raise ValueError(f"decide() needs a final state or held, got {mo.state.value}")
        values = model_attributes(mo)
        del values["message_id"]
        if mo.partner_id is not None:  # the partner's listing (gsi1)
            values["gsi1pk"] = {"S": f"{MO_LISTING_PREFIX}{mo.partner_id}"}
            values["gsi1sk"] = {"S": listing_key(mo.received_at, mo.message_id)}
        names = {f"#a{i}": name for i, name in enumerate(values)} | {"#s": "state"}
        assignments = ", ".join(f"#a{i} = :a{i}" for i in range(len(values)))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_msg_key(mo.message_id),
                UpdateExpression=f"SET {assignments}",  # attributes others may add are kept
                ConditionExpression=_UNDECIDED,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":a{i}": value for i, value in enumerate(values.values())}
                | {
                    ":received": {"S": MoState.RECEIVED.value},
                    ":accepted": {"S": MoState.ACCEPTED.value},
                    ":held": {"S": MoState.HELD.value},
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def get(self, message_id: str) -> StoredMo | None:
        item = self._client.get_item(
            TableName=self._table, Key=_msg_key(message_id), ConsistentRead=True
        ).get("Item")
        return _mo_from_item(item) if item else None
