"""Admin API: messages traffic control held for review (logic/traffic_review.py).

A held MO is stored ``held``; a held MT stays ``queued`` with its ``held_reason``. Releasing one lets
it go on with no control asked again; rejecting it ends it ``rejected`` with the note, never
charged or sent. The decision is stored, then the message's queue message is published again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.traffic import Direction, HeldMessage, HeldStatus
from smsbilling.logic.admin_common import must_get
from smsbilling.logic.traffic_review import decide_held, held_messages, republish
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, page_size
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

MessageId = Annotated[str, Path(min_length=1, max_length=64, description="the held message's id")]


class HeldView(BaseModel):
    message_id: str
    direction: Direction
    status: HeldStatus
    reason: str = Field(description="the strongest finding: control and why")
    findings: list[str] = Field(description="every finding as control:rule:action")
    risk_score: int | None
    partner_id: str | None
    operator_id: str | None
    msisdn: str
    text: str = Field(description="the start of the text")
    held_at: datetime
    decided_at: datetime | None
    decided_by: str | None = Field(description="the admin key id that decided")
    decision_note: str


class HeldPage(BaseModel):
    items: list[HeldView]
    next_cursor: str | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=200, description="kept with the decision (a rejection's reason)")


def held_view(held: HeldMessage) -> HeldView:
    return HeldView.model_validate(
        held.model_dump(exclude={"command_json", "labels"}) | {"findings": held.labels}
    )


@router.get("/admin/held", summary="List held messages", tags=["traffic control"])
def list_held(
    status: Annotated[
        HeldStatus, Query(description="held (default): waiting for a decision")
    ] = HeldStatus.HELD,
    limit: Limit = None,
    cursor: Cursor = None,
) -> HeldPage:
    admin_call(router)
    with admin_errors():
        found, after = held_messages(deps().entities, status, limit=page_size(limit), cursor=cursor)
    return HeldPage(items=[held_view(h) for h in found], next_cursor=after)


@router.get("/admin/held/<message_id>", summary="Get a held message", tags=["traffic control"])
def get_held(message_id: MessageId) -> HeldView:
    admin_call(router)
    with admin_errors():
        held = must_get(deps().entities, HeldMessage, message_id, "held message")
    return held_view(held)


def _decide(message_id: str, decision: Literal["release", "reject"], body: Decision) -> HeldView:
    call = admin_call(router)
    current = deps()
    with admin_errors():
        held = decide_held(
            current.entities,
            call,
            message_id,
            decision,
            note=body.note,
            publish=lambda message: republish(message, current.events),
        )
    return held_view(held)


@router.post(
    "/admin/held/<message_id>/release",
    summary="Release a held message",
    description="It goes on as if no control had spoken. Releasing again publishes it again.",
    tags=["traffic control"],
    responses={409: {"description": "Rejected already."}},
)
def release_held(message_id: MessageId, body: Annotated[Decision, Body()]) -> HeldView:
    return _decide(message_id, "release", body)


@router.post(
    "/admin/held/<message_id>/reject",
    summary="Reject a held message",
    description="It ends rejected with the note as its reason; never charged or sent.",
    tags=["traffic control"],
    responses={409: {"description": "Released already."}},
)
def reject_held(message_id: MessageId, body: Annotated[Decision, Body()]) -> HeldView:
    return _decide(message_id, "reject", body)
