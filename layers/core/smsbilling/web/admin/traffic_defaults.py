"""Admin API: the platform's traffic-control defaults (logic/traffic_defaults.py).

``GET /admin/traffic-defaults`` shows the values in force and which of them the admin set;
``PUT`` replaces the admin's overrides (a field left out or null goes back to the deployed setting).
The processors pick a change up within ``rules_cache_s`` (30 s by default).
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from smsbilling.domain.traffic import TrafficDefaults, TrafficOverrides
from smsbilling.logic.traffic_defaults import effective, set_overrides
from smsbilling.web.admin.common import admin_call, admin_errors
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

ActionName = Literal["alert", "hold", "reject"]


class TrafficDefaultsView(BaseModel):
    mo_per_subscriber_per_minute_max: int = Field(description="MOs one subscriber may send a minute; 0: off")
    mo_per_subscriber_per_hour_max: int = Field(description="MOs one subscriber may send an hour; 0: off")
    mo_flood_action: ActionName
    duplicate_window_s: int = Field(description="same sender, recipient and text within this; 0: off")
    duplicate_action: ActionName
    duplicate_mt_purposes: list[str] = Field(description="MT purposes checked for duplicates")
    overridden: list[str] = Field(description="the fields the admin set (the rest are the deployed settings)")


def _view(stored: TrafficDefaults | None) -> TrafficDefaultsView:
    limits = effective(deps().traffic, stored)
    overrides = stored.overrides if stored is not None else TrafficOverrides()
    fields = limits.model_dump(include=set(TrafficOverrides.model_fields))
    return TrafficDefaultsView.model_validate(
        fields | {"overridden": sorted(overrides.model_dump(exclude_none=True))}
    )


@router.get("/admin/traffic-defaults", summary="Get the traffic-control defaults", tags=["traffic control"])
def get_traffic_defaults() -> TrafficDefaultsView:
    admin_call(router)
    return _view(deps().entities.get(TrafficDefaults, "default"))


@router.put("/admin/traffic-defaults", summary="Set the traffic-control defaults", tags=["traffic control"])
def put_traffic_defaults(body: Annotated[TrafficOverrides, Body()]) -> TrafficDefaultsView:
    call = admin_call(router)
    with admin_errors():
        stored = set_overrides(deps().entities, call, body)
    return _view(stored)
