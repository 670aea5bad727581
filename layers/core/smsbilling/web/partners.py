"""Partner API: registration and e-mail confirmation (logic/partner_accounts.py, docs/partner-api.md).

- ``POST /v1/partners`` (no key): 201 with the partner, pending confirmation, and its first API key
  (every scope), **shown once**; the confirmation token goes to the e-mail address.
- ``POST /v1/partners/confirm`` (no key) ``{"token"}``: 200, the partner is active.
- ``POST /v1/partners/confirm/resend`` (no key) ``{"email"}``: 202 whether or not the address is
  registered; an unconfirmed one gets a new token (the old one stops working).
- ``GET /v1/partners/me``: the caller's account.

Registration and resends are limited per source address (``registrations_per_ip_max`` per
``registrations_window_s``): 429 with ``Retry-After`` beyond.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import Partner, PartnerStatus
from smsbilling.logic import partner_accounts as accounts
from smsbilling.web.account_deps import deps, problem_of, responses
from smsbilling.web.conventions import shown_once
from smsbilling.web.keys import NewKeyView
from smsbilling.web.partner_auth import current_key

logger = Logger(child=True)
router = Router()  # type: ignore[no-untyped-call]


class RegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="the partner's (company's) name")
    email: str = Field(min_length=3, max_length=254, description="where the confirmation token goes")
    referrer_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="the partner who referred you"
    )


class PartnerView(BaseModel):
    partner_id: str
    name: str
    email: str
    status: PartnerStatus
    referrer_id: str | None
    created_at: datetime


class ConfirmationView(BaseModel):
    sent: bool = Field(description="false: the e-mail could not be sent; ask for a new token")
    expires_at: datetime


class RegistrationResponse(BaseModel):
    partner: PartnerView
    api_key: NewKeyView = Field(description="shown once: store the secret now")
    confirmation: ConfirmationView


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=256)


class ResendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)


class ResendResponse(BaseModel):
    accepted: bool = Field(default=True, description="always true: the answer never tells who is registered")


def partner_view(partner: Partner) -> PartnerView:
    return PartnerView(
        partner_id=partner.partner_id,
        name=partner.name,
        email=partner.email,
        status=partner.status,
        referrer_id=partner.referrer_id,
        created_at=partner.created_at,
    )


def _source_ip() -> str:
    identity = (router.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


@router.post(
    "/v1/partners",
    summary="Register a partner account",
    tags=["account"],
    security=[],
    responses=responses(
        (201, "Registered, pending e-mail confirmation; the API key is shown once."),
        {
            409: "The e-mail address is registered already (email_taken).",
            422: "Invalid request: unknown fields, a bad address or referrer.",
            429: "Too many registrations from this address; see Retry-After.",
        },
        auth=False,
    ),
)
def register(body: Annotated[RegistrationRequest, Body()]) -> Response[RegistrationResponse]:
    d = deps()
    try:
        done = accounts.register(
            body.name,
            body.email,
            body.referrer_id,
            source=_source_ip(),
            now=d.clock(),
            store=d.store,
            limiter=d.limiter,
            notifier=d.notifier,
            limits=d.limits,
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    if not done.confirmation_sent:
        logger.warning("confirmation notice not sent", extra={"partner_id": done.partner.partner_id})
    logger.info("partner registered", extra={"partner_id": done.partner.partner_id})
    return shown_once(
        RegistrationResponse(
            partner=partner_view(done.partner),
            api_key=NewKeyView.of(done.key),
            confirmation=ConfirmationView(
                sent=done.confirmation_sent, expires_at=done.confirmation_expires_at
            ),
        ),
        201,
    )


@router.post(
    "/v1/partners/confirm",
    summary="Confirm a partner's e-mail address",
    tags=["account"],
    security=[],
    responses=responses(
        (200, "The partner, now active."),
        {
            409: "The partner is no longer pending (an admin acted).",
            422: "Unknown, used or replaced token (invalid_token), or an expired one (token_expired).",
        },
        auth=False,
    ),
)
def confirm(body: Annotated[ConfirmRequest, Body()]) -> PartnerView:
    d = deps()
    try:
        partner = accounts.confirm(body.token, now=d.clock(), store=d.store)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    logger.info("partner confirmed", extra={"partner_id": partner.partner_id})
    return partner_view(partner)


@router.post(
    "/v1/partners/confirm/resend",
    summary="Send a new confirmation token",
    tags=["account"],
    security=[],
    responses=responses(
        (202, "If the address waits for confirmation, a new token is on its way."),
        {422: "Invalid request.", 429: "Too many requests from this address; see Retry-After."},
        auth=False,
    ),
)
def resend(body: Annotated[ResendRequest, Body()]) -> tuple[ResendResponse, int]:
    d = deps()
    try:
        accounts.resend_confirmation(
            body.email,
            source=_source_ip(),
            now=d.clock(),
            store=d.store,
            limiter=d.limiter,
            notifier=d.notifier,
            limits=d.limits,
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    return ResendResponse(), 202


@router.get(
    "/v1/partners/me",
    summary="The caller's partner account",
    description="Any key of the partner, also before its e-mail is confirmed (to read the status).",
    tags=["account"],
    responses=responses((200, "The account."), {}),
)
def me() -> PartnerView:
    key = current_key(router, deps().store)
    partner = deps().store.get(Partner, key.partner_id)
    if partner is None:  # pragma: no cover - authenticate() found it a moment ago
        raise problem_of(accounts.NotFound())
    return partner_view(partner)
