"""The partner API's caller: the API key on the current request, checked against the entities table."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from smsbilling.domain.entities import ApiKey
from smsbilling.logic.api_auth import NotAuthenticated, api_key_from_headers, authenticate
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.web.conventions import resolved_credential
from smsbilling.web.problems import ApiProblem


def current_key(router: BaseRouter, entities: EntityReader) -> ApiKey:
    """The caller's API key, or a 401 problem (the same for every way of being wrong)."""
    if isinstance(found := resolved_credential(router), ApiKey):
        return found
    try:
        return authenticate(entities, api_key_from_headers(dict(router.current_event.headers or {})))
    except NotAuthenticated:
        raise ApiProblem(
            401,
            "unauthenticated",
            "A valid API key is required (Authorization: Bearer <key>).",
            headers={"WWW-Authenticate": 'Bearer realm="smsbilling"'},
        ) from None
