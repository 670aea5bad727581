"""Partner API: the caller's services (logic/services.py, docs/partner-api.md "Services").

- ``POST /v1/services`` (``services:write``): 201, ``pending_moderation``, its prefix leased on each
  of its short numbers at once (409 ``prefix_unavailable`` and nothing written when any is taken).
- ``GET /v1/services`` (``services:read``): the caller's services, a page at a time.
- ``GET /v1/services/{service_id}`` (``services:read``).
- ``PATCH /v1/services/{service_id}`` (``services:write``): a partial change; a change of prefix,
  short numbers or handler sends it back to moderation.
- ``DELETE /v1/services/{service_id}`` (``services:write``): 204; its prefix is released.

Another partner's service, a random id and a deleted one answer 404 and change nothing. Request
bodies refuse unknown and server-owned fields (``service_id``, ``partner_id``, ``status``, ...): 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.entities import HandlerKind, PartnerService, ServiceStatus
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic import services
from smsbilling.web.account_deps import caller, deps, page_limit, problem_of, responses
from smsbilling.web.problems import ApiProblem

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]

ServiceId = Annotated[str, Path(min_length=1, max_length=64)]
_NOT_NULL = ("name", "prefix", "short_numbers", "handler_kind")


class ServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    prefix: str = Field(min_length=1, max_length=32, description="the keyword subscribers send")
    short_numbers: list[str] = Field(
        min_length=1, max_length=45, description="short number ids, <operator_id>#<number>"
    )
    handler_kind: HandlerKind
    handler_url: str | None = Field(
        default=None, max_length=2048, description="https (http kinds); public hosts only"
    )
    smpp_system_id: str | None = Field(
        default=None, min_length=1, max_length=15, description="smpp kind: one of your SMPP accounts"
    )
    status_url: str | None = Field(default=None, max_length=2048, description="signed MT status callbacks")


class ServicePatch(BaseModel):
    """Only the fields given change; ``null`` clears handler_url, smpp_system_id or status_url."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    prefix: str | None = Field(default=None, min_length=1, max_length=32)
    short_numbers: list[str] | None = Field(default=None, min_length=1, max_length=45)
    handler_kind: HandlerKind | None = None
    handler_url: str | None = Field(default=None, max_length=2048)
    smpp_system_id: str | None = Field(default=None, min_length=1, max_length=15)
    status_url: str | None = Field(default=None, max_length=2048)


class ServiceView(BaseModel):
    service_id: str
    name: str
    prefix: str
    short_numbers: list[str]
    handler_kind: HandlerKind
    handler_url: str | None
    smpp_system_id: str | None
    status_url: str | None
    status: ServiceStatus = Field(description="pending_moderation until an admin approves it")
    otp_enabled: bool = Field(description="set by the admin")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, service: PartnerService) -> ServiceView:
        return cls(
            service_id=service.service_id,
            name=service.name,
            prefix=service.prefix,
            short_numbers=list(service.short_numbers),
            handler_kind=service.handler_kind,
            handler_url=service.handler_url,
            smpp_system_id=service.smpp_system_id,
            status_url=service.status_url,
            status=service.status,
            otp_enabled=service.otp_enabled,
            created_at=service.created_at,
            updated_at=service.updated_at,
        )


class ServicePage(BaseModel):
    items: list[ServiceView]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: the last page")


_ERRORS = {
    403: "The key lacks the scope, or the account is not active (e-mail not confirmed).",
    404: "No such service for this partner.",
}
_WRITE_ERRORS = {
    **_ERRORS,
    409: "Prefix unavailable, service suspended, a limit reached, or a concurrent change.",
    422: "Invalid request: unknown or server-owned fields, a refused URL, unknown short numbers.",
}


@router.post(
    "/v1/services",
    summary="Create a service",
    tags=["services"],
    responses=responses(
        (201, "The service, pending moderation, its prefix leased."),
        {code: text for code, text in _WRITE_ERRORS.items() if code != 404},
    ),
)
def create_service(body: Annotated[ServiceRequest, Body()]) -> tuple[ServiceView, int]:
    _, partner = caller(router, Scope.SERVICES_WRITE)
    d = deps()
    try:
        service = services.create_service(
            partner.partner_id, body.model_dump(), now=d.clock(), store=d.store, rules=d.rules
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("service created", extra={"service_id": service.service_id, "partner_id": partner.partner_id})
    return ServiceView.of(service), 201


@router.get(
    "/v1/services",
    summary="List your services",
    tags=["services"],
    responses=responses(
        (200, "A page of your services."),
        {400: "A cursor this listing did not hand out.", 422: "Invalid limit.", 403: _ERRORS[403]},
    ),
)
def list_services(
    limit: Annotated[int | None, Query(description="page size")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ServicePage:
    _, partner = caller(router, Scope.SERVICES_READ)
    try:
        found, after = deps().store.services_of(partner.partner_id, limit=page_limit(limit), cursor=cursor)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    return ServicePage(items=[ServiceView.of(s) for s in found], next_cursor=after)


@router.get(
    "/v1/services/<service_id>",
    summary="Read a service",
    tags=["services"],
    responses=responses((200, "The service."), {422: "Invalid service id.", **_ERRORS}),
)
def get_service(service_id: ServiceId) -> ServiceView:
    _, partner = caller(router, Scope.SERVICES_READ)
    try:
        return ServiceView.of(services.owned(deps().store, partner.partner_id, service_id))
    except accounts.AccountError as error:
        raise problem_of(error) from None


@router.patch(
    "/v1/services/<service_id>",
    summary="Change a service",
    tags=["services"],
    responses=responses((200, "The service as changed."), _WRITE_ERRORS),
)
def update_service(service_id: ServiceId, body: Annotated[ServicePatch, Body()]) -> ServiceView:
    _, partner = caller(router, Scope.SERVICES_WRITE)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    nulls = [name for name in _NOT_NULL if name in changes and changes[name] is None]
    if nulls:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": name, "reason": "may not be null"} for name in nulls],
        )
    d = deps()
    try:
        service = services.update_service(
            partner.partner_id, service_id, changes, now=d.clock(), store=d.store, rules=d.rules
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("service changed", extra={"service_id": service_id, "fields": sorted(changes)})
    return ServiceView.of(service)


@router.delete(
    "/v1/services/<service_id>",
    summary="Delete a service",
    tags=["services"],
    responses=responses((204, "Deleted; its prefix is released."), _WRITE_ERRORS),
)
def delete_service(service_id: ServiceId) -> Response[str]:
    _, partner = caller(router, Scope.SERVICES_WRITE)
    try:
        services.delete_service(partner.partner_id, service_id, store=deps().store)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("service deleted", extra={"service_id": service_id, "partner_id": partner.partner_id})
    return Response(status_code=204, body="")  # "" not null: the local cloud's gateway needs a string
