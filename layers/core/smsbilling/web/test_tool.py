"""Partner API: the test tool (logic/test_tool.py, docs/partner-api.md "Testing your handler").

``POST /v1/services/{service_id}/test-mo`` emulates an incoming MO for one of the caller's own
active services through the real pipeline (202 with the MO's id); ``GET
/v1/services/{service_id}/test-log`` lists the service's test MOs, newest first, each with the
handler's delivery (state, attempts, HTTP status, reason) and its reply (text and state). A test
MO is never billed to the operator or counted in the partner's income, and its reply is never
sent to an operator. Another partner's service, or none, is 404.

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
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_handler_test_log import DynamoHandlerTestLog
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.cursors import CursorError, boundary_of, context_of, decode_cursor, encode_cursor
from smsbilling.logic import test_tool
from smsbilling.logic.mo_intake import EntityReader, EventPublisher, InboundStore
from smsbilling.settings import HandlerTestLimits, load_settings
from smsbilling.web.conventions import request_idempotency_key
from smsbilling.web.problems import ApiProblem
from smsbilling.web.sms import scoped_key

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]

_SERVICE_ID = Path(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class HandlerTestDeps:
    entities: EntityReader
    mos: InboundStore
    log: test_tool.HandlerTestLog
    deliveries: test_tool.DeliveryReader
    mts: test_tool.MtReader
    events: EventPublisher
    limits: HandlerTestLimits
    cursor_key: bytes
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


_override: list[HandlerTestDeps] = []


def use(deps: HandlerTestDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> HandlerTestDeps:
    settings = load_settings()
    client = aws.dynamodb()
    messages = settings.tables.messages
    return HandlerTestDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        mos=DynamoInboundStore(client, messages),
        log=DynamoHandlerTestLog(client, messages),
        deliveries=DynamoDeliveryLog(client, messages),
        mts=DynamoMtStore(client, messages, shards=settings.messages.mt_due_shards_count),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=settings.handler_test,
        cursor_key=settings.reports.cursor_signing_key.encode(),
    )


def _deps() -> HandlerTestDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------


class EmulatedMoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=1000,
        description="the MO as a subscriber types it; the prefix is added if missing",
    )
    msisdn: str | None = Field(
        default=None, min_length=1, max_length=32, description="the subscriber; a test number if omitted"
    )
    short_number: str | None = Field(
        default=None,
        pattern=r"^[0-9]{3,15}$",
        description="one of the service's numbers; its first if omitted",
    )


class EmulatedMoResponse(BaseModel):
    message_id: str = Field(description="the test MO's id (the handler receives it as message_id)")
    service_id: str
    short_number: str
    msisdn: str = Field(description="E.164 digits, no '+'")
    text: str = Field(description="the MO's text as the handler will get it")
    is_test: bool = True


class DeliveryOut(BaseModel):
    state: str = Field(description="calling, retrying, delivered, queued (SMPP outbox) or dead")
    attempts: int
    http_status: int | None = None
    reason: str = ""
    updated_at: datetime


class ReplyOut(BaseModel):
    message_id: str = Field(description="the reply MT's id")
    text: str | None = Field(default=None, description="None until the MT processor has recorded it")
    state: str = Field(description="'delivered' (simulated: never sent) once recorded; 'requested' before")
    reason: str = ""


class HandlerTestItem(BaseModel):
    message_id: str
    received_at: datetime
    msisdn: str
    short_number: str
    text: str
    state: str = Field(description="the MO: received, routed, unrouted, blacklisted or rejected")
    reason: str = ""
    delivery: DeliveryOut | None = Field(default=None, description="None until the handler was called")
    reply: ReplyOut | None = Field(default=None, description="None when the handler sent no reply (yet)")


class HandlerTestLogPage(BaseModel):
    items: list[HandlerTestItem]
    next_cursor: str | None = Field(default=None, description="pass as cursor for the next page")


# --- routes -----------------------------------------------------------------------------------------


@router.post(
    "/v1/services/<service_id>/test-mo",
    summary="Send a test MO to your service's handler",
    tags=["test tool"],
    responses={
        202: {"description": "The test MO is queued; follow it in the test log."},
        403: {"description": "The API key lacks the messages:send scope."},
        404: {"description": "No such service for this partner."},
        409: {"description": "The service is not active (code service_not_active)."},
        422: {"description": "Invalid request."},
    },
)
def send_test_mo(
    service_id: Annotated[str, _SERVICE_ID], body: Annotated[EmulatedMoRequest, Body()]
) -> tuple[EmulatedMoResponse, int]:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_SEND)
    request = test_tool.EmulatedMo(
        partner_id=key.partner_id,
        service_id=service_id,
        text=body.text,
        msisdn=body.msisdn,
        short_number=body.short_number,
        idempotency_key=request_idempotency_key(router),
    )
    try:
        mo = test_tool.emulate_mo(
            request,
            now=deps.clock(),
            entities=deps.entities,
            store=deps.mos,
            log=deps.log,
            events=deps.events,
            limits=deps.limits,
        )
    except test_tool.HandlerTestError as error:
        raise _problem(error) from None
    except Exception as error:  # the table or the queue: a retry (same Idempotency-Key) finishes it
        logger.warning("test mo failed", extra={"error": type(error).__name__, "service_id": service_id})
        raise ApiProblem(
            503, "temporarily_unavailable", "The test MO could not be queued; try again."
        ) from error
    logger.info("test mo queued", extra={"message_id": mo.message_id, "service_id": service_id})
    return (
        EmulatedMoResponse(
            message_id=mo.message_id,
            service_id=service_id,
            short_number=mo.destination,
            msisdn=mo.source.lstrip("+"),
            text=mo.text,
        ),
        202,
    )


@router.get(
    "/v1/services/<service_id>/test-log",
    summary="Your service's test MOs and what its handler answered",
    tags=["test tool"],
    responses={
        400: {"description": "A cursor this listing did not hand out (code invalid_cursor)."},
        403: {"description": "The API key lacks the messages:read scope."},
        404: {"description": "No such service for this partner."},
    },
)
def read_test_log(
    service_id: Annotated[str, _SERVICE_ID],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> HandlerTestLogPage:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_READ)
    context = context_of(key.partner_id, "test-log", service_id)
    after = None
    if cursor is not None:
        try:
            after = boundary_of(decode_cursor(cursor, key=deps.cursor_key, context=context))
        except CursorError:
            raise ApiProblem(
                400, "invalid_cursor", "This cursor is not valid here.", field="cursor"
            ) from None
    size = min(limit or deps.limits.log_page_size_default, deps.limits.log_page_size_max)
    try:
        lines, boundary = test_tool.read_test_log(
            key.partner_id,
            service_id,
            limit=size,
            after=after,
            entities=deps.entities,
            log=deps.log,
            mos=deps.mos,
            deliveries=deps.deliveries,
            mts=deps.mts,
        )
    except test_tool.HandlerTestError as error:
        raise _problem(error) from None
    next_cursor = (
        None if boundary is None else encode_cursor({"b": boundary}, key=deps.cursor_key, context=context)
    )
    return HandlerTestLogPage(items=[_item(line) for line in lines], next_cursor=next_cursor)


def _item(line: test_tool.HandlerTestLine) -> HandlerTestItem:
    mo, delivery, reply = line.mo, line.delivery, line.reply
    reply_out = None
    if reply is not None:
        reply_out = ReplyOut(
            message_id=reply.message_id, text=reply.text, state=reply.mt.state.value, reason=reply.mt.reason
        )
    elif line.reply_mt_id is not None:
        reply_out = ReplyOut(message_id=line.reply_mt_id, state="requested")
    return HandlerTestItem(
        message_id=mo.message_id,
        received_at=mo.received_at,
        msisdn=mo.msisdn or mo.source.lstrip("+"),
        short_number=mo.short_number or mo.destination,
        text=mo.full_text if mo.full_text is not None else mo.text,
        state=mo.state.value,
        reason=mo.reason,
        delivery=None
        if delivery is None
        else DeliveryOut(
            state=delivery.state.value,
            attempts=delivery.attempts,
            http_status=delivery.http_status,
            reason=delivery.reason,
            updated_at=delivery.updated_at,
        ),
        reply=reply_out,
    )


def _problem(error: test_tool.HandlerTestError) -> ApiProblem:
    match error:
        case test_tool.HandlerTestNotFound():
            return ApiProblem(404, "not_found", "No such resource.")
        case test_tool.HandlerTestInvalid():
            return ApiProblem(
                422,
                "validation_failed",
                "The request is not valid.",
                errors=[{"field": error.field, "reason": error.reason}],
            )
        case test_tool.HandlerTestUnavailable():
            return ApiProblem(409, error.code, str(error))
    return ApiProblem(400, "bad_request", str(error))
