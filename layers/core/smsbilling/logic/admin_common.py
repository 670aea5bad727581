"""What every admin operation shares: the store port, who is calling, the errors, the audit record.

Every change an admin makes goes through :func:`record`: one :class:`AdminAuditEntry` per change
(the admin key id, the time, the action, the entity key it touched and the fields set, secrets
redacted), written right after the change succeeds. A change whose audit item cannot be written
raises :class:`AuditNotWritten` carrying the entry: the API logs it in full (ERROR) and answers
503, so the admin sees it and the log holds the record of that change; the change itself stands
(a retried create then answers 200 with the stored entity and writes no second entry).

Creates are "same id, same fields: already done" (:func:`create_once`): an admin retrying a create
whose answer was lost gets the stored entity back, and a different entity under a taken id is a
:class:`Conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

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
)

REDACTED = "***"

type PageOf[E] = tuple[list[E], str | None]


class AdminStore(Protocol):
    """The entities table as the admin API uses it (adapters: DynamoEntityStore, MemoryEntityStore)."""

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def put(self, entity: Entity) -> None: ...

    def create(self, entity: Entity) -> None:
        """Put only if no entity has this key; raise otherwise."""
        ...

    def update[E: Entity](
        self, entity: E, fields: Collection[str], *, only_if: Mapping[str, str] | None = None
    ) -> E | None:
        """Write only ``fields``; None, and nothing written, when there is no such entity or a
        stored field named in ``only_if`` does not hold that value (a compare-and-set)."""
        ...

    def delete(self, model: type[Entity], entity_id: str) -> bool: ...

    def operators(self) -> list[Operator]: ...

    def links_of(self, operator_id: str) -> list[OperatorLink]: ...

    def partners(self, *, limit: int, cursor: str | None = None) -> PageOf[Partner]: ...

    def services(
        self,
        partner_id: str | None = None,
        *,
        status: ServiceStatus | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> PageOf[PartnerService]: ...

    def short_numbers(
        self, operator_id: str | None = None, *, limit: int, cursor: str | None = None
    ) -> PageOf[ShortNumber]: ...

    def blacklist(self, scope: str, *, limit: int, cursor: str | None = None) -> PageOf[BlacklistEntry]: ...

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> PageOf[E]:
        """Entities listed under ``gsi1pk`` by :meth:`Entity.listing` (new kinds need no store change)."""
        ...

    def reserved_prefixes(self, *, limit: int, cursor: str | None = None) -> PageOf[ReservedPrefix]: ...

    def admin_keys(self, *, limit: int, cursor: str | None = None) -> PageOf[AdminKey]: ...

    def audit_entries(
        self, day: date, *, limit: int, cursor: str | None = None
    ) -> PageOf[AdminAuditEntry]: ...


@dataclass(frozen=True, slots=True)
class AdminCall:
    """Who makes a change, and when (the request's time, UTC)."""

    admin_key_id: str
    now: datetime


# --- errors: each maps to one problem response (web/admin/common.py) ----------------------------------


class AdminError(Exception):
    """Base of what the admin logic raises on purpose."""


class NotFound(AdminError):
    """The id in the path names nothing (404)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no such {what}")
        self.what = what


class Conflict(AdminError):
    """The request cannot apply to the entity as it stands (409); ``code`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AuditNotWritten(AdminError):
    """The change was made but its audit item could not be stored (503; the entry is logged)."""

    def __init__(self, entry: AdminAuditEntry) -> None:
        super().__init__("the change was made but its audit record could not be stored")
        self.entry = entry


class Invalid(AdminError):
    """A field of the request is well formed but not acceptable (422), e.g. an unknown reference."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- helpers --------------------------------------------------------------------------------------------


def record(
    store: AdminStore,
    call: AdminCall,
    action: str,
    target: Entity | str,
    changes: Mapping[str, Any] | None = None,
    *,
    secrets: Iterable[str] = (),
) -> AdminAuditEntry:
    """Write the audit item of one change (``secrets``: fields whose values are redacted)."""
    entry = AdminAuditEntry(
        audit_id=uuid.uuid4().hex,
        at=call.now,
        admin_key_id=call.admin_key_id,
        action=action,
        target=target if isinstance(target, str) else target.key()[0],
        changes=redact(changes or {}, secrets),
    )
    try:
        store.put(entry)
    except Exception as error:
        raise AuditNotWritten(entry) from error
    return entry


def redact(changes: Mapping[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
    """``changes`` as JSON values, with the values of ``secrets`` replaced (None stays None)."""
    hidden = set(secrets)
    plain: dict[str, Any] = to_jsonable_python(dict(changes))
    return {name: REDACTED if name in hidden and v is not None else v for name, v in plain.items()}


def create_once[E: Entity](store: AdminStore, entity: E, *, ignore: Collection[str] = ()) -> tuple[E, bool]:
    """Create ``entity``: ``(entity, True)``; the same one stored already: ``(stored, False)``.

    ``ignore`` names fields a retry may legitimately differ in (a server-set ``created_at``).
    Another entity under the same id is a :class:`Conflict` ``already_exists``.
    """
    try:
        store.create(entity)
        return entity, True
    except Exception:
        stored = store.get(type(entity), entity.entity_id)
        if stored is None:  # the create failed for another reason: not ours to hide
            raise
    if stored.model_dump(exclude=set(ignore)) != entity.model_dump(exclude=set(ignore)):
        raise Conflict("already_exists", f"{entity.type_name.lower()} {entity.entity_id} exists already")
    return stored, False


def listing_holds[E: Entity](
    store: AdminStore, model: type[E], gsi1pk: str, prefix: str = "", *, at_least: int
) -> bool:
    """Whether a listing holds ``at_least`` entities (read page by page, only as far as needed)."""
    counted, cursor = 0, None
    while True:
        page, cursor = store.page(model, gsi1pk, prefix, limit=200, cursor=cursor)
        counted += len(page)
        if counted >= at_least:
            return True
        if cursor is None:
            return False


def merged[E: Entity](current: E, changes: Mapping[str, Any]) -> E:
    """``current`` with ``changes`` applied and validated again (Invalid names the field at fault)."""
    return validated(type(current), current.model_dump() | dict(changes))


def validated[E: Entity](model: type[E], values: Mapping[str, Any]) -> E:
    """A ``model`` of ``values`` (Invalid names the field at fault)."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise Invalid(field, str(first.get("msg", "invalid"))) from None


def must_get[E: Entity](store: AdminStore, model: type[E], entity_id: str, what: str) -> E:
    found = store.get(model, entity_id)
    if found is None:
        raise NotFound(what)
    return found


def update_fields[E: Entity](store: AdminStore, current: E, changes: Mapping[str, Any], what: str) -> E:
    """Apply ``changes`` (validated over ``current``) writing only those fields; NotFound if it went."""
    updated = store.update(merged(current, changes), list(changes))
    if updated is None:
        raise NotFound(what)
    return updated
