"""Admin API: tariff plans, common and individual (logic/admin_plans.py, domain/tariff.py).

Amounts are integers: prices in minor units of the plan's currency (VAT included), rates in basis
points (10,000 = 100 %), outgoing SMS costs in micro-units. Times are UTC ISO 8601. A plan is
created whole and never edited; ``PATCH`` can only set or move its end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from smsbilling.domain.tariff import StepBasis
from smsbilling.domain.tariff_records import (
    NumberTariffRecord,
    OutgoingCostRecord,
    StepRecord,
    TariffPlanRecord,
)
from smsbilling.logic import admin_plans as plans
from smsbilling.logic.admin_common import must_get
from smsbilling.web.admin.common import ID_DESCRIPTION, ID_PATTERN, admin_call, admin_errors, created_status
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

PlanId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _after_epoch(at: datetime) -> datetime:
    if at < _EPOCH:
        raise ValueError("must be after 1970-01-01T00:00:00Z")  # stored as epoch milliseconds
    return at


Instant = Annotated[AwareDatetime, AfterValidator(_after_epoch)]


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(pattern=ID_PATTERN, description=ID_DESCRIPTION)
    partner_id: str | None = Field(default=None, max_length=64, description="an individual plan's partner")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    effective_from: Instant | None = Field(
        default=None, description="UTC; default now. Not in the past: plans never change retroactively"
    )
    effective_to: Instant | None = Field(default=None, description="exclusive; null: open-ended")
    numbers: tuple[NumberTariffRecord, ...] = Field(min_length=1, max_length=1000)
    step_basis: StepBasis = StepBasis.COUNT
    steps: tuple[StepRecord, ...] = Field(
        min_length=1, max_length=100, description="the commission scale; the first step at threshold 0"
    )
    referral_bps: int = Field(default=0, ge=0, le=10_000)
    outgoing: tuple[OutgoingCostRecord, ...] = Field(default=(), max_length=1000)


class PlanEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_to: Instant = Field(description="when the plan stops applying (UTC, not in the past)")


class PlanView(BaseModel):
    plan_id: str
    partner_id: str | None
    currency: str
    effective_from: datetime
    effective_to: datetime | None
    numbers: list[NumberTariffRecord]
    step_basis: StepBasis
    steps: list[StepRecord]
    referral_bps: int
    outgoing: list[OutgoingCostRecord]


class PlanList(BaseModel):
    items: list[PlanView]


def plan_view(record: TariffPlanRecord) -> PlanView:
    fields = record.model_dump(exclude={"effective_from_ms", "effective_to_ms"})
    ends = record.effective_to_ms
    return PlanView(
        **fields,
        effective_from=plans.from_ms(record.effective_from_ms),
        effective_to=None if ends is None else plans.from_ms(ends),
    )


@router.get("/admin/tariff-plans", summary="List the common plans, or one partner's", tags=["tariff plans"])
def list_plans(
    partner_id: Annotated[str | None, Query(max_length=64, description="omitted: the common plans")] = None,
) -> PlanList:
    admin_call(router)
    return PlanList(items=[plan_view(record) for record in plans.plans_of(deps().entities, partner_id)])


@router.post(
    "/admin/tariff-plans",
    summary="Create a tariff plan",
    tags=["tariff plans"],
    responses={200: {"description": "The same plan existed already."}, 409: {"description": "Id taken."}},
)
def create_plan(body: Annotated[PlanCreate, Body()]) -> tuple[PlanView, int]:
    call, current = admin_call(router), deps()
    starts = body.effective_from or call.now
    fields = body.model_dump(exclude={"effective_from", "effective_to"})
    record = TariffPlanRecord.model_validate(
        fields
        | {
            "effective_from_ms": plans.to_ms(starts),
            "effective_to_ms": None if body.effective_to is None else plans.to_ms(body.effective_to),
        }
    )
    with admin_errors():
        stored, created = plans.create_plan(
            current.entities, call, record, start_skew_s=current.limits.plan_start_skew_s
        )
    return plan_view(stored), created_status(created)


@router.get("/admin/tariff-plans/<plan_id>", summary="Get a tariff plan", tags=["tariff plans"])
def get_plan(plan_id: PlanId) -> PlanView:
    admin_call(router)
    with admin_errors():
        return plan_view(must_get(deps().entities, TariffPlanRecord, plan_id, "tariff plan"))


@router.patch(
    "/admin/tariff-plans/<plan_id>",
    summary="End a tariff plan (set or move effective_to)",
    tags=["tariff plans"],
    responses={409: {"description": "The plan has ended already."}},
)
def end_plan(plan_id: PlanId, body: Annotated[PlanEnd, Body()]) -> PlanView:
    call, current = admin_call(router), deps()
    with admin_errors():
        ended = plans.end_plan(
            current.entities, call, plan_id, body.effective_to, start_skew_s=current.limits.plan_start_skew_s
        )
    return plan_view(ended)
