"""The entities table: configuration entities stored as native DynamoDB attributes.

Each entity's model is dumped to JSON-compatible values (no floats: money is integer minor
units) and serialised attribute by attribute, so items stay readable in the console and usable
in condition and filter expressions.

Lookups by a secondary key go through ``gsi1`` (eventually consistent): an operator's links
(``gsi1pk = "OPLINKS#<operator_id>"``, ``gsi1sk = <link_id>``) and every operator
(``gsi1pk = "OPERATORS"``, ``gsi1sk = <operator_id>``), written with the entity by :func:`to_item`.

The listings of the admin API (docs/admin-api.md) use the same index, one partition per kind,
paged by an opaque cursor (:func:`encode_cursor`; the last item's keys):

==========================  ==========================  ==============================
entity                      ``gsi1pk``                  ``gsi1sk``
==========================  ==========================  ==============================
ShortNumber                 ``SHORTNUMS``               ``<operator_id>#<number>``
Partner                     ``PARTNERS``                ``<partner_id>``
PartnerService              ``SERVICES``                ``<partner_id>#<service_id>``
BlacklistEntry              ``BLACKLIST#<scope>``       ``<msisdn>``
ReservedPrefix              ``RESERVED``                ``<folded>``
AdminKey                    ``ADMINKEYS``               ``<key_id>``
ApiKey                      ``APIKEYS#<partner_id>``    ``<key_id>``
AdminAuditEntry             ``AUDIT#<YYYY-MM-DD>``      ``<at, fixed width UTC>#<audit_id>``
==========================  ==========================  ==============================

These are configuration entities (thousands, written by people), so one partition per kind stays
far below a partition's write rate; the audit log is split by day.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from smsbilling.domain.entities import (
    AdminAuditEntry,
    AdminKey,
    ApiKey,
    BlacklistEntry,
    Entity,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    ReservedPrefix,
    ServiceStatus,
    ShortNumber,
    entity_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialise = TypeSerializer().serialize
_deserialise = TypeDeserializer().deserialize
_KEY_ATTRS = ("pk", "sk", "entity_type", "gsi1pk", "gsi1sk")
_INDEX = "gsi1"
OPERATORS_PK = "OPERATORS"


class EntityExists(Exception):
    pass


class InvalidCursor(ValueError):
    """A listing cursor that this store did not hand out (or for another listing)."""


def model_attributes(model: BaseModel) -> dict[str, Any]:
    """A model's fields as DynamoDB attribute values (``None`` fields left out)."""
    values = model.model_dump(mode="json", exclude_none=True)
    return {name: _serialise(value) for name, value in values.items()}


def links_pk(operator_id: str) -> str:
    return f"OPLINKS#{operator_id}"


def audit_pk(day: date) -> str:
    return f"AUDIT#{day.isoformat()}"


def _audit_keys(entry: AdminAuditEntry) -> tuple[str, str]:
    at = entry.at.astimezone(UTC)
    return audit_pk(at.date()), f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry.audit_id}"


_LISTED: dict[type[Entity], Callable[[Any], tuple[str, str]]] = {
    OperatorLink: lambda e: (links_pk(e.operator_id), e.link_id),
    Operator: lambda e: (OPERATORS_PK, e.operator_id),
    ShortNumber: lambda e: ("SHORTNUMS", f"{e.operator_id}#{e.number}"),
    Partner: lambda e: ("PARTNERS", e.partner_id),
    PartnerService: lambda e: ("SERVICES", f"{e.partner_id}#{e.service_id}"),
    BlacklistEntry: lambda e: (f"BLACKLIST#{e.scope}", e.msisdn),
    ReservedPrefix: lambda e: ("RESERVED", e.folded),
    AdminKey: lambda e: ("ADMINKEYS", e.key_id),
    ApiKey: lambda e: (f"APIKEYS#{e.partner_id}", e.key_id),  # a partner's keys (web/keys.py)
    AdminAuditEntry: _audit_keys,
}


def index_keys(entity: Entity) -> tuple[str, str] | None:
    """``(gsi1pk, gsi1sk)`` of an entity found by a secondary key or listed, else None."""
    keys = _LISTED.get(type(entity))
    return keys(entity) if keys is not None else entity.listing()


def _index_keys(entity: Entity) -> dict[str, Any]:
    keys = index_keys(entity)
    return {} if keys is None else {"gsi1pk": {"S": keys[0]}, "gsi1sk": {"S": keys[1]}}


