"""Admin API: a partner's destinations, message and request limits, and the premium-rate ranges.

``GET``/``PUT /admin/partners/{partner_id}/traffic``: the countries the partner's MTs may go to
(``null``: the operators' countries), the premium ranges it may send to anyway, the HLR switch.
``GET``/``PUT /admin/partners/{partner_id}/send-limits``: its messages per second and per minute
through the partner API's sends, and its API requests per second and per minute over all its keys
(``null``: the platform's default; the partner API picks a change up within
``traffic.rules_cache_s``). ``/admin/premium-ranges``: E.164
prefixes of premium-rate numbers, refused to every partner not allowed them
(logic/admin_traffic_settings.py, docs/traffic/rate-limits-and-countries.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.countries import NOTE_CHARS_MAX, PremiumRange
from smsbilling.logic import admin_traffic_settings as logic
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, created_status, page_size
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

PartnerId = Annotated[str, Path(min_length=1, max_length=64)]
# API Gateway (REST) passes the path percent-encoded ("%2B44909"): decoded in the route, then checked.
Prefix = Annotated[str, Path(min_length=2, max_length=40, description="E.164 digits, e.g. 44909")]
CountryCode = Annotated[
    str, Field(pattern=r"^\+?[1-9][0-9]{0,2}$", description="E.164 calling code, e.g. 44")
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- traffic settings ------------------------------------------------------------------------------------


class TrafficSettingsPut(_Input):
    allowed_countries: list[CountryCode] | None = Field(
        default=None,
        max_length=300,
        description="calling codes MTs may go to; null: the operators' countries",
    )
    premium_ranges_allowed: list[str] = Field(
        default_factory=list, max_length=100, description="premium ranges (their prefixes) sent to anyway"
    )
    hlr_check: bool = Field(default=False, description="look subscribers up before sending (HLR)")


class TrafficSettingsView(BaseModel):
    partner_id: str
    allowed_countries: list[str] | None = Field(description="as set; null: the operators' countries")
    countries_in_force: list[str] = Field(description="what MTs may go to now")
    premium_ranges_allowed: list[str]
    hlr_check: bool
    updated_at: datetime | None = Field(description="null: never set (the platform's defaults)")


def traffic_view(state: logic.TrafficSettingsState) -> TrafficSettingsView:
    settings = state.settings
    return TrafficSettingsView(
        partner_id=settings.partner_id,
        allowed_countries=None if settings.allowed_countries is None else list(settings.allowed_countries),
        countries_in_force=sorted(state.countries_in_force, key=lambda c: (len(c), c)),
        premium_ranges_allowed=list(settings.premium_ranges_allowed),
        hlr_check=settings.hlr_check,
        updated_at=settings.updated_at,
    )


@router.get(
    "/admin/partners/<partner_id>/traffic",
    summary="Get a partner's traffic settings",
    tags=["traffic control"],
)
def get_traffic(partner_id: PartnerId) -> TrafficSettingsView:
    admin_call(router)
    with admin_errors():
        return traffic_view(logic.traffic_settings(deps().entities, partner_id))


@router.put(
    "/admin/partners/<partner_id>/traffic",
    summary="Set a partner's destinations and HLR switch (all of them)",
    tags=["traffic control"],
)
def put_traffic(partner_id: PartnerId, body: Annotated[TrafficSettingsPut, Body()]) -> TrafficSettingsView:
    call = admin_call(router)
    with admin_errors():
        state = logic.set_traffic_settings(
            deps().entities,
            call,
            partner_id,
            allowed=body.allowed_countries,
            premium_allowed=body.premium_ranges_allowed,
            hlr_check=body.hlr_check,
        )
    return traffic_view(state)


# --- send limits (messages and API requests) -------------------------------------------------------------

_DEFAULT = "null: the platform's default"


class SendLimitsPut(_Input):
    messages_per_s_max: int | None = Field(default=None, ge=1, le=100_000, description=_DEFAULT)
    messages_per_min_max: int | None = Field(default=None, ge=1, le=6_000_000, description=_DEFAULT)
    requests_per_s_max: int | None = Field(
        default=None, ge=1, le=100_000, description=f"API requests over all its keys; {_DEFAULT}"
    )
    requests_per_min_max: int | None = Field(
        default=None, ge=1, le=6_000_000, description=f"API requests over all its keys; {_DEFAULT}"
    )


class SendLimitsView(BaseModel):
    partner_id: str
    messages_per_s_max: int | None = Field(description=f"as set; {_DEFAULT}")
    messages_per_min_max: int | None = Field(description=f"as set; {_DEFAULT}")
    per_s_in_force: int = Field(description="messages per second in force")
    per_min_in_force: int = Field(description="messages per minute in force")
    requests_per_s_max: int | None = Field(description=f"as set; {_DEFAULT}")
    requests_per_min_max: int | None = Field(description=f"as set; {_DEFAULT}")
    requests_per_s_in_force: int = Field(description="API requests per second in force (all its keys)")
    requests_per_min_in_force: int = Field(description="API requests per minute in force (all its keys)")
    updated_at: datetime | None = Field(description="null: never set (the platform's defaults)")


def limits_view(state: logic.SendLimitsState) -> SendLimitsView:
    limits = state.limits
    return SendLimitsView(
        partner_id=limits.partner_id,
        messages_per_s_max=limits.messages_per_s_max,
        messages_per_min_max=limits.messages_per_min_max,
        per_s_in_force=state.in_force.per_s_max,
        per_min_in_force=state.in_force.per_min_max,
        requests_per_s_max=limits.requests_per_s_max,
        requests_per_min_max=limits.requests_per_min_max,
        requests_per_s_in_force=state.requests_in_force.per_s_max,
        requests_per_min_in_force=state.requests_in_force.per_min_max,
        updated_at=limits.updated_at,
    )


@router.get(
    "/admin/partners/<partner_id>/send-limits",
    summary="Get a partner's message and API request limits",
    tags=["traffic control"],
)
def get_send_limits(partner_id: PartnerId) -> SendLimitsView:
    admin_call(router)
    with admin_errors():
        return limits_view(logic.send_limits(deps().entities, partner_id, deps().sms, deps().api))


@router.put(
    "/admin/partners/<partner_id>/send-limits",
    summary="Set a partner's message and API request limits (all of them; null: the platform's default)",
    tags=["traffic control"],
)
def put_send_limits(partner_id: PartnerId, body: Annotated[SendLimitsPut, Body()]) -> SendLimitsView:
    call = admin_call(router)
    with admin_errors():
        state = logic.set_send_limits(
            deps().entities,
            call,
            partner_id,
            deps().sms,
            deps().api,
            per_s_max=body.messages_per_s_max,
            per_min_max=body.messages_per_min_max,
            requests_per_s_max=body.requests_per_s_max,
            requests_per_min_max=body.requests_per_min_max,
        )
    return limits_view(state)


# --- premium ranges --------------------------------------------------------------------------------------


class PremiumRangeAdd(_Input):
    prefix: str = Field(min_length=2, max_length=40, description="international, e.g. +44 909")
    note: str = Field(default="", max_length=NOTE_CHARS_MAX, description="what it is, who reported it")


class PremiumRangeUpdate(_Input):
    note: str = Field(max_length=NOTE_CHARS_MAX)


class PremiumRangeView(BaseModel):
    prefix: str = Field(description="E.164 digits")
    note: str
    created_at: datetime
    updated_at: datetime | None


class PremiumRangePage(BaseModel):
    items: list[PremiumRangeView]
    next_cursor: str | None


def range_view(entry: PremiumRange) -> PremiumRangeView:
    return PremiumRangeView.model_validate(entry.model_dump())


@router.get("/admin/premium-ranges", summary="List premium-rate ranges", tags=["traffic control"])
def list_premium_ranges(limit: Limit = None, cursor: Cursor = None) -> PremiumRangePage:
    admin_call(router)
    with admin_errors():
        found, after = logic.list_premium_ranges(deps().entities, limit=page_size(limit), cursor=cursor)
    return PremiumRangePage(items=[range_view(r) for r in found], next_cursor=after)


@router.post(
    "/admin/premium-ranges",
    summary="List a premium-rate range",
    tags=["traffic control"],
    responses={
        200: {"description": "The same range existed already."},
        409: {"description": "Range exists."},
    },
)
def add_premium_range(body: Annotated[PremiumRangeAdd, Body()]) -> tuple[PremiumRangeView, int]:
    call = admin_call(router)
    with admin_errors():
        entry, created = logic.add_premium_range(deps().entities, call, body.prefix, body.note)
    return range_view(entry), created_status(created)


@router.get("/admin/premium-ranges/<prefix>", summary="Get a premium-rate range", tags=["traffic control"])
def get_premium_range(prefix: Prefix) -> PremiumRangeView:
    admin_call(router)
    with admin_errors():
        return range_view(logic.get_premium_range(deps().entities, unquote(prefix)))


@router.patch(
    "/admin/premium-ranges/<prefix>", summary="Change a premium-rate range's note", tags=["traffic control"]
)
def update_premium_range(prefix: Prefix, body: Annotated[PremiumRangeUpdate, Body()]) -> PremiumRangeView:
    call = admin_call(router)
    with admin_errors():
        return range_view(logic.update_premium_range(deps().entities, call, unquote(prefix), body.note))


@router.delete(
    "/admin/premium-ranges/<prefix>", summary="Remove a premium-rate range", tags=["traffic control"]
)
def remove_premium_range(prefix: Prefix) -> PremiumRangeView:
    call = admin_call(router)
    with admin_errors():
        return range_view(logic.remove_premium_range(deps().entities, call, unquote(prefix)))
