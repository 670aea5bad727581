"""Moderation of partners and services: approve, reject with a reason, suspend.

Only the ``status`` field is written (``update``), so a partner editing its service at the same
moment keeps its edit. The last decision on a subject, with its reason and who took it, is kept as
a :class:`ModerationRecord` (``MODERATION#<SERVICE|PARTNER>#<id>``): the admin API shows it, and
the partner API may show the reason to the partner. Each decision is also an audit entry.

Transitions (anything else is 409 ``invalid_transition``; asking for the status a subject already
has changes nothing and is answered with it):

=========  ==========================================  ======================================
action     service from                                partner from
=========  ==========================================  ======================================
approve    pending_moderation, suspended, rejected     pending_confirmation, suspended, rejected
reject     pending_moderation                          pending_confirmation
suspend    active, pending_moderation                  active, pending_confirmation
=========  ==========================================  ======================================

Routing and sending look at these statuses already: only an ``active`` service gets MOs, a
suspended or rejected partner's API keys stop working (logic/api_auth.py). A rejected service keeps
its prefix claim (a new decision may approve it again); the partner may delete the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from smsbilling.domain.entities import Entity, Partner, PartnerService, PartnerStatus, ServiceStatus
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Conflict,
    Invalid,
    must_get,
    record,
    update_fields,
)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"


class ModerationRecord(Entity):
    """The last moderation decision on a partner or a service."""

    type_name: ClassVar[str] = "MODERATION"
    id_fields: ClassVar[tuple[str, ...]] = ("subject",)
    subject: str = Field(
        min_length=1, max_length=100, description="the entity key: SERVICE#<id>, PARTNER#<id>"
    )
    decision: Decision
    status: str = Field(description="the status the decision set")
    reason: str = Field(default="", max_length=500)
    admin_key_id: str
    decided_at: datetime


_SERVICE: dict[Decision, tuple[frozenset[ServiceStatus], ServiceStatus]] = {
    Decision.APPROVE: (
        frozenset({ServiceStatus.PENDING_MODERATION, ServiceStatus.SUSPENDED, ServiceStatus.REJECTED}),
        ServiceStatus.ACTIVE,
    ),
    Decision.REJECT: (frozenset({ServiceStatus.PENDING_MODERATION}), ServiceStatus.REJECTED),
    Decision.SUSPEND: (
        frozenset({ServiceStatus.ACTIVE, ServiceStatus.PENDING_MODERATION}),
        ServiceStatus.SUSPENDED,
    ),
}

_PARTNER: dict[Decision, tuple[frozenset[PartnerStatus], PartnerStatus]] = {
    Decision.APPROVE: (
        frozenset({PartnerStatus.PENDING_CONFIRMATION, PartnerStatus.SUSPENDED, PartnerStatus.REJECTED}),
        PartnerStatus.ACTIVE,
    ),
    Decision.REJECT: (frozenset({PartnerStatus.PENDING_CONFIRMATION}), PartnerStatus.REJECTED),
    Decision.SUSPEND: (
        frozenset({PartnerStatus.ACTIVE, PartnerStatus.PENDING_CONFIRMATION}),
        PartnerStatus.SUSPENDED,
    ),
}


def moderate_service(
    store: AdminStore, call: AdminCall, service_id: str, decision: Decision, reason: str
) -> tuple[PartnerService, ModerationRecord | None]:
    service = must_get(store, PartnerService, service_id, "service")
    allowed, target = _SERVICE[decision]
    if service.status is target:
        return service, last_decision(store, service)
    if service.status not in allowed:
        raise _invalid_transition("service", service.status, decision)
    _check_reason(decision, reason)
    updated = update_fields(store, service, {"status": target}, "service")
    return updated, _decided(store, call, updated, decision, status=target, reason=reason)


def moderate_partner(
    store: AdminStore, call: AdminCall, partner_id: str, decision: Decision, reason: str
) -> tuple[Partner, ModerationRecord | None]:
    partner = must_get(store, Partner, partner_id, "partner")
    allowed, target = _PARTNER[decision]
    if partner.status is target:
        return partner, last_decision(store, partner)
    if partner.status not in allowed:
        raise _invalid_transition("partner", partner.status, decision)
    _check_reason(decision, reason)
    updated = update_fields(store, partner, {"status": target}, "partner")
    return updated, _decided(store, call, updated, decision, status=target, reason=reason)


def update_service_options(
    store: AdminStore, call: AdminCall, service_id: str, changes: Mapping[str, Any]
) -> PartnerService:
    """What the admin sets on a service besides its status (``otp_enabled``)."""
    service = must_get(store, PartnerService, service_id, "service")
    if not changes:
        return service
    updated = update_fields(store, service, changes, "service")
    record(store, call, "service.update", updated, changes)
    return updated


def last_decision(store: AdminStore, subject: Entity) -> ModerationRecord | None:
    return store.get(ModerationRecord, subject.key()[0])


def _decided(
    store: AdminStore, call: AdminCall, subject: Entity, decision: Decision, *, status: str, reason: str
) -> ModerationRecord:
    note = ModerationRecord(
        subject=subject.key()[0],
        decision=decision,
        status=status,
        reason=reason,
        admin_key_id=call.admin_key_id,
        decided_at=call.now,
    )
    store.put(note)
    action = f"{subject.type_name.lower()}.{decision.value}"
    record(store, call, action, subject, {"status": status, "reason": reason})
    return note


def _check_reason(decision: Decision, reason: str) -> None:
    if decision is Decision.REJECT and not reason.strip():
        raise Invalid("reason", "a rejection needs a reason (the partner is shown it)")


def _invalid_transition(what: str, status: str, decision: Decision) -> Conflict:
    done = {Decision.APPROVE: "approved", Decision.REJECT: "rejected", Decision.SUSPEND: "suspended"}
    return Conflict("invalid_transition", f"a {what} that is {status} cannot be {done[decision]}")