def encode_cursor(pk: str, gsi1sk: str) -> str:
    """The cursor after an item: its table key and index sort key, opaque to clients."""
    raw = json.dumps([pk, gsi1sk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        pk, gsi1sk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as error:
        raise InvalidCursor("malformed cursor") from error
    if not isinstance(pk, str) or not isinstance(gsi1sk, str):
        raise InvalidCursor("malformed cursor")
    return pk, gsi1sk


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

    def update[E: Entity](
        self, entity: E, fields: Collection[str], *, only_if: Mapping[str, str] | None = None
    ) -> E | None:
        """Write only ``fields`` of ``entity`` over the stored one; the stored entity afterwards.

        None, and nothing written, when there is no such entity, or when a stored field named in
        ``only_if`` does not hold that value (one conditional write: a compare-and-set). Other
        fields stay as stored, so two writers of different fields (an admin's moderation, a
        partner's handler URL) never undo each other. The index keys are rewritten from ``entity``.
        """
        unknown = set(fields) - set(type(entity).model_fields)
        if unknown or not fields:
            raise ValueError(f"bad fields to update: {sorted(unknown) or 'none'}")
        values = model_attributes(entity)
        names = {f"#f{n}": name for n, name in enumerate(sorted(fields))}
        sets = [f"{alias} = :v{alias[2:]}" for alias, name in names.items() if name in values]
        removes = [alias for alias, name in names.items() if name not in values]
        attrs = {f":v{alias[2:]}": values[name] for alias, name in names.items() if name in values}
        for n, (name, value) in enumerate(_index_keys(entity).items()):
            names[f"#i{n}"] = name
            sets.append(f"#i{n} = :i{n}")
            attrs[f":i{n}"] = value
        expression = f"SET {', '.join(sets)}" if sets else ""
        if removes:
            expression = f"{expression} REMOVE {', '.join(removes)}".strip()
        condition = ["attribute_exists(pk)"]
        for n, (name, value) in enumerate((only_if or {}).items()):
            names[f"#c{n}"] = name
            attrs[f":c{n}"] = {"S": value}
            condition.append(f"#c{n} = :c{n}")
        pk, sk = entity.key()
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(condition),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if attrs:
            request["ExpressionAttributeValues"] = attrs
        try:
            updated = self._client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(type(entity), updated["Attributes"])

    def delete(self, model: type[Entity], entity_id: str) -> bool:
        """Remove the entity; False when there was none."""
        pk, sk = entity_key(model.type_name, entity_id)
        old = self._client.delete_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return bool(old)

    def links_of(self, operator_id: str) -> list[OperatorLink]:
        """Every link of the operator, by link id (gsi1: a link written a moment ago may be missing)."""
        return [from_item(OperatorLink, item) for item in self._index(links_pk(operator_id))]

    def operators(self) -> list[Operator]:
        """Every operator, by id (gsi1, eventually consistent)."""
        return [from_item(Operator, item) for item in self._index(OPERATORS_PK)]

    # --- listings (gsi1, eventually consistent; a page may be short, follow the cursor) -----------

    def partners(self, *, limit: int, cursor: str | None = None) -> tuple[list[Partner], str | None]:
        return self._page(Partner, "PARTNERS", "", limit, cursor)

    def services(
        self,
        partner_id: str | None = None,
        *,
        status: ServiceStatus | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[PartnerService], str | None]:
        """Services by partner and id: every partner's, or one partner's; of one status if given."""
        prefix = "" if partner_id is None else f"{partner_id}#"
        return self._page(PartnerService, "SERVICES", prefix, limit, cursor, status=status)

    def short_numbers(
        self, operator_id: str | None = None, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ShortNumber], str | None]:
        prefix = "" if operator_id is None else f"{operator_id}#"
        return self._page(ShortNumber, "SHORTNUMS", prefix, limit, cursor)

    def blacklist(
        self, scope: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[BlacklistEntry], str | None]:
        """One scope's entries (``*``: platform-wide, else a partner id), by MSISDN."""
        return self._page(BlacklistEntry, f"BLACKLIST#{scope}", "", limit, cursor)

    def reserved_prefixes(
        self, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ReservedPrefix], str | None]:
        return self._page(ReservedPrefix, "RESERVED", "", limit, cursor)

    def admin_keys(self, *, limit: int, cursor: str | None = None) -> tuple[list[AdminKey], str | None]:
        return self._page(AdminKey, "ADMINKEYS", "", limit, cursor)

    def audit_entries(
        self, day: date, *, limit: int, cursor: str | None = None
    ) -> tuple[list[AdminAuditEntry], str | None]:
        """One UTC day's admin changes, oldest first."""
        return self._page(AdminAuditEntry, audit_pk(day), "", limit, cursor)

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]:
        """A page of the entities listed under ``gsi1pk`` (:meth:`Entity.listing`), by sort key."""
        return self._page(model, gsi1pk, prefix, limit, cursor)

    def _page[E: Entity](
        self,
        model: type[E],
        gsi1pk: str,
        prefix: str,
        limit: int,
        cursor: str | None,
        *,
        status: ServiceStatus | None = None,
    ) -> tuple[list[E], str | None]:
        if limit < 1:
            raise ValueError("limit must be positive")
        values: dict[str, Any] = {":pk": {"S": gsi1pk}}
        condition = "gsi1pk = :pk"
        if prefix:
            condition += " AND begins_with(gsi1sk, :prefix)"
            values[":prefix"] = {"S": prefix}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _INDEX,
            "KeyConditionExpression": condition,
            "Limit": limit,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":status"] = {"S": status.value}
        query["ExpressionAttributeValues"] = values
        if cursor is not None:
            pk, gsi1sk = decode_cursor(cursor)
            if not gsi1sk.startswith(prefix) or not pk.startswith(f"{model.type_name}#"):
                raise InvalidCursor("the cursor belongs to another listing")
            query["ExclusiveStartKey"] = {
                "pk": {"S": pk},
                "sk": {"S": "META"},
                "gsi1pk": {"S": gsi1pk},
                "gsi1sk": {"S": gsi1sk},
            }
        try:
            page = self._client.query(**query)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException" and cursor:
                raise InvalidCursor("the cursor belongs to another listing") from None
            raise
        found = [from_item(model, item) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return found, None if last is None else encode_cursor(last["pk"]["S"], last["gsi1sk"]["S"])

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
