"""In-memory entity store: the fake of DynamoEntityStore (same contract tests)."""

from __future__ import annotations

from smsbilling.adapters.dynamodb_entities import EntityExists
from smsbilling.domain.entities import Entity, entity_key


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
