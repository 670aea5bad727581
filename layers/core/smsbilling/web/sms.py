"""Partner API: sending SMS from prepaid credits (logic/api_send.py, docs/partner-api.md "Sending SMS").

``POST /v1/sms`` sends one message, ``POST /v1/sms/batch`` up to ``sms.batch_messages_max``; both
answer 202 with the message ids, parts and credits reserved. The MTs' progress reaches the
service's ``status_url`` (docs/partner-callbacks.md) and ``GET /v1/messages/{id}``. Errors are
problem+json: 402 ``insufficient_credits`` (nothing queued), 404 for another partner's or an
unknown service, 409 ``service_not_active``, 422 with every field at fault, 403 for a key without
the ``messages:send`` scope. With ``Idempotency-Key`` the message ids come from the key, so a
repeat sends nothing twice.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_send_quota import DynamoSendQuota
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.domain.api_scopes import Scope, has_scope
from smsbilling.domain.entities import ApiKey
from smsbilling.logic import api_send
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.logic.send_limits import (
    MessagesOverLimit,
    MessagesRateLimited,
    SendQuota,
    SendRules,
    send_rules,
)
from smsbilling.ports import LedgerStore
from smsbilling.settings import load_settings
from smsbilling.web.conventions import deployed_partner_limits, request_idempotency_key
from smsbilling.web.partner_auth import current_key
from smsbilling.web.problems import ApiProblem

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class SmsDeps:
    entities: api_send.SendEntities
    ledger: LedgerStore
    events: api_send.MtQueue
    limits: api_send.SendLimits
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    quota: SendQuota | None = None  # per-partner message limits (logic/send_limits.py); None: none
    rules: SendRules | None = None  # destinations and message limits; None: read per send


_override: list[SmsDeps] = []


def use(deps: SmsDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> SmsDeps:
    settings = load_settings()
    client = aws.dynamodb()
    entities = DynamoEntityStore(client, settings.tables.entities)
    return SmsDeps(
        entities=entities,
        ledger=DynamoDbLedgerStore(settings.tables.ledger, client, settings.ledger),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=api_send.SendLimits(messages=settings.messages, sms=settings.sms, ledger=settings.ledger),
        quota=DynamoSendQuota(client, settings.tables.counters),
        rules=send_rules(
            entities,
            settings.sms,
            ttl_s=settings.traffic.rules_cache_s,
            partner_limits=deployed_partner_limits(),  # the one the request limits read
        ),
    )


def _deps() -> SmsDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------


class SmsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=64, description="the sending service (yours, active)")
    destination: str = Field(min_length=1, max_length=32, description="international, e.g. +447700900123")
    text: str = Field(
        min_length=1, max_length=2000, description="cut into SMS parts; 1530 characters at most"
    )
    allow_repeat: bool = Field(
        default=False,
        description="a legitimate repeat: not refused as a duplicate of the same text to the same number",
    )


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=2000)
    allow_repeat: bool = Field(
        default=False,
        description="a legitimate repeat: not refused as a duplicate of the same text to the same number",
    )


class SmsBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=64)
    messages: list[BatchItem] = Field(
        min_length=1, max_length=1000, description="at most the platform's batch limit (100 by default)"
    )


class QueuedSmsOut(BaseModel):
    message_id: str = Field(description="the MT's id: status callbacks and GET /v1/messages/{id} use it")
    destination: str = Field(description="E.164 digits, no '+'")
    parts: int = Field(description="SMS parts the text is cut into")
    credits: int = Field(description="credits reserved: consumed for the parts an operator accepts")
    status: str = Field(default="queued")


class SmsBatchResponse(BaseModel):
    messages: list[QueuedSmsOut]
    credits: int = Field(description="credits reserved in all")


_RESPONSES: dict[int, OpenAPIResponse] = {
    202: {"description": "Queued; the credits are reserved."},
    402: {"description": "Not enough credits (code insufficient_credits); nothing was queued."},
    403: {"description": "The API key lacks the messages:send scope."},
    404: {"description": "No such service for this partner."},
    409: {"description": "The service is not active (code service_not_active)."},
    422: {
        "description": "Invalid request (validation_failed), or a destination you may not send to: its"
        " country or a premium-rate range (destination_not_allowed); every field at fault in errors."
    },
    429: {
        "description": "Over your messages per second or minute (code rate_limited): nothing was queued or"
        " reserved; retry after Retry-After seconds."
    },
}


# --- routes -----------------------------------------------------------------------------------------


@router.post("/v1/sms", summary="Send one SMS from credits", tags=["sending"], responses=_RESPONSES)
def send_one(body: Annotated[SmsRequest, Body()]) -> tuple[QueuedSmsOut, int]:
    sms = api_send.SmsToSend(body.destination, body.text, repeat_ok=body.allow_repeat)
    sent = _send(body.service_id, [sms], batch=False)
    return _out(sent[0]), 202


@router.post(
    "/v1/sms/batch", summary="Send a batch of SMS from credits", tags=["sending"], responses=_RESPONSES
)
def send_batch(body: Annotated[SmsBatchRequest, Body()]) -> tuple[SmsBatchResponse, int]:
    messages = [
        api_send.SmsToSend(item.destination, item.text, repeat_ok=item.allow_repeat) for item in body.messages
    ]
    sent = _send(body.service_id, messages, batch=True)
    return SmsBatchResponse(messages=[_out(s) for s in sent], credits=sum(s.credits for s in sent)), 202


def _send(
    service_id: str, messages: list[api_send.SmsToSend], *, batch: bool
) -> tuple[api_send.QueuedSms, ...]:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_SEND)
    request = api_send.SendRequest(
        partner_id=key.partner_id,
        service_id=service_id,
        messages=tuple(messages),
        batch=batch,
        idempotency_key=request_idempotency_key(router),
    )
    try:
        sent = api_send.send_sms(
            request,
            now=deps.clock(),
            entities=deps.entities,
            ledger=deps.ledger,
            events=deps.events,
            limits=deps.limits,
            quota=deps.quota,
            rules=deps.rules,
        )
    except api_send.SendError as error:
        raise _problem(error) from None
    except MessagesRateLimited as error:
        logger.info("sms rate limited", extra={"window": error.window, "messages": len(messages)})
        raise ApiProblem(
            429,
            "rate_limited",
            f"More than your {error.limit} messages in one {error.window}; nothing was sent. Retry later.",
            headers={"Retry-After": str(error.retry_after_s)},
            limit=error.limit,
            window=error.window,
        ) from None
    except MessagesOverLimit as error:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": "messages", "reason": str(error)}],
        ) from None
    except Exception as error:  # the ledger or the queue: what was not queued is not charged
        logger.warning("sms send failed", extra={"error": type(error).__name__, "service_id": service_id})
        raise ApiProblem(
            503, "temporarily_unavailable", "The messages could not be queued; try again."
        ) from error
    logger.info(
        "sms queued",
        extra={"service_id": service_id, "messages": len(sent), "credits": sum(s.credits for s in sent)},
    )
    return sent


def scoped_key(source: BaseRouter, entities: EntityReader, scope: Scope) -> ApiKey:
    """The caller's key (401 if none) holding ``scope`` (403 if it does not)."""
    key = current_key(source, entities)
    if not has_scope(key.scopes, scope):
        raise ApiProblem(403, "insufficient_scope", f"This API key lacks the {scope.value} scope.")
    return key


def _out(sms: api_send.QueuedSms) -> QueuedSmsOut:
    return QueuedSmsOut(
        message_id=sms.message_id, destination=sms.destination, parts=sms.parts, credits=sms.credits
    )


def _problem(error: api_send.SendError) -> ApiProblem:
    match error:
        case api_send.SendInvalid():
            errors = [{"field": field, "reason": reason} for field, reason in error.errors]
            return ApiProblem(422, "validation_failed", "The request is not valid.", errors=errors)
        case api_send.DestinationNotAllowed():
            errors = [{"field": field, "reason": reason} for field, reason in error.errors]
            return ApiProblem(
                422,
                "destination_not_allowed",
                "You may not send to these destinations; nothing was sent.",
                errors=errors,
            )
        case api_send.SendNotFound():
            return ApiProblem(404, "not_found", "No such resource.")
        case api_send.SendUnavailable():
            return ApiProblem(409, error.code, str(error))
        case api_send.InsufficientCredits():
            return ApiProblem(
                402,
                "insufficient_credits",
                "Your credits do not cover these messages; nothing was sent.",
                credits_needed=error.needed,
                credits_available=error.available,
            )
    return ApiProblem(503, "temporarily_unavailable", "Sending is not available now; try again later.")
