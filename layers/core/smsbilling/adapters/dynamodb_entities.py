"""The entities table: configuration entities stored as native DynamoDB attributes.

Each entity's model is dumped to JSON-compatible values (no floats: money is integer minor
units) and serialised attribute by attribute, so items stay readable in the console and usable
in condition and filter expressions.

Lookups by a secondary key go through ``gsi1`` (eventually consistent): an operator's links
(``gsi1pk = "OPLINKS#<operator_id>"``, ``gsi1sk = <link_id>``) and every operator
(``gsi1pk = "OPERATORS"``, ``gsi1sk = <operator_id>``), written with the entity by :func:`to_item`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from smsbilling.domain.entities import Entity, Operator, OperatorLink, entity_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialise = TypeSerializer().serialize
_deserialise = TypeDeserializer().deserialize
_KEY_ATTRS = ("pk", "sk", "entity_type", "gsi1pk", "gsi1sk")
_INDEX = "gsi1"
OPERATORS_PK = "OPERATORS"


class EntityExists(Exception):
    pass


def model_attributes(model: BaseModel) -> dict[str, Any]:
    """A model's fields as DynamoDB attribute values (``None`` fields left out)."""
    values = model.model_dump(mode="json", exclude_none=True)
    return {name: _serialise(value) for name, value in values.items()}


def links_pk(operator_id: str) -> str:
    return f"OPLINKS#{operator_id}"


def _index_keys(entity: Entity) -> dict[str, Any]:
    """The gsi1 keys of entities found by a secondary key: links by operator, operators as a set."""
    if isinstance(entity, OperatorLink):
        return {"gsi1pk": {"S": links_pk(entity.operator_id)}, "gsi1sk": {"S": entity.link_id}}
    if isinstance(entity, Operator):
        return {"gsi1pk": {"S": OPERATORS_PK}, "gsi1sk": {"S": entity.operator_id}}
    return {}


def to_item(entity: Entity) -> dict[str, Any]:
    pk, sk = entity.key()
    return (
        model_attributes(entity)
        | {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "entity_type": {"S": entity.type_name},
        }
        | _index_keys(entity)
    )


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

    def links_of(self, operator_id: str) -> list[OperatorLink]:
        """Every link of the operator, by link id (gsi1: a link written a moment ago may be missing)."""
        return [from_item(OperatorLink, item) for item in self._index(links_pk(operator_id))]

    def operators(self) -> list[Operator]:
        """Every operator, by id (gsi1, eventually consistent)."""
        return [from_item(Operator, item) for item in self._index(OPERATORS_PK)]

    def _index(self, gsi1pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": gsi1pk}},
        }
        while True:
            page = self._client.query(**query)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
