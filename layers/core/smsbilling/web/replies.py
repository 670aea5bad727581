"""Partner API: replies to MOs (``http_post_async`` handlers answer here; logic/partner_dispatch.py).

``POST /v1/messages/{message_id}/reply`` ``{"text": "..."}`` with the partner's API key requests
the reply MT to one of the partner's routed MOs: 202 ``{message_id, in_reply_to, billed}``, where
``message_id`` is the reply MT's id (derived from the MO's, the same one a sync handler's answer
gets). It is naturally idempotent: the same text again answers 202 with the same MT id and sends
nothing twice. Another text once a reply was requested (by this API or by a sync handler's
answer) is 409 ``reply_exists``; an MO of another partner, or none, is 404; an MO that was not
routed (unrouted, blacklisted, rejected) is 409 ``not_routed``; a bad text is 422.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.logic import partner_dispatch as dispatch
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import PartnerDeliveryLimits, load_settings
from smsbilling.web.partner_auth import current_key
from smsbilling.web.problems import ApiProblem

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class ReplyDeps:
    entities: EntityReader
    mos: dispatch.MoReader
    log: dispatch.DeliveryLog
    events: dispatch.DispatchEvents
    limits: PartnerDeliveryLimits
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


_override: list[ReplyDeps] = []


def use(deps: ReplyDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> ReplyDeps:
    settings = load_settings()
    client = aws.dynamodb()
    return ReplyDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        mos=DynamoInboundStore(client, settings.tables.messages),
        log=DynamoDeliveryLog(client, settings.tables.messages),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=settings.partner_delivery,
    )


def _deps() -> ReplyDeps:
    return _override[0] if _override else _deployed()


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000, description="the reply; 1530 characters at most")


class ReplyResponse(BaseModel):
    message_id: str = Field(description="the reply MT's id (status callbacks and DLRs refer to it)")
    in_reply_to: str = Field(description="the MO's id")
    billed: bool = Field(description="the billed MT of an MT-billed short number")


@router.post(
    "/v1/messages/<message_id>/reply",
    summary="Reply to a routed MO (async handlers)",
    tags=["messages"],
    responses={
        202: {"description": "The reply is queued (or was already, with the same text)."},
        404: {"description": "No such MO for this partner."},
        409: {"description": "The MO was not routed, or another reply was already requested."},
        422: {"description": "Invalid text."},
    },
)
def reply(
    message_id: Annotated[str, Path(min_length=1, max_length=64)], body: Annotated[ReplyRequest, Body()]
) -> tuple[ReplyResponse, int]:
    deps = _deps()
    key = current_key(router, deps.entities)
    try:
        stored = dispatch.request_reply(
            message_id,
            body.text,
            partner_id=key.partner_id,
            mos=deps.mos,
            log=deps.log,
            events=deps.events,
            limits=deps.limits,
            now=deps.clock(),
        )
    except dispatch.ReplyRejected as rejected:
        if rejected.mt_id is not None:  # the reply that stands, so the partner can follow it
            raise ApiProblem(
                rejected.status, rejected.code, rejected.detail, reply_message_id=rejected.mt_id
            ) from None
        raise ApiProblem(rejected.status, rejected.code, rejected.detail) from None
    logger.info("reply requested", extra={"in_reply_to": message_id, "mt_id": stored.mt_id})
    return ReplyResponse(message_id=stored.mt_id, in_reply_to=message_id, billed=stored.billed), 202
