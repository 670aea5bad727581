"""Admin API: fraud limits (logic/admin_fraud_limits.py, docs/traffic/fraud-limits.md).

A limit caps a message count or a total price (minor units of ``currency``) per UTC window
(minute, hour, day, calendar month) in one scope: an operator, partner, service, short number,
subscriber, number range, or the whole platform. Without ``scope_value`` every value of the scope
is limited separately (``subscriber`` alone: each subscriber). Over the threshold the message is
alerted on, held for review, or rejected. ``PUT`` replaces every settable field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.fraud_limits import FraudLimit, LimitDirection, LimitMetric, LimitScope
from smsbilling.domain.traffic import Action, Window
from smsbilling.logic import admin_fraud_limits as limits
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

LimitId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)]
THRESHOLD_MAX = 10**15


class FraudLimitFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: LimitDirection = Field(default=LimitDirection.ANY, description="mo, mt or any")
    scope: LimitScope
    scope_value: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="one operator/partner/service id, short number, subscriber (E.164 digits) or range "
        "prefix; null: every value separately (platform: always null)",
    )
    metric: LimitMetric = Field(default=LimitMetric.COUNT, description="count: messages; amount: price sum")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="required for amount; counts only this currency"
    )
    window: Window
    threshold: int = Field(gt=0, le=THRESHOLD_MAX, description="messages, or minor units of currency")
    action: Action = Field(description="over the threshold: alert, hold for review, or reject")
    enabled: bool = True
    note: str = Field(default="", max_length=200)


class FraudLimitCreate(FraudLimitFields):
    limit_id: str = Field(pattern=ID_PATTERN, description=ID_DESCRIPTION)


class FraudLimitView(BaseModel):
    limit_id: str
    direction: LimitDirection
    scope: LimitScope
    scope_value: str | None
    metric: LimitMetric
    currency: str | None
    window: Window
    threshold: int
    action: Action
    enabled: bool
    note: str
    created_at: datetime
    updated_at: datetime | None


class FraudLimitPage(BaseModel):
    items: list[FraudLimitView]
    next_cursor: str | None


def limit_view(limit: FraudLimit) -> FraudLimitView:
    return FraudLimitView.model_validate(limit.model_dump())


@router.get("/admin/fraud-limits", summary="List fraud limits", tags=["fraud limits"])
def list_fraud_limits(limit: Limit = None, cursor: Cursor = None) -> FraudLimitPage:
    admin_call(router)
    with admin_errors():
        found, after = limits.list_limits(deps().entities, limit=page_size(limit), cursor=cursor)
    return FraudLimitPage(items=[limit_view(one) for one in found], next_cursor=after)


@router.post(
    "/admin/fraud-limits",
    summary="Create a fraud limit",
    tags=["fraud limits"],
    responses={
        200: {"description": "The same limit existed already."},
        409: {"description": "Id taken, or too many limits."},
    },
)
def create_fraud_limit(body: Annotated[FraudLimitCreate, Body()]) -> tuple[FraudLimitView, int]:
    call, current = admin_call(router), deps()
    limit = FraudLimit.model_validate(body.model_dump() | {"created_at": call.now})
    with admin_errors():
        stored, created = limits.create_limit(
            current.entities, call, limit, limits_max=current.limits.fraud_limits_max
        )
    return limit_view(stored), created_status(created)


@router.get("/admin/fraud-limits/<limit_id>", summary="Get a fraud limit", tags=["fraud limits"])
def get_fraud_limit(limit_id: LimitId) -> FraudLimitView:
    admin_call(router)
    with admin_errors():
        return limit_view(must_get(deps().entities, FraudLimit, limit_id, "fraud limit"))


@router.put(
    "/admin/fraud-limits/<limit_id>", summary="Replace a fraud limit's settings", tags=["fraud limits"]
)
def replace_fraud_limit(limit_id: LimitId, body: Annotated[FraudLimitFields, Body()]) -> FraudLimitView:
    call = admin_call(router)
    with admin_errors():
        return limit_view(limits.replace_limit(deps().entities, call, limit_id, body.model_dump()))


@router.delete("/admin/fraud-limits/<limit_id>", summary="Delete a fraud limit", tags=["fraud limits"])
def delete_fraud_limit(limit_id: LimitId) -> FraudLimitView:
    call = admin_call(router)
    with admin_errors():
        return limit_view(limits.delete_limit(deps().entities, call, limit_id))
