"""Admin API: operators, their links and their short numbers (logic/admin_catalog.py).

Link credentials are write-only: ``http_token`` (what the operator presents to us, stored as its
SHA-256), ``mt_token`` and ``smpp_password`` (what we present to the operator) go in, and only
``has_http_token`` / ``has_mt_token`` / ``has_smpp_password`` come out.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.dlr import IdFormat
from smsbilling.domain.entities import BillingModel, Operator, OperatorLink, Protocol, ShortNumber
from smsbilling.domain.secrets import hash_token
from smsbilling.logic import admin_catalog as catalog
from smsbilling.logic.admin_common import must_get
from smsbilling.web.admin.common import (
    ID_DESCRIPTION,
    ID_PATTERN,
    Cursor,
    Limit,
    admin_call,
    admin_errors,
    created_status,
    page_size,
)
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

OperatorId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)]
LinkId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)]
Number = Annotated[str, Path(pattern=r"^[0-9]{3,15}$")]

_COUNTRY = r"^[1-9][0-9]{0,2}$"
DigitPrefix = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,14}$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- operators ------------------------------------------------------------------------------------------


class OperatorCreate(_Input):
    operator_id: str = Field(pattern=ID_PATTERN, description=ID_DESCRIPTION)
    name: str = Field(min_length=1, max_length=200)
    country_code: str = Field(pattern=_COUNTRY, description="E.164 country calling code")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217; fixed once created (its books)")
    default_reply: str | None = Field(default=None, max_length=480, description="answer to unknown prefixes")
    msisdn_prefixes: tuple[DigitPrefix, ...] = Field(
        default=(), max_length=100, description="E.164 digit prefixes of its subscribers (routes MTs)"
    )


class OperatorUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    country_code: str | None = Field(default=None, pattern=_COUNTRY)
    default_reply: str | None = Field(default=None, max_length=480, description="null: no default reply")
    msisdn_prefixes: tuple[DigitPrefix, ...] | None = Field(default=None, max_length=100)


class OperatorView(BaseModel):
    operator_id: str
    name: str
    country_code: str
    currency: str
    default_reply: str | None
    msisdn_prefixes: list[str]


class OperatorList(BaseModel):
    items: list[OperatorView]


def operator_view(operator: Operator) -> OperatorView:
    return OperatorView.model_validate(operator.model_dump())


@router.get("/admin/operators", summary="List operators", tags=["operators"])
def list_operators() -> OperatorList:
    admin_call(router)
    return OperatorList(items=[operator_view(op) for op in deps().entities.operators()])


@router.post(
    "/admin/operators",
    summary="Create an operator (opens its ledger books)",
    tags=["operators"],
    responses={200: {"description": "The same operator existed already."}, 409: {"description": "Id taken."}},
)
def create_operator(body: Annotated[OperatorCreate, Body()]) -> tuple[OperatorView, int]:
    call, current = admin_call(router), deps()
    with admin_errors():
        stored, created = catalog.create_operator(
            current.entities, current.ledger, call, Operator.model_validate(body.model_dump())
        )
    return operator_view(stored), created_status(created)


@router.get("/admin/operators/<operator_id>", summary="Get an operator", tags=["operators"])
def get_operator(operator_id: OperatorId) -> OperatorView:
    admin_call(router)
    with admin_errors():
        return operator_view(must_get(deps().entities, Operator, operator_id, "operator"))


@router.patch("/admin/operators/<operator_id>", summary="Change an operator", tags=["operators"])
def update_operator(operator_id: OperatorId, body: Annotated[OperatorUpdate, Body()]) -> OperatorView:
    call = admin_call(router)
    with admin_errors():
        updated = catalog.update_operator(
            deps().entities, call, operator_id, body.model_dump(exclude_unset=True)
        )
    return operator_view(updated)


# --- links ----------------------------------------------------------------------------------------------


class _LinkFields(_Input):
    enabled: bool = True
    granted_tps: int = Field(default=50, gt=0, le=100_000)
    window_outstanding_max: int = Field(default=10, gt=0, le=1000)
    http_token: str | None = Field(
        default=None, min_length=16, max_length=256, description="inbound HTTP: what the operator presents"
    )
    mt_url: str | None = Field(default=None, max_length=2048, description="HTTP link: where MTs are POSTed")
    mt_token: str | None = Field(default=None, max_length=256, description="HTTP link: Bearer token we send")
    dlr_id_format: IdFormat = IdFormat.AS_IS
    smpp_host: str | None = Field(default=None, max_length=253, description="the bridge binds out to it")
    smpp_port: int | None = Field(default=None, ge=1, le=65535)
    smpp_system_id: str | None = Field(default=None, max_length=15)
    smpp_password: str | None = Field(default=None, max_length=8)
    smpp_system_type: str = Field(default="", max_length=12)


class LinkCreate(_LinkFields):
    link_id: str = Field(pattern=ID_PATTERN, description=ID_DESCRIPTION)
    protocol: Protocol


class LinkUpdate(_Input):
    enabled: bool | None = None
    granted_tps: int | None = Field(default=None, gt=0, le=100_000)
    window_outstanding_max: int | None = Field(default=None, gt=0, le=1000)
    http_token: str | None = Field(default=None, min_length=16, max_length=256, description="null: none")
    mt_url: str | None = Field(default=None, max_length=2048)
    mt_token: str | None = Field(default=None, max_length=256)
    dlr_id_format: IdFormat | None = None
    smpp_host: str | None = Field(default=None, max_length=253)
    smpp_port: int | None = Field(default=None, ge=1, le=65535)
    smpp_system_id: str | None = Field(default=None, max_length=15)
    smpp_password: str | None = Field(default=None, max_length=8)
    smpp_system_type: str | None = Field(default=None, max_length=12)


class LinkView(BaseModel):
    link_id: str
    operator_id: str
    protocol: Protocol
    enabled: bool
    granted_tps: int
    window_outstanding_max: int
    mt_url: str | None
    dlr_id_format: IdFormat
    smpp_host: str | None
    smpp_port: int | None
    smpp_system_id: str | None
    smpp_system_type: str
    has_http_token: bool
    has_mt_token: bool
    has_smpp_password: bool


class LinkList(BaseModel):
    items: list[LinkView]


def link_view(link: OperatorLink) -> LinkView:
    fields = link.model_dump(exclude={"http_token_hash", "mt_token", "smpp_password"})
    return LinkView(
        **fields,
        has_http_token=link.http_token_hash is not None,
        has_mt_token=link.mt_token is not None,
        has_smpp_password=link.smpp_password is not None,
    )


def _stored_link_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as the entity stores them: the inbound token becomes its hash."""
    if "http_token" in fields:
        token = fields.pop("http_token")
        fields["http_token_hash"] = None if token is None else hash_token(token)
    return fields


