"""Admin API: partners and services, and their moderation (logic/admin_moderation.py).

``POST .../approve``, ``.../reject`` (a reason is required: the partner is shown it) and
``.../suspend`` move the status; each answers the subject with its last decision. A transition
the status does not allow is 409 ``invalid_transition``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import (
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
    SubscriptionTerms,
)
from smsbilling.logic import admin_moderation as moderation
from smsbilling.logic.admin_common import must_get
from smsbilling.logic.admin_moderation import Decision, ModerationRecord
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, page_size
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

PartnerId = Annotated[str, Path(min_length=1, max_length=64)]
ServiceId = Annotated[str, Path(min_length=1, max_length=64)]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, description="required to reject; shown to the partner")


class ModerationView(BaseModel):
    decision: Decision
    status: str
    reason: str
    decided_by: str = Field(description="the admin key id")
    decided_at: datetime


class PartnerView(BaseModel):
    partner_id: str
    name: str
    email: str
    status: PartnerStatus
    referrer_id: str | None
    created_at: datetime
    moderation: ModerationView | None


class PartnerPage(BaseModel):
    items: list[PartnerView]
    next_cursor: str | None


class ServiceView(BaseModel):
    service_id: str
    partner_id: str
    name: str
    prefix: str
    short_numbers: list[str]
    handler_kind: HandlerKind
    handler_url: str | None
    smpp_system_id: str | None
    status_url: str | None
    status: ServiceStatus
    subscription: SubscriptionTerms | None
    otp_enabled: bool
    created_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, description="the partner's last change")
    moderation: ModerationView | None


class ServicePage(BaseModel):
    items: list[ServiceView]
    next_cursor: str | None


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    otp_enabled: bool | None = Field(default=None, description="the password-by-SMS ready service")


def _moderation(note: ModerationRecord | None) -> ModerationView | None:
    if note is None:
        return None
    return ModerationView(
        decision=note.decision,
        status=note.status,
        reason=note.reason,
        decided_by=note.admin_key_id,
        decided_at=note.decided_at,
    )


def partner_view(partner: Partner, note: ModerationRecord | None) -> PartnerView:
    fields = partner.model_dump(exclude={"callback_secrets"})
    return PartnerView(**fields, moderation=_moderation(note))


def service_view(service: PartnerService, note: ModerationRecord | None) -> ServiceView:
    return ServiceView(**service.model_dump(), moderation=_moderation(note))


# --- partners ---------------------------------------------------------------------------------------------


@router.get("/admin/partners", summary="List partners", tags=["partners"])
def list_partners(limit: Limit = None, cursor: Cursor = None) -> PartnerPage:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        found, after = store.partners(limit=page_size(limit), cursor=cursor)
    items = [partner_view(p, moderation.last_decision(store, p)) for p in found]
    return PartnerPage(items=items, next_cursor=after)


@router.get("/admin/partners/<partner_id>", summary="Get a partner", tags=["partners"])
def get_partner(partner_id: PartnerId) -> PartnerView:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        partner = must_get(store, Partner, partner_id, "partner")
    return partner_view(partner, moderation.last_decision(store, partner))


def _decide_partner(partner_id: str, decision: Decision, body: DecisionRequest) -> PartnerView:
    call = admin_call(router)
    with admin_errors():
        partner, note = moderation.moderate_partner(deps().entities, call, partner_id, decision, body.reason)
    return partner_view(partner, note)


_PARTNER_ANSWERS: dict[int, OpenAPIResponse] = {
    409: {"description": "Not allowed from the partner's status."}
}


@router.post(
    "/admin/partners/<partner_id>/approve",
    summary="Approve a partner",
    tags=["partners"],
    responses=_PARTNER_ANSWERS,
)
def approve_partner(partner_id: PartnerId, body: Annotated[DecisionRequest, Body()]) -> PartnerView:
    return _decide_partner(partner_id, Decision.APPROVE, body)


@router.post(
    "/admin/partners/<partner_id>/reject",
    summary="Reject a partner",
    tags=["partners"],
    responses=_PARTNER_ANSWERS,
)
def reject_partner(partner_id: PartnerId, body: Annotated[DecisionRequest, Body()]) -> PartnerView:
    return _decide_partner(partner_id, Decision.REJECT, body)


@router.post(
    "/admin/partners/<partner_id>/suspend",
    summary="Suspend a partner",
    tags=["partners"],
    responses=_PARTNER_ANSWERS,
)
def suspend_partner(partner_id: PartnerId, body: Annotated[DecisionRequest, Body()]) -> PartnerView:
    return _decide_partner(partner_id, Decision.SUSPEND, body)


# --- services ---------------------------------------------------------------------------------------------


@router.get(
    "/admin/services",
    summary="List services (the moderation queue: status=pending_moderation)",
    tags=["services"],
)
def list_services(
    partner_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: Annotated[ServiceStatus | None, Query()] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> ServicePage:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        found, after = store.services(partner_id, status=status, limit=page_size(limit), cursor=cursor)
    items = [service_view(s, moderation.last_decision(store, s)) for s in found]
    return ServicePage(items=items, next_cursor=after)


@router.get("/admin/services/<service_id>", summary="Get a service", tags=["services"])
def get_service(service_id: ServiceId) -> ServiceView:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        service = must_get(store, PartnerService, service_id, "service")
    return service_view(service, moderation.last_decision(store, service))


@router.patch(
    "/admin/services/<service_id>", summary="Change what the admin sets on a service", tags=["services"]
)
def update_service(service_id: ServiceId, body: Annotated[ServiceUpdate, Body()]) -> ServiceView:
    call = admin_call(router)
    store = deps().entities
    with admin_errors():
        service = moderation.update_service_options(
            store, call, service_id, body.model_dump(exclude_unset=True)
        )
    return service_view(service, moderation.last_decision(store, service))


def _decide_service(service_id: str, decision: Decision, body: DecisionRequest) -> ServiceView:
    call = admin_call(router)
    with admin_errors():
        service, note = moderation.moderate_service(deps().entities, call, service_id, decision, body.reason)
    return service_view(service, note)


_SERVICE_ANSWERS: dict[int, OpenAPIResponse] = {
    409: {"description": "Not allowed from the service's status."}
}


@router.post(
    "/admin/services/<service_id>/approve",
    summary="Approve a service",
    tags=["services"],
    responses=_SERVICE_ANSWERS,
)
def approve_service(service_id: ServiceId, body: Annotated[DecisionRequest, Body()]) -> ServiceView:
    return _decide_service(service_id, Decision.APPROVE, body)


@router.post(
    "/admin/services/<service_id>/reject",
    summary="Reject a service",
    tags=["services"],
    responses=_SERVICE_ANSWERS,
)
def reject_service(service_id: ServiceId, body: Annotated[DecisionRequest, Body()]) -> ServiceView:
    return _decide_service(service_id, Decision.REJECT, body)


@router.post(
    "/admin/services/<service_id>/suspend",
    summary="Suspend a service",
    tags=["services"],
    responses=_SERVICE_ANSWERS,
)
def suspend_service(service_id: ServiceId, body: Annotated[DecisionRequest, Body()]) -> ServiceView:
    return _decide_service(service_id, Decision.SUSPEND, body)
