"""Partner API authentication: an API key is looked up by its hash and must not be revoked."""

from __future__ import annotations

from smsbilling.domain.entities import ApiKey, Partner, PartnerStatus
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.mo_intake import EntityReader


class NotAuthenticated(Exception):
    """Unknown, revoked or malformed key, or a partner that may not use the API: one answer for all."""


def authenticate(entities: EntityReader, presented_key: str | None) -> ApiKey:
    if not presented_key or len(presented_key) > 256:
        raise NotAuthenticated
    key = entities.get(ApiKey, hash_token(presented_key))
    if key is None or key.revoked_at is not None:
        raise NotAuthenticated
    partner = entities.get(Partner, key.partner_id)
    if partner is None or partner.status in (PartnerStatus.SUSPENDED, PartnerStatus.REJECTED):
        raise NotAuthenticated
    return key


def api_key_from_headers(headers: dict[str, str]) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-Api-Key: <key>`` (header names in any case)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    auth = lowered.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return lowered.get("x-api-key") or None