@router.get("/admin/operators/<operator_id>/links", summary="List an operator's links", tags=["links"])
def list_links(operator_id: OperatorId) -> LinkList:
    admin_call(router)
    with admin_errors():
        must_get(deps().entities, Operator, operator_id, "operator")
    return LinkList(items=[link_view(link) for link in deps().entities.links_of(operator_id)])


@router.post(
    "/admin/operators/<operator_id>/links",
    summary="Create an operator link",
    tags=["links"],
    responses={200: {"description": "The same link existed already."}, 409: {"description": "Id taken."}},
)
def create_link(operator_id: OperatorId, body: Annotated[LinkCreate, Body()]) -> tuple[LinkView, int]:
    call = admin_call(router)
    fields = _stored_link_fields(body.model_dump()) | {"operator_id": operator_id}
    with admin_errors():
        stored, created = catalog.create_link(deps().entities, call, OperatorLink.model_validate(fields))
    return link_view(stored), created_status(created)


@router.get("/admin/links/<link_id>", summary="Get a link", tags=["links"])
def get_link(link_id: LinkId) -> LinkView:
    admin_call(router)
    with admin_errors():
        return link_view(must_get(deps().entities, OperatorLink, link_id, "link"))


@router.patch("/admin/links/<link_id>", summary="Change a link (credentials are write-only)", tags=["links"])
def update_link(link_id: LinkId, body: Annotated[LinkUpdate, Body()]) -> LinkView:
    call = admin_call(router)
    changes = _stored_link_fields(body.model_dump(exclude_unset=True))
    with admin_errors():
        return link_view(catalog.update_link(deps().entities, call, link_id, changes))


