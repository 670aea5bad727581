"""The entities table: configuration entities stored as native DynamoDB attributes.

Each entity's model is dumped to JSON-compatible values (no floats: money is integer minor
units) and serialised attribute by attribute, so items stay readable in the console and usable
in condition and filter expressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from smsbilling.domain.entities import Entity, entity_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialise = TypeSerializer().serialize
_deserialise = TypeDeserializer().deserialize
_KEY_ATTRS = ("pk", "sk", "entity_type")


class EntityExists(Exception):
    pass


def model_attributes(model: BaseModel) -> dict[str, Any]:
    """A model's fields as DynamoDB attribute values (``None`` fields left out)."""
    values = model.model_dump(mode="json", exclude_none=True)
    return {name: _serialise(value) for name, value in values.items()}


def to_item(entity: Entity) -> dict[str, Any]:
    pk, sk = entity.key()
    return model_attributes(entity) | {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "entity_type": {"S": entity.type_name},
    }


def from_item[M: BaseModel](model: type[M], item: dict[str, Any], *, skip: tuple[str, ...] = _KEY_ATTRS) -> M:
    return model.model_validate({k: _deserialise(v) for k, v in item.items() if k not in skip})


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
