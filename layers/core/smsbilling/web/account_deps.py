"""What the partner-account routers share: their dependencies, the caller check, the problem mapping.

Routers: ``web/partners.py`` (registration, confirmation), ``web/keys.py``, ``web/services.py``,
``web/prefixes.py``. Their stores are built from the settings on first use; tests swap them with
:func:`use`. Every refusal of ``logic.partner_accounts`` and ``logic.services`` becomes a problem
here (:func:`problem_of`), and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_otp import DynamoSendLimiter
from smsbilling.adapters.dynamodb_partner_accounts import DynamoPartnerAccounts
from smsbilling.adapters.notifier_log import LogNotifier
from smsbilling.adapters.notifier_ses import ses_notifier
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.entities import ApiKey, Partner, PartnerStatus
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic import services
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.logic.notifier import Notifier
from smsbilling.settings import PartnerAccountLimits, Settings, load_settings
from smsbilling.web.partner_auth import current_key
from smsbilling.web.problems import PROBLEM_JSON, ApiProblem

logger = Logger(child=True)


class AccountsStore(accounts.AccountStore, services.ServiceStore, Protocol):
    """One store serves both ports (adapters: DynamoPartnerAccounts, MemoryPartnerAccounts)."""


@dataclass(frozen=True, slots=True)
class AccountDeps:
    store: AccountsStore
    limiter: accounts.WindowLimiter
    notifier: Notifier
    limits: PartnerAccountLimits
    page_size_max: int
    allow_loopback: bool  # the local stage: handler URLs on loopback accepted
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def rules(self) -> services.Rules:
        return services.Rules(limits=self.limits, allow_loopback=self.allow_loopback)


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem; code is stable, errors lists the fields at fault (422)",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "required": ["status", "code", "detail"],
}


def responses(
    success: tuple[int, str], errors: Mapping[int, str], *, auth: bool = True
) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of a route: its success (the route's model) and its problems.

    With ``auth``, 401 and 429 (the per-key rate limit) are added to ``errors``.
    """
    status, description = success
    found: dict[int, OpenAPIResponse] = {status: {"description": description}}
    common = {401: "Missing, unknown or revoked API key.", 429: "Over the key's rate; see Retry-After."}
    for code, text in sorted({**(common if auth else {}), **errors}.items()):
        found[code] = {"description": text, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
    return found


_override: list[AccountDeps] = []


def use(deps: AccountDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


def build_notifier(settings: Settings) -> Notifier:
    """SES when configured; else the log, which shows the token itself on the local stage only."""
    if settings.accounts.notifier == "ses":
        return ses_notifier(settings.accounts.ses_from_address)
    return LogNotifier(logger, reveal_token=settings.stage == "local")


@cache
def _deployed() -> AccountDeps:
    settings = load_settings()
    limits = settings.accounts
    return AccountDeps(
        store=DynamoPartnerAccounts(aws.dynamodb(), settings.tables.entities),
        limiter=DynamoSendLimiter(aws.dynamodb(), settings.tables.counters, prefix="REGRATE"),
        notifier=build_notifier(settings),
        limits=limits,
        page_size_max=settings.api.page_size_max,
        allow_loopback=settings.stage == "local",
    )


def deps() -> AccountDeps:
    return _override[0] if _override else _deployed()


def caller(router: BaseRouter, scope: Scope | None) -> tuple[ApiKey, Partner]:
    """The calling key and its partner: 401 without a valid key, 403 when the partner is not active
    (e-mail not confirmed yet) or the key lacks ``scope``."""
    return authorised(router, deps().store, scope)


def authorised(router: BaseRouter, store: EntityReader, scope: Scope | None) -> tuple[ApiKey, Partner]:
    """:func:`caller` over ``store`` (a router with dependencies of its own)."""
    key = current_key(router, store)
    try:
        partner = accounts.authorise(key, store.get(Partner, key.partner_id), scope)
    except accounts.AccountError as error:
        raise problem_of(error) from None
    return key, partner


def page_limit(limit: int | None) -> int:
    return page_size(limit, deps().page_size_max)


def page_size(limit: int | None, size_max: int) -> int:
    """The page size asked for (50 by default), or 422 when it is not 1 to ``size_max``."""
    if limit is None:
        return min(50, size_max)
    if not 1 <= limit <= size_max:
        raise ApiProblem(
            422,
            "validation_failed",
            "The request is not valid.",
            errors=[{"field": "limit", "reason": f"1 to {size_max}"}],
        )
    return limit


_SIMPLE: dict[type[accounts.AccountError], tuple[int, str, str]] = {
    accounts.NotFound: (404, "not_found", "No such resource."),
    accounts.EmailTaken: (409, "email_taken", "A partner with this e-mail address is registered already."),
    accounts.TokenInvalid: (422, "invalid_token", "The token is unknown, used or replaced by a newer one."),
    accounts.TokenExpired: (422, "token_expired", "The token expired; ask for a new one."),
    accounts.KeyLimitReached: (409, "key_limit_reached", "The account has as many active keys as it may."),
    accounts.LastManageKey: (
        409,
        "last_manage_key",
        "The last active key with keys:manage cannot be revoked.",
    ),
    accounts.WriteConflict: (409, "conflict", "A concurrent change got there first; read again and retry."),
    accounts.InvalidCursor: (400, "invalid_cursor", "The cursor is not one this listing handed out."),
    services.ServiceLimitReached: (
        409,
        "service_limit_reached",
        "The account has as many services as it may.",
    ),
    services.ServiceLocked: (
        409,
        "service_suspended",
        "A suspended service's prefix, short numbers and handler cannot be changed.",
    ),
}


def problem_of(error: accounts.AccountError) -> ApiProblem:  # noqa: PLR0911 - one answer per refusal
    """The one place account and service refusals become HTTP problems."""
    simple = _SIMPLE.get(type(error))
    if simple is not None:
        return ApiProblem(*simple)
    match error:
        case accounts.InvalidRequest():
            return ApiProblem(
                422,
                "validation_failed",
                "The request is not valid.",
                errors=[{"field": error.field, "reason": error.reason}],
            )
        case accounts.TooManyRequests():
            return ApiProblem(
                429,
                "rate_limited",
                "Too many registrations from this address; try again later.",
                headers={"Retry-After": str(max(1, error.retry_after_s))},
            )
        case accounts.PartnerNotActive():
            pending = error.status is PartnerStatus.PENDING_CONFIRMATION
            detail = (
                "Confirm the account's e-mail address first." if pending else "The account is not active."
            )
            return ApiProblem(403, "partner_not_active", detail)
        case accounts.ScopeMissing():
            return ApiProblem(
                403,
                "insufficient_scope",
                f"The API key lacks the scope {error.scope.value}.",
                scope=error.scope.value,
            )
        case services.PrefixUnavailable():
            return ApiProblem(
                409,
                "prefix_unavailable",
                f"The prefix cannot be leased: {error.reason}.",
                reason=error.reason,
                short_numbers=list(error.short_numbers),
            )
    return ApiProblem(400, "bad_request", str(error))  # pragma: no cover - every refusal is mapped
