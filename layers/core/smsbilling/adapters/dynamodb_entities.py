"""The entities table: configuration entities stored as native DynamoDB attributes.

Each entity's model is dumped to JSON-compatible values (no floats: money is integer minor
units) and serialised attribute by attribute, so items stay readable in the console and usable
in condition and filter expressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from smsbilling.domain.entities import Entity, entity_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialise = TypeSerializer().serialize
_deserialise = TypeDeserializer().deserialize
_KEY_ATTRS = ("pk", "sk", "entity_type")


class EntityExists(Exception):
    pass


def to_item(entity: Entity) -> dict[str, Any]:
    pk, sk = entity.key()
    values = entity.model_dump(mode="json", exclude_none=True)
    item = {name: _serialise(value) for name, value in values.items()}
    item.update(pk={"S": pk}, sk={"S": sk}, entity_type={"S": entity.type_name})
    return item


def from_item[E: Entity](model: type[E], item: dict[str, Any]) -> E:
    return model.model_validate({k: _deserialise(v) for k, v in item.items() if k not in _KEY_ATTRS})


class DynamoEntityStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, entity: Entity) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(entity))

    def create(self, entity: Entity) -> None:
        """Put only if no entity has this key (EntityExists otherwise): atomic claims."""
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item(entity), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise EntityExists(entity.key()[0]) from None
            raise

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None:
        pk, sk = entity_key(model.type_name, entity_id)
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return from_item(model, item) if item else None
