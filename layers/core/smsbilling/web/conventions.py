"""The API conventions every API function installs with one call (docs/api-conventions.md).

``install_api_conventions(app, caller=...)`` adds the problem handlers (web/problems.py, unless
the app has them) and two global Powertools middlewares, in this order:

1. **rate limits** (logic/rate_limits.py): a request of a known caller is counted per credential,
   and a partner's also over all its keys, at the partner's own limits where the admin set them
   (``ConventionDeps.partner_limits``, logic/partner_limits.py: cached, never read per request);
   over a limit it is answered 429 ``rate_limited`` with ``Retry-After``, before anything runs;
2. **idempotency** (logic/idempotency.py): a POST, PUT, PATCH or DELETE of a known caller with
   ``Idempotency-Key`` claims the key, runs, and keeps the answer; a repeat is replayed with
   ``Idempotent-Replayed: true``, the key with another request is 422
   ``idempotency_key_reused``, a repeat while the first runs is 409
   ``idempotency_key_in_flight`` with ``Retry-After``, a key of more than 255 characters is 400
   ``invalid_idempotency_key``.

Who the caller is, is the app's business: ``caller`` maps the request headers to a
:class:`Caller` (idempotency scope, rate-limit key) or None. Requests without a valid credential
pass through untouched, and the route answers 401 as it always does. :func:`partner_caller` is the
partner API's (its API key); the admin API passes its own.

Failure policy: a caller that cannot be resolved (the entities table is down) passes through (the
route authenticates again and fails the same way); counters that cannot be reached let the
request through (API Gateway throttling still bounds the stage); a partner's limits that cannot be
read are the last ones read, else the platform's (the request is still counted); an idempotency
store that cannot be reached answers 503, since running a write without its claim could do it twice.

Powertools runs request validation *before* global middlewares: a request whose body or path
parameters fail validation (or whose JSON is malformed) is counted against the caller's limits by
the problem handler instead (over them: 429), and never stored for idempotency.

Stores are built from the settings on first use; tests swap them with :meth:`ApiConventions.use`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_idempotency import DynamoIdempotencyStore
from smsbilling.adapters.dynamodb_rate_counter import DynamoRateCounter
from smsbilling.domain.send_limits import Rates, request_rates
from smsbilling.logic import idempotency as idem
from smsbilling.logic.api_auth import NotAuthenticated, api_key_from_headers, authenticate
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.logic.partner_limits import PartnerLimitsCache, PartnerRequestLimits
from smsbilling.logic.rate_limits import RateCounter, check_partner_rate, check_rate
from smsbilling.settings import ApiLimits, load_settings
from smsbilling.web.problems import (
    PROBLEM_JSON,
    ApiProblem,
    answer_refused_requests_first,
    install_problem_handlers,
    problem,
)

logger = Logger(child=True)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CALLER_CONTEXT = "_smsbilling_caller"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as the conventions need it."""

    scope: str  # idempotency keys are unique per scope: "partner:<id>", "admin:<key id>"
    rate_key: str  # the credential the rate limits count: one API key, one admin key
    credential: object = None  # the key found (ApiKey, AdminKey): the route reuses it, no second read
    partner_id: str | None = None  # a partner's key: its partner's limits count too (over all its keys)


