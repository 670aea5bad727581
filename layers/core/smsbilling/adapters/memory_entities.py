"""In-memory entity store: the fake of DynamoEntityStore (same contract tests)."""

from __future__ import annotations

from smsbilling.adapters.dynamodb_entities import EntityExists
from smsbilling.domain.entities import Entity, Operator, OperatorLink, entity_key


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

    def links_of(self, operator_id: str) -> list[OperatorLink]:
        links = (e for e in self.items.values() if isinstance(e, OperatorLink))
        return sorted(
            (link for link in links if link.operator_id == operator_id), key=lambda link: link.link_id
        )

    def operators(self) -> list[Operator]:
        return sorted(
            (e for e in self.items.values() if isinstance(e, Operator)), key=lambda op: op.operator_id
        )
