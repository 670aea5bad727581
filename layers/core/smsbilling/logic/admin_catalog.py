"""The admin's catalogue: operators, their links and their short numbers.

Creating an operator opens its ledger books (and the platform's) in its currency, so traffic on
its numbers can be charged at once; its currency is fixed from then on. Links carry credentials:
the inbound HTTP token is stored as its SHA-256 (the operator presents it), the outbound MT token
and SMPP password as given (the platform presents them to the operator, so it needs them back);
none of them is ever returned, and the audit log records only that they were set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsbilling.domain.entities import Operator, OperatorLink, Protocol, ShortNumber
from smsbilling.domain.ledger import AccountConflict
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Conflict,
    Invalid,
    create_once,
    merged,
    must_get,
    record,
    update_fields,
)
from smsbilling.logic.ledger_setup import open_operator, open_platform
from smsbilling.ports import LedgerStore

LINK_SECRETS = ("http_token_hash", "mt_token", "smpp_password")

# --- operators -------------------------------------------------------------------------------------------


def create_operator(
    store: AdminStore, ledger: LedgerStore, call: AdminCall, operator: Operator
) -> tuple[Operator, bool]:
    """Store the operator and open its books; ``(stored, created)`` (a same-id retry: not created)."""
    try:
        open_platform(ledger, operator.currency)
    except AccountConflict:  # the platform's books hold one money currency (docs/billing.md)
        raise Conflict("currency_conflict", "the platform's ledger books are in another currency") from None
    try:
        open_operator(ledger, operator.operator_id, operator.currency)
    except AccountConflict:
        raise Conflict(
            "currency_conflict", f"operator {operator.operator_id} has ledger books in another currency"
        ) from None
    stored, created = create_once(store, operator)
    if created:
        record(store, call, "operator.create", stored, operator.model_dump())
    return stored, created


def update_operator(
    store: AdminStore, call: AdminCall, operator_id: str, changes: Mapping[str, Any]
) -> Operator:
    current = must_get(store, Operator, operator_id, "operator")
    if not changes:
        return current
    updated = update_fields(store, current, changes, "operator")
    record(store, call, "operator.update", updated, changes)
    return updated


# --- links ----------------------------------------------------------------------------------------------


def check_link(link: OperatorLink) -> OperatorLink:
    """What a link needs to work, by protocol (Invalid names the missing field)."""
    if link.mt_url is not None and link.protocol is not Protocol.HTTP:
        raise Invalid("mt_url", "only HTTP links take MTs over HTTP")
    if link.smpp_host is not None:
        if link.protocol is Protocol.HTTP:
            raise Invalid("smpp_host", "an HTTP link has no SMSC to bind to")
        for field in ("smpp_port", "smpp_system_id", "smpp_password"):
            if getattr(link, field) is None:
                raise Invalid(field, "needed with smpp_host (the bridge binds to the SMSC with it)")
    return link


def create_link(store: AdminStore, call: AdminCall, link: OperatorLink) -> tuple[OperatorLink, bool]:
    must_get(store, Operator, link.operator_id, "operator")
    stored, created = create_once(store, check_link(link))
    if created:
        record(store, call, "link.create", stored, link.model_dump(), secrets=LINK_SECRETS)
    return stored, created


def update_link(store: AdminStore, call: AdminCall, link_id: str, changes: Mapping[str, Any]) -> OperatorLink:
    current = must_get(store, OperatorLink, link_id, "link")
    if not changes:
        return current
    check_link(merged(current, changes))
    updated = update_fields(store, current, changes, "link")
    record(store, call, "link.update", updated, changes, secrets=LINK_SECRETS)
    return updated


def delete_link(store: AdminStore, call: AdminCall, link_id: str) -> OperatorLink:
    current = must_get(store, OperatorLink, link_id, "link")
    store.delete(OperatorLink, link_id)
    record(store, call, "link.delete", current)
    return current


# --- short numbers ----------------------------------------------------------------------------------------


def create_short_number(store: AdminStore, call: AdminCall, number: ShortNumber) -> tuple[ShortNumber, bool]:
    must_get(store, Operator, number.operator_id, "operator")
    stored, created = create_once(store, number)
    if created:
        record(store, call, "short_number.create", stored, number.model_dump())
    return stored, created


def update_short_number(
    store: AdminStore, call: AdminCall, operator_id: str, number: str, changes: Mapping[str, Any]
) -> ShortNumber:
    current = must_get(store, ShortNumber, f"{operator_id}#{number}", "short number")
    if not changes:
        return current
    updated = update_fields(store, current, changes, "short number")
    record(store, call, "short_number.update", updated, changes)
    return updated