type CallerResolver = Callable[[Mapping[str, str]], Caller | None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ConventionDeps:
    idempotency: idem.IdempotencyStore
    counter: RateCounter
    limits: ApiLimits
    clock: Callable[[], datetime] = field(default=_utc_now)
    # each partner's own request limits (a cache over the entities); None: the settings' for all
    partner_limits: PartnerRequestLimits | None = None


@cache
def deployed_deps() -> ConventionDeps:
    settings = load_settings()
    client = aws.dynamodb()
    return ConventionDeps(
        idempotency=DynamoIdempotencyStore(client, settings.tables.idempotency),
        counter=DynamoRateCounter(client, settings.tables.counters),
        limits=settings.api,
        partner_limits=deployed_partner_limits(),
    )


@cache
def deployed_partner_limits() -> PartnerLimitsCache:
    """The partners' stored limits, one cache per function: request limits here, message limits in
    the send routes (web/sms.py)."""
    settings = load_settings()
    return PartnerLimitsCache(
        DynamoEntityStore(aws.dynamodb(), settings.tables.entities), ttl_s=settings.traffic.rules_cache_s
    )


@cache
def _deployed_entities() -> EntityReader:
    return DynamoEntityStore(aws.dynamodb(), load_settings().tables.entities)


def partner_caller(entities: Callable[[], EntityReader] = _deployed_entities) -> CallerResolver:
    """The partner API's caller: its API key (``Authorization: Bearer`` or ``X-Api-Key``)."""

    def resolve(headers: Mapping[str, str]) -> Caller | None:
        presented = api_key_from_headers(dict(headers))
        if presented is None:
            return None
        try:
            key = authenticate(entities(), presented)
        except NotAuthenticated:
            return None
        return Caller(
            scope=f"partner:{key.partner_id}",
            rate_key=f"key:{key.partner_id}/{key.key_id}",
            credential=key,
            partner_id=key.partner_id,
        )

    return resolve


def resolved_credential(router: BaseRouter) -> object:
    """The credential the conventions already found for this request (None if they did not run or
    found none): the routes' own authentication starts from it instead of reading the keys again."""
    caller = router.context.get(_CALLER_CONTEXT)
    return caller.credential if isinstance(caller, Caller) else None


def request_idempotency_key(router: BaseRouter) -> str | None:
    """The request's ``Idempotency-Key`` (routes derive the ids of their writes from it)."""
    return _headers(router).get(IDEMPOTENCY_HEADER.lower())


class ApiConventions:
    """The installed middlewares of one app, with their test seam."""

    def __init__(self, caller: CallerResolver, deps: Callable[[], ConventionDeps]) -> None:
        self._caller = caller
        self._deps = deps
        self._override: tuple[ConventionDeps, CallerResolver | None] | None = None

    def use(self, deps: ConventionDeps | None, *, caller: CallerResolver | None = None) -> None:
        """Serve with these stores (and caller resolver) (tests); None goes back to the deployed ones."""
        self._override = None if deps is None else (deps, caller)

    def deps(self) -> ConventionDeps:
        return self._override[0] if self._override else self._deps()

    def caller(self, app: ApiGatewayResolver) -> Caller | None:
        """The request's caller, resolved once per request (a failure to resolve counts as none)."""
        if _CALLER_CONTEXT in app.context:
            cached: Caller | None = app.context[_CALLER_CONTEXT]
            return cached
        resolver = self._override[1] if self._override and self._override[1] else self._caller
        try:
            found = resolver(_headers(app))
        except Exception as error:  # the credential store is down: the route will fail alike
            logger.warning("caller not resolved", extra={"error": type(error).__name__})
            found = None
        app.context[_CALLER_CONTEXT] = found
        return found

    # --- the two middlewares ---------------------------------------------------------------------

    def rate_limit(self, app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        refused = self.refusal(app)
        return refused if refused is not None else next_middleware(app)

    def refusal(self, app: ApiGatewayResolver) -> Response[Any] | None:
        """Count the request in its caller's windows; the 429 when one is full, else None."""
        caller = self.caller(app)
        if caller is None:
            return None
        deps = self.deps()
        whose = "with this credential"
        try:
            now = deps.clock()
            decision = check_rate(deps.counter, caller.rate_key, now=now, limits=deps.limits)
            if decision.allowed and caller.partner_id is not None:
                rates = _partner_rates(deps, caller.partner_id)
                decision = check_partner_rate(deps.counter, caller.partner_id, now=now, rates=rates)
                whose = "from your account (all its API keys)"
        except Exception as error:  # counters down: let it through rather than refuse everyone
            logger.warning("rate counters unavailable", extra={"error": type(error).__name__})
            return None
        if not decision.allowed:
            logger.info(
                "rate limited",
                extra={
                    "rate_key": caller.rate_key,
                    "partner_id": caller.partner_id,
                    "window": decision.window,
                },
            )
            return problem(
                429,
                "rate_limited",
                f"Too many requests {whose} in one {decision.window}; retry later.",
                headers={"Retry-After": str(decision.retry_after_s)},
            )
        return None

    def idempotency(self, app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        method = event.http_method.upper()
        key = _headers(app).get(IDEMPOTENCY_HEADER.lower())
        if method not in WRITE_METHODS or key is None:
            return next_middleware(app)
        caller = self.caller(app)
        if caller is None:
            return next_middleware(app)
        deps = self.deps()
        reason = idem.key_problem(key, deps.limits)
        if reason is not None:
            return problem(400, "invalid_idempotency_key", reason, field=IDEMPOTENCY_HEADER)
        query = {
            name: list(values) for name, values in (event.multi_value_query_string_parameters or {}).items()
        }
        fingerprint = idem.fingerprint(method, event.path, query, event.decoded_body)
        try:
            outcome = idem.begin(
                deps.idempotency,
                scope=caller.scope,
                key=key,
                request_fingerprint=fingerprint,
                now=deps.clock(),
                limits=deps.limits,
            )
        except Exception as error:  # without a claim a write could run twice: refuse
            logger.warning("idempotency store unavailable", extra={"error": type(error).__name__})
            return problem(
                503,
                "temporarily_unavailable",
                "The request could not be checked against its Idempotency-Key; retry with the same key.",
                headers={"Retry-After": "1"},
            )
        if isinstance(outcome, idem.Proceed):
            return self._run(app, next_middleware, outcome.claim, deps)
        if isinstance(outcome, idem.Replay):
            logger.info("idempotent replay", extra={"scope": caller.scope, "status": outcome.response.status})
        return _answer(outcome)

    def _run(
        self,
        app: ApiGatewayResolver,
        next_middleware: NextMiddleware,
        claim: idem.IdempotencyRecord,
        deps: ConventionDeps,
    ) -> Response[Any]:
        try:
            response = next_middleware(app)
        except Exception as error:
            # A problem the app answers (ApiProblem, validation, ...) is an answer like any other;
            # anything else is a bug or an outage: release the key so a retry runs, and re-raise.
            handler = app.exception_handler_manager.lookup_exception_handler(type(error))
            if handler is None:
                self._abandon(deps, claim)
                raise
            response = handler(error)
        try:
            stored = _withheld() if _holds_secret(response) else _to_stored(app, response)
            kept = idem.finish(deps.idempotency, claim, stored, now=deps.clock(), limits=deps.limits)
        except Exception as error:  # the answer stands; the claim ends with its lease
            logger.warning("idempotent answer not kept", extra={"error": type(error).__name__})
            return response
        if not kept:
            logger.info("idempotent answer not kept", extra={"scope": claim.scope, "status": stored.status})
        return response

    @staticmethod
    def _abandon(deps: ConventionDeps, claim: idem.IdempotencyRecord) -> None:
        try:
            idem.abandon(deps.idempotency, claim)
        except Exception as error:  # the claim ends with its lease
            logger.warning("idempotency claim not released", extra={"error": type(error).__name__})


def install_api_conventions(
    app: APIGatewayRestResolver,
    *,
    caller: CallerResolver,
    deps: Callable[[], ConventionDeps] = deployed_deps,
) -> ApiConventions:
    """Install the problem handlers (if missing), rate limits and idempotency on ``app``."""
    if app.exception_handler_manager.lookup_exception_handler(ApiProblem) is None:
        install_problem_handlers(app)
    conventions = ApiConventions(caller, deps)

    # Plain functions (not bound methods): Powertools inspects each middleware once and caches it.
    def rate_limit(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        return conventions.rate_limit(app, next_middleware)

    def idempotency(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        return conventions.idempotency(app, next_middleware)

    app.use(middlewares=[rate_limit, idempotency])
    # Requests Powertools refuses before any middleware (an invalid body, malformed JSON) count too:
    # otherwise a client could send invalid requests without end and never be limited.
    answer_refused_requests_first(app, lambda: conventions.refusal(app))
    return conventions


# --- helpers -----------------------------------------------------------------------------------------


def _partner_rates(deps: ConventionDeps, partner_id: str) -> Rates:
    if deps.partner_limits is None:
        return request_rates(deps.limits, None)
    return deps.partner_limits.request_rates(partner_id, deps.limits)


def _headers(router: BaseRouter) -> dict[str, str]:
    return {name.lower(): value for name, value in (router.current_event.headers or {}).items()}


def shown_once[T](body: T, status_code: int) -> Response[T]:
    """An answer holding a secret (a new API key): never cached, never kept for idempotent replay."""
    return Response(
        status_code=status_code,
        content_type="application/json",
        body=body,
        headers={"Cache-Control": "no-store"},
    )


def _holds_secret(response: Response[Any]) -> bool:
    return "no-store" in str(response.headers.get("Cache-Control", ""))


def _withheld() -> idem.StoredResponse:
    """What a replay of a secret-holding answer gets: the outcome, not the secret a second time."""
    body = {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "code": "idempotent_secret_withheld",
        "detail": "This request succeeded before; its answer held a secret that is shown only once.",
    }
    return idem.StoredResponse(
        status=409, headers={"Content-Type": [PROBLEM_JSON]}, body=json.dumps(body), body_base64=False
    )


def _to_stored(app: ApiGatewayResolver, response: Response[Any]) -> idem.StoredResponse:
    """The answer as kept; a body not yet serialized is serialized here, so the first answer and
    its replays are the same bytes."""
    body = response.body
    if isinstance(body, bytes):
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    elif body is None or isinstance(body, str):
        text, is_base64 = body or "", False
    else:
        text, is_base64 = app._serializer(body), False  # the app's own JSON
        response.body = text
    headers = {
        name: list(value) if isinstance(value, list) else [value] for name, value in response.headers.items()
    }
    return idem.StoredResponse(status=response.status_code, headers=headers, body=text, body_base64=is_base64)


def _answer(outcome: idem.Replay | idem.KeyReused | idem.InFlight) -> Response[Any]:
    match outcome:
        case idem.Replay(response=stored):
            return _replayed(stored)
        case idem.KeyReused():
            return problem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request.",
                field=IDEMPOTENCY_HEADER,
            )
        case idem.InFlight(retry_after_s=retry_after_s):
            return problem(
                409,
                "idempotency_key_in_flight",
                "A request with this Idempotency-Key is still being processed; retry later.",
                headers={"Retry-After": str(retry_after_s)},
            )


def _replayed(stored: idem.StoredResponse) -> Response[Any]:
    headers: dict[str, str | list[str]] = {
        name: values[0] if len(values) == 1 else list(values) for name, values in stored.headers.items()
    }
    headers[REPLAYED_HEADER] = "true"
    body: str | bytes = stored.body
    if stored.body_base64:
        try:
            body = base64.b64decode(stored.body, validate=True)
        except binascii.Error:  # never written so; answer the text rather than fail
            body = stored.body
    return Response(status_code=stored.status, body=body, headers=headers)
