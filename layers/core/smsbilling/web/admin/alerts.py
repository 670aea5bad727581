"""Admin API: traffic-control alerts (logic/admin_alerts.py, docs/traffic/monitoring.md).

An alert is every raise of one rule in one UTC hour, counted. ``GET /admin/alerts`` lists one status
(``open`` by default), **oldest first** by when each alert was first raised, so the longest-waiting
is on top; ``POST .../acknowledge`` records who looked (idempotent: the first acknowledgement stands).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.alerts import ALERT_ID_PATTERN, NOTE_CHARS_MAX, Alert, AlertStatus
from smsbilling.domain.traffic import Action, ControlName, Direction
from smsbilling.logic import admin_alerts
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, page_size
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

AlertId = Annotated[str, Path(pattern=ALERT_ID_PATTERN, description="32 hex digits")]


class AlertView(BaseModel):
    alert_id: str
    status: AlertStatus
    control: ControlName
    rule_id: str
    action: Action = Field(description="what the finding asked for: alert, hold or reject")
    reason: str = Field(description="the first raise's reason")
    direction: Direction
    hour: datetime = Field(description="the UTC hour this alert counts (the next hour is another alert)")
    count: int = Field(description="raises so far, acknowledged or not")
    first_at: datetime
    last_at: datetime
    sample_message_id: str = Field(description="the message of the first raise")
    partner_id: str | None
    operator_id: str | None
    acknowledged_by: str | None = Field(description="the admin key id")
    acknowledged_at: datetime | None
    count_at_acknowledgement: int | None = Field(description="raises counted when it was acknowledged")
    note: str


class AlertPage(BaseModel):
    items: list[AlertView]
    next_cursor: str | None


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=NOTE_CHARS_MAX, description="what was done about it")


def alert_view(alert: Alert) -> AlertView:
    hour = alert.first_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return AlertView.model_validate(alert.model_dump(exclude={"event_key"}) | {"hour": hour})


@router.get(
    "/admin/alerts",
    summary="List alerts",
    description="One status, oldest first (by first raise).",
    tags=["traffic control"],
)
def list_alerts(
    status: Annotated[
        AlertStatus, Query(description="open (default): not acknowledged yet")
    ] = AlertStatus.OPEN,
    limit: Limit = None,
    cursor: Cursor = None,
) -> AlertPage:
    admin_call(router)
    with admin_errors():
        found, after = admin_alerts.alerts(deps().entities, status, limit=page_size(limit), cursor=cursor)
    return AlertPage(items=[alert_view(a) for a in found], next_cursor=after)


@router.get("/admin/alerts/<alert_id>", summary="Get an alert", tags=["traffic control"])
def get_alert(alert_id: AlertId) -> AlertView:
    admin_call(router)
    with admin_errors():
        return alert_view(admin_alerts.get_alert(deps().entities, alert_id))


@router.post(
    "/admin/alerts/<alert_id>/acknowledge",
    summary="Acknowledge an alert",
    description="Records the admin key and the note. Acknowledged already: the alert as it is, unchanged.",
    tags=["traffic control"],
)
def acknowledge_alert(alert_id: AlertId, body: Annotated[AcknowledgeRequest, Body()]) -> AlertView:
    call = admin_call(router)
    with admin_errors():
        alert, _ = admin_alerts.acknowledge(deps().entities, call, alert_id, body.note)
    return alert_view(alert)