@router.delete("/admin/links/<link_id>", summary="Delete a link", tags=["links"])
def delete_link(link_id: LinkId) -> LinkView:
    call = admin_call(router)
    with admin_errors():
        return link_view(catalog.delete_link(deps().entities, call, link_id))


# --- short numbers ----------------------------------------------------------------------------------------


class ShortNumberCreate(_Input):
    number: str = Field(pattern=r"^[0-9]{3,15}$")
    billing_model: BillingModel = BillingModel.MO
    tariff_plan_id: str = Field(pattern=ID_PATTERN, description="the plan shown for the number")


class ShortNumberUpdate(_Input):
    billing_model: BillingModel | None = None
    tariff_plan_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ShortNumberView(BaseModel):
    operator_id: str
    number: str
    billing_model: BillingModel
    tariff_plan_id: str


class ShortNumberPage(BaseModel):
    items: list[ShortNumberView]
    next_cursor: str | None


def number_view(number: ShortNumber) -> ShortNumberView:
    return ShortNumberView.model_validate(number.model_dump())


@router.get(
    "/admin/operators/<operator_id>/short-numbers",
    summary="List an operator's short numbers",
    tags=["numbers"],
)
def list_short_numbers(
    operator_id: OperatorId, limit: Limit = None, cursor: Cursor = None
) -> ShortNumberPage:
    admin_call(router)
    with admin_errors():
        must_get(deps().entities, Operator, operator_id, "operator")
        found, after = deps().entities.short_numbers(operator_id, limit=page_size(limit), cursor=cursor)
    return ShortNumberPage(items=[number_view(n) for n in found], next_cursor=after)


@router.post(
    "/admin/operators/<operator_id>/short-numbers",
    summary="Create a short number",
    tags=["numbers"],
    responses={200: {"description": "The same number existed already."}, 409: {"description": "Taken."}},
)
def create_short_number(
    operator_id: OperatorId, body: Annotated[ShortNumberCreate, Body()]
) -> tuple[ShortNumberView, int]:
    call = admin_call(router)
    number = ShortNumber.model_validate(body.model_dump() | {"operator_id": operator_id})
    with admin_errors():
        stored, created = catalog.create_short_number(deps().entities, call, number)
    return number_view(stored), created_status(created)


@router.get(
    "/admin/operators/<operator_id>/short-numbers/<number>", summary="Get a short number", tags=["numbers"]
)
def get_short_number(operator_id: OperatorId, number: Number) -> ShortNumberView:
    admin_call(router)
    with admin_errors():
        return number_view(must_get(deps().entities, ShortNumber, f"{operator_id}#{number}", "short number"))


@router.patch(
    "/admin/operators/<operator_id>/short-numbers/<number>", summary="Change a short number", tags=["numbers"]
)
def update_short_number(
    operator_id: OperatorId, number: Number, body: Annotated[ShortNumberUpdate, Body()]
) -> ShortNumberView:
    call = admin_call(router)
    changes = body.model_dump(exclude_unset=True)
    with admin_errors():
        return number_view(catalog.update_short_number(deps().entities, call, operator_id, number, changes))
