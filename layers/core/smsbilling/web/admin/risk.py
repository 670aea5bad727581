"""Admin API: the risk policy (logic/admin_risk.py, docs/traffic/risk-score.md).

``GET /admin/risk-policy`` answers the policy in force (the defaults, ``updated_at`` null, until an
admin stores one); ``PUT`` replaces it whole: the switch, a weight per signal (points at full
strength) and the thresholds that turn a score into an action, sorted by ``score_min``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.risk import THRESHOLDS_MAX, WEIGHT_MAX, RiskPolicy
from smsbilling.domain.traffic import Action
from smsbilling.logic import admin_risk
from smsbilling.web.admin.common import admin_call, admin_errors
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

Weight = Annotated[int, Field(ge=0, le=WEIGHT_MAX, description="points at full strength")]


class RiskWeightsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber_velocity: Weight
    range_velocity: Weight
    new_partner: Weight
    operator_mix: Weight
    otp_conversion: Weight


class RiskThresholdBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score_min: int = Field(ge=1, le=100, description="from this score up")
    action: Action


class RiskPolicyPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="false: messages are neither scored nor acted on")
    weights: RiskWeightsBody
    thresholds: list[RiskThresholdBody] = Field(
        max_length=THRESHOLDS_MAX, description="ascending score_min; empty: scores are stored, never acted on"
    )


class RiskPolicyView(BaseModel):
    enabled: bool
    weights: RiskWeightsBody
    thresholds: list[RiskThresholdBody]
    updated_at: datetime | None = Field(description="null: the platform defaults (none stored)")


def policy_view(policy: RiskPolicy) -> RiskPolicyView:
    return RiskPolicyView.model_validate(policy.model_dump(exclude={"policy_id"}))


@router.get("/admin/risk-policy", summary="Get the risk policy", tags=["traffic control"])
def get_risk_policy() -> RiskPolicyView:
    admin_call(router)
    with admin_errors():
        return policy_view(admin_risk.current(deps().entities))


@router.put(
    "/admin/risk-policy",
    summary="Replace the risk policy",
    tags=["traffic control"],
    responses={422: {"description": "A weight out of range, or thresholds out of order."}},
)
def put_risk_policy(body: Annotated[RiskPolicyPut, Body()]) -> RiskPolicyView:
    call = admin_call(router)
    with admin_errors():
        policy = admin_risk.replace(
            deps().entities,
            call,
            enabled=body.enabled,
            weights=body.weights.model_dump(),
            thresholds=[(t.score_min, t.action) for t in body.thresholds],
        )
    return policy_view(policy)
