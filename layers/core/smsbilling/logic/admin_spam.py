"""Anti-spam rules as the admin keeps them (domain/spam.py, docs/traffic/anti-spam.md).

A rule is platform-wide (scope ``*``) or one partner's (the partner must exist). It is created
whole (``create_once``: the same rule again is "already done", another under a taken id a
conflict), changed field by field (kind, pattern, action, reason, enabled; its scope is fixed:
delete and create to move it), and deleted; every change is audit-logged. A pattern is compiled
before it is stored, under the limits the processors use, so a stored rule always runs: a bad one
is refused naming the field ``pattern`` and why (a regex that does not compile or needs
backtracking, a domain that is not one, a word rule of two words).

MT processors read the rules within ``rules_cache_s``. At most ``spam_rules_max`` rules per scope
exist, as many as a processor reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsbilling.domain.entities import Partner
from smsbilling.domain.spam import (
    GLOBAL_SCOPE,
    SpamLimits,
    SpamPatternError,
    SpamRule,
    compile_pattern,
    listing_key,
)
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
    update_fields,
)

CHANGEABLE = frozenset({"kind", "pattern", "action", "reason", "enabled"})


def rule_scope(store: AdminStore, partner_id: str | None) -> str:
    """The scope of a partner's rules (the partner must exist: NotFound), or ``*`` for None / ``*``."""
    if partner_id is None or partner_id == GLOBAL_SCOPE:
        return GLOBAL_SCOPE
    if store.get(Partner, partner_id) is None:
        raise NotFound("partner")
    return partner_id


def check_pattern(rule: SpamRule, limits: SpamLimits) -> None:
    try:
        compile_pattern(rule.kind, rule.pattern, limits)
    except SpamPatternError as error:
        raise Invalid("pattern", f"not a {rule.kind.value} rule: {error}") from None


def list_rules(store: AdminStore, scope: str | None, *, limit: int, cursor: str | None) -> PageOf[SpamRule]:
    """Every rule (``scope`` None, by scope then id) or one scope's, by id."""
    gsi1pk, prefix = listing_key(scope)
    return store.page(SpamRule, gsi1pk, prefix, limit=limit, cursor=cursor)


def create_rule(
    store: AdminStore, call: AdminCall, rule: SpamRule, *, limits: SpamLimits, rules_max: int
) -> tuple[SpamRule, bool]:
    if store.get(SpamRule, rule.rule_id) is None:
        check_pattern(rule, limits)
        if listing_holds(store, SpamRule, *listing_key(rule.scope), at_least=rules_max):
            raise Conflict(
                "too_many_rules", f"at most {rules_max} spam rules per scope; delete or change one"
            )
    stored, created = create_once(store, rule, ignore=("created_at", "updated_at"))
    if created:
        record(store, call, "spam_rule.create", stored, _changes(stored))
    return stored, created


def update_rule(
    store: AdminStore, call: AdminCall, rule_id: str, changes: Mapping[str, Any], *, limits: SpamLimits
) -> SpamRule:
    current = must_get(store, SpamRule, rule_id, "spam rule")
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise Invalid(sorted(unknown)[0], "cannot be changed")
    if not changes:
        return current
    if {"kind", "pattern"} & set(changes):
        check_pattern(merged(current, changes), limits)
    updated = update_fields(store, current, dict(changes) | {"updated_at": call.now}, "spam rule")
    record(store, call, "spam_rule.update", updated, dict(changes))
    return updated


def delete_rule(store: AdminStore, call: AdminCall, rule_id: str) -> SpamRule:
    current = store.get(SpamRule, rule_id)
    if current is None or not store.delete(SpamRule, rule_id):
        raise NotFound("spam rule")
    record(store, call, "spam_rule.delete", current, {"rule_id": rule_id, "scope": current.scope})
    return current


def _changes(rule: SpamRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude={"created_at", "updated_at"})


__all__ = ["check_pattern", "create_rule", "delete_rule", "list_rules", "rule_scope", "update_rule"]
