"""Fraud limits as the admin keeps them (domain/fraud_limits.py, docs/traffic/fraud-limits.md).

A limit is created whole (``create_once``: the same limit again is "already done", another under a
taken id a conflict), replaced whole (``PUT``: every settable field; ``created_at`` is kept) and
deleted; each change is audit-logged. A limit must be countable as written (an amount needs its
currency; the scope value must look like what that scope counts); an operator, partner or service
it names must exist. At most ``fraud_limits_max`` limits exist, so one message's counters always fit
one count (docs/traffic/fraud-limits.md).

Processors read the limits within ``rules_cache_s``; a replaced limit keeps counting into the same
window counters (its id and scope stay the counter's key), so raising or lowering a threshold
acts on the window in progress. Changing its scope or metric starts new counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsbilling.domain.entities import Entity, Operator, Partner, PartnerService
from smsbilling.domain.fraud_limits import LISTING, FraudLimit, LimitScope, limit_problem
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Conflict,
    Invalid,
    NotFound,
    PageOf,
    create_once,
    listing_holds,
    merged,
    must_get,
    record,
)

_EXISTING: dict[LimitScope, tuple[type[Entity], str]] = {
    LimitScope.OPERATOR: (Operator, "operator"),
    LimitScope.PARTNER: (Partner, "partner"),
    LimitScope.SERVICE: (PartnerService, "service"),
}
_SERVER_OWNED = ("limit_id", "created_at", "updated_at")


def check_limit(store: AdminStore, limit: FraudLimit) -> None:
    """Invalid when the limit cannot be counted as written or names something that does not exist."""
    problem = limit_problem(limit)
    if problem is not None:
        raise Invalid(*problem)
    named = _EXISTING.get(limit.scope)
    if named is not None and limit.scope_value is not None and store.get(named[0], limit.scope_value) is None:
        raise Invalid("scope_value", f"no such {named[1]}")


def list_limits(store: AdminStore, *, limit: int, cursor: str | None) -> PageOf[FraudLimit]:
    return store.page(FraudLimit, LISTING, limit=limit, cursor=cursor)


def create_limit(
    store: AdminStore, call: AdminCall, limit: FraudLimit, *, limits_max: int
) -> tuple[FraudLimit, bool]:
    existing = store.get(FraudLimit, limit.limit_id)
    if existing is None:
        check_limit(store, limit)
        if listing_holds(store, FraudLimit, LISTING, at_least=limits_max):
            raise Conflict("too_many_limits", f"at most {limits_max} fraud limits; delete or change one")
    stored, created = create_once(store, limit, ignore=("created_at", "updated_at"))
    if created:
        record(store, call, "fraud_limit.create", stored, _changes(stored))
    return stored, created


def replace_limit(store: AdminStore, call: AdminCall, limit_id: str, fields: Mapping[str, Any]) -> FraudLimit:
    current = must_get(store, FraudLimit, limit_id, "fraud limit")
    settable = {name: value for name, value in fields.items() if name not in _SERVER_OWNED}
    defaults = {
        name: info.get_default(call_default_factory=True)
        for name, info in FraudLimit.model_fields.items()
        if name not in _SERVER_OWNED and not info.is_required()
    }
    replaced = merged(current, defaults | settable | {"updated_at": call.now})
    check_limit(store, replaced)
    written = [name for name in FraudLimit.model_fields if name not in ("limit_id", "created_at")]
    if store.update(replaced, written) is None:  # deleted meanwhile
        raise NotFound("fraud limit")
    record(store, call, "fraud_limit.replace", replaced, _changes(replaced))
    return replaced


def delete_limit(store: AdminStore, call: AdminCall, limit_id: str) -> FraudLimit:
    current = store.get(FraudLimit, limit_id)
    if current is None or not store.delete(FraudLimit, limit_id):
        raise NotFound("fraud limit")
    record(store, call, "fraud_limit.delete", current, {"limit_id": limit_id})
    return current


def _changes(limit: FraudLimit) -> dict[str, Any]:
    return limit.model_dump(mode="json", exclude={"created_at", "updated_at"})


__all__ = ["check_limit", "create_limit", "delete_limit", "list_limits", "replace_limit"]
