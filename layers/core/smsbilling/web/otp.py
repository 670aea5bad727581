"""Partner API: the "password by SMS" ready service (logic/otp.py, docs/partner-api-otp.md).

``POST /v1/otp`` sends a code (202 with the OTP id and its expiry); ``POST /v1/otp/{otp_id}/verify``
checks one (200 ``{valid, reason, attempts_left}``). Both need the partner's API key. Errors are
problem+json: 404 for another partner's or an unknown service / OTP, 409 for a service that cannot
send codes, 422 for bad input, 429 with ``Retry-After`` when the subscriber had enough codes.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_otp import DynamoOtpStore, DynamoSendLimiter
from smsbilling.adapters.risk_control import build_otp_verifications
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.logic import otp
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import OtpLimits, load_settings
from smsbilling.web.partner_auth import current_key
from smsbilling.web.problems import ApiProblem

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True, slots=True)
class OtpDeps:
    entities: EntityReader
    store: otp.OtpStore
    limiter: otp.SendLimiter
    events: otp.MtPublisher
    limits: OtpLimits
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    verified: otp.VerifiedCounter | None = None  # verified codes, for the risk score (logic/risk.py)


_override: list[OtpDeps] = []


def use(deps: OtpDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> OtpDeps:
    settings = load_settings()
    return OtpDeps(
        entities=DynamoEntityStore(aws.dynamodb(), settings.tables.entities),
        store=DynamoOtpStore(aws.dynamodb(), settings.tables.messages, keep_s=settings.otp.record_keep_s),
        limiter=DynamoSendLimiter(aws.dynamodb(), settings.tables.counters),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
        limits=settings.otp,
        verified=build_otp_verifications(settings, aws.dynamodb()),
    )


def _deps() -> OtpDeps:
    return _override[0] if _override else _deployed()


# --- models: input and output are separate, and neither is the stored record --------------------


class OtpSendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=64)
    msisdn: str = Field(
        min_length=1, max_length=32, description="international, e.g. 447700900123 or +44 7700 900123"
    )
    length: int | None = Field(default=None, description="digits in the code (default 6, 4..10)")
    ttl_s: int | None = Field(default=None, description="seconds the code is valid (default 300, 30..3600)")


class OtpSendResponse(BaseModel):
    otp_id: str
    expires_at: datetime


class OtpVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)


class OtpVerifyResponse(BaseModel):
    valid: bool
    reason: Literal["mismatch", "expired", "used", "attempts_exhausted"] | None = None
    attempts_left: int


# --- routes -----------------------------------------------------------------------------------------


@router.post(
    "/v1/otp",
    summary="Send a one-time password by SMS",
    tags=["otp"],
    responses={
        202: {"description": "The code is queued for sending."},
        404: {"description": "No such service for this partner."},
        409: {"description": "The service is not active or has OTP disabled."},
        422: {"description": "Invalid request, or an Idempotency-Key reused with another request."},
        429: {"description": "Too many codes to this number; see Retry-After."},
    },
)
def send_otp(body: Annotated[OtpSendRequest, Body()]) -> tuple[OtpSendResponse, int]:
    deps = _deps()
    key = current_key(router, deps.entities)
    request = otp.OtpRequest(
        partner_id=key.partner_id,
        service_id=body.service_id,
        msisdn=body.msisdn,
        length=body.length,
        ttl_s=body.ttl_s,
        idempotency_key=_idempotency_key(),
    )
    try:
        sent = otp.send_code(
            request,
            now=deps.clock(),
            entities=deps.entities,
            store=deps.store,
            limiter=deps.limiter,
            events=deps.events,
            limits=deps.limits,
        )
    except otp.OtpError as error:
        raise _problem(error) from None
    except Exception as error:  # the queue or the table: the code was not sent, nothing is kept
        logger.warning("otp send failed", extra={"error": type(error).__name__})
        raise ApiProblem(503, "temporarily_unavailable", "The code could not be sent; try again.") from error
    logger.info(
        "otp sent", extra={"otp_id": sent.otp_id, "service_id": body.service_id, "replayed": sent.replayed}
    )
    return OtpSendResponse(otp_id=sent.otp_id, expires_at=sent.expires_at), 202


@router.post(
    "/v1/otp/<otp_id>/verify",
    summary="Verify a one-time password",
    tags=["otp"],
    responses={404: {"description": "No such OTP for this partner."}},
)
def verify_otp(
    otp_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], body: Annotated[OtpVerifyRequest, Body()]
) -> OtpVerifyResponse:
    deps = _deps()
    key = current_key(router, deps.entities)
    try:
        result = otp.verify_code(
            key.partner_id, otp_id, body.code, now=deps.clock(), store=deps.store, verified=deps.verified
        )
    except otp.OtpError as error:
        raise _problem(error) from None
    logger.info("otp verified", extra={"otp_id": otp_id, "valid": result.valid, "reason": result.reason})
    return OtpVerifyResponse(
        valid=result.valid,
        reason=result.reason.value if result.reason is not None else None,
        attempts_left=result.attempts_left,
    )


def _idempotency_key() -> str | None:
    headers = {name.lower(): value for name, value in (router.current_event.headers or {}).items()}
    value = headers.get("idempotency-key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.match(value):
        raise ApiProblem(
            422, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable ASCII characters."
        )
    return value


def _problem(error: otp.OtpError) -> ApiProblem:
    match error:
        case otp.OtpInvalid():
            return ApiProblem(
                422,
                "validation_failed",
                "The request is not valid.",
                errors=[{"field": error.field, "reason": error.reason}],
            )
        case otp.OtpNotFound():
            return ApiProblem(404, "not_found", "No such resource.")
        case otp.OtpServiceUnavailable():
            return ApiProblem(409, error.code, str(error))
        case otp.OtpRateLimited():
            return ApiProblem(
                429,
                "rate_limited",
                "Too many codes were sent to this number; try again later.",
                headers={"Retry-After": str(error.retry_after_s)},
            )
        case otp.OtpKeyReused():
            return ApiProblem(422, "idempotency_key_reused", str(error))
    return ApiProblem(400, "bad_request", str(error))
