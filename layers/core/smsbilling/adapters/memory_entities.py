"""In-memory entity store: the fake of DynamoEntityStore (same contract tests)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from smsbilling.adapters.dynamodb_entities import (
    EntityExists,
    InvalidCursor,
    audit_pk,
    decode_cursor,
    encode_cursor,
    index_keys,
)
from smsbilling.domain.entities import (
    AdminAuditEntry,
    AdminKey,
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


class MemoryEntityStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Entity] = {}

    def put(self, entity: Entity) -> None:
        self.items[entity.key()] = entity

    def create(self, entity: Entity) -> None:
        if entity.key() in self.items:
            raise EntityExists(entity.key()[0])
        self.items[entity.key()] = entity

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None:
        found = self.items.get(entity_key(model.type_name, entity_id))
        return found if isinstance(found, model) else None

    def update[E: Entity](
        self, entity: E, fields: Collection[str], *, only_if: Mapping[str, str] | None = None
    ) -> E | None:
        unknown = set(fields) - set(type(entity).model_fields)
        if unknown or not fields:
            raise ValueError(f"bad fields to update: {sorted(unknown) or 'none'}")
        stored = self.items.get(entity.key())
        if not isinstance(stored, type(entity)):
            return None
        if only_if and any(getattr(stored, name) != value for name, value in only_if.items()):
            return None
        updated = stored.model_copy(update={name: getattr(entity, name) for name in fields})
        self.items[entity.key()] = updated
        return updated

    def delete(self, model: type[Entity], entity_id: str) -> bool:
        key = entity_key(model.type_name, entity_id)
        if not isinstance(self.items.get(key), model):
            return False
        del self.items[key]
        return True

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
        prefix = "" if partner_id is None else f"{partner_id}#"
        found, after = self._page(PartnerService, "SERVICES", prefix, limit, cursor)
        return [s for s in found if status is None or s.status is status], after

    def short_numbers(
        self, operator_id: str | None = None, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ShortNumber], str | None]:
        prefix = "" if operator_id is None else f"{operator_id}#"
        return self._page(ShortNumber, "SHORTNUMS", prefix, limit, cursor)

    def blacklist(
        self, scope: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[BlacklistEntry], str | None]:
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
        return self._page(AdminAuditEntry, audit_pk(day), "", limit, cursor)

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]:
        return self._page(model, gsi1pk, prefix, limit, cursor)

    def _page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str, limit: int, cursor: str | None
    ) -> tuple[list[E], str | None]:
        """As the DynamoDB store pages gsi1: by (gsi1sk, pk), ``limit`` at a time (filters after)."""
        if limit < 1:
            raise ValueError("limit must be positive")
        rows = []
        for entity in self.items.values():
            keys = index_keys(entity) or ("", "")
            if isinstance(entity, model) and keys[0] == gsi1pk and keys[1].startswith(prefix):
                rows.append((keys[1], entity.key()[0], entity))
        rows.sort(key=lambda row: (row[0], row[1]))
        if cursor is not None:
            pk, gsi1sk = decode_cursor(cursor)
            if not gsi1sk.startswith(prefix) or not pk.startswith(f"{model.type_name}#"):
                raise InvalidCursor("the cursor belongs to another listing")
            rows = [row for row in rows if (row[0], row[1]) > (gsi1sk, pk)]
        page = rows[:limit]
        more = len(rows) > limit
        return [row[2] for row in page], encode_cursor(page[-1][1], page[-1][0]) if more else None

    def links_of(self, operator_id: str) -> list[OperatorLink]:
        links = (e for e in self.items.values() if isinstance(e, OperatorLink))
        return sorted(
            (link for link in links if link.operator_id == operator_id), key=lambda link: link.link_id
        )

    def operators(self) -> list[Operator]:
        return sorted(
            (e for e in self.items.values() if isinstance(e, Operator)), key=lambda op: op.operator_id
        )
