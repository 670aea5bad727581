"""The admin API's caller: an admin key (``Authorization: Bearer <key>``), never a partner key.

``current_admin`` is what every admin route calls first: the caller's :class:`AdminKey`, or a
problem: 401 ``unauthenticated`` for a missing, unknown, revoked or malformed key, 403
``forbidden`` for a valid *partner* API key (authenticated, but not an admin: logic/admin_auth.py).

Powertools validates a request (body, path, query) *before* the route runs, so without more a
partner key with a bad body would learn 422 and the shape of the admin API.
:func:`install_admin_gate` closes that: the admin app answers a request that fails validation (or
has a body that is not JSON) with 401/403 unless it comes with an admin key, and only admins see
the 422 (or 400). So every admin operation answers a partner key 403, whatever it sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from smsbilling.domain.entities import AdminKey
from smsbilling.logic.admin_auth import NotAnAdmin, authenticate_admin
from smsbilling.logic.api_auth import NotAuthenticated, api_key_from_headers
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.web.conventions import Caller, CallerResolver, resolved_credential
from smsbilling.web.problems import ApiProblem, answer_refused_requests_first, problem

logger = Logger(child=True)


def _unauthenticated() -> ApiProblem:
    return ApiProblem(
        401,
        "unauthenticated",
        "A valid admin key is required (Authorization: Bearer <key>).",
        headers={"WWW-Authenticate": 'Bearer realm="smsbilling-admin"'},
    )


def _forbidden() -> ApiProblem:
    return ApiProblem(403, "forbidden", "Partner API keys cannot use the admin API.")


def admin_from_headers(entities: EntityReader, headers: Mapping[str, str]) -> AdminKey:
    """The admin key of these request headers, or the 401 / 403 problem."""
    try:
        return authenticate_admin(entities, api_key_from_headers(dict(headers)))
    except NotAnAdmin:
        logger.info("partner key on the admin API")
        raise _forbidden() from None
    except NotAuthenticated:
        raise _unauthenticated() from None


def current_admin(router: BaseRouter, entities: EntityReader) -> AdminKey:
    if isinstance(found := resolved_credential(router), AdminKey):
        return found
    return admin_from_headers(entities, router.current_event.headers or {})


def install_admin_gate(app: APIGatewayRestResolver, entities: Callable[[], EntityReader]) -> None:
    """Answer invalid requests 401/403 unless an admin sent them (after install_problem_handlers)."""

    def denial() -> Response[str] | None:
        try:
            current_admin(app, entities())
        except ApiProblem as denied:
            return problem(denied.status, denied.code, denied.detail, denied.headers)
        return None

    answer_refused_requests_first(app, denial)


def admin_caller(entities: Callable[[], EntityReader]) -> CallerResolver:
    """The admin API's caller for the API conventions (rate limits, Idempotency-Key): its admin key."""

    def resolve(headers: Mapping[str, str]) -> Caller | None:
        try:
            key = admin_from_headers(entities(), headers)
        except ApiProblem:
            return None
        return Caller(scope=f"admin:{key.key_id}", rate_key=f"admin:{key.key_id}", credential=key)

    return resolve
