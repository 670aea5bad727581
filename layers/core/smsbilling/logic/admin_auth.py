"""Admin API authentication: admin keys are their own credential kind, never partner keys.

An admin key (:class:`~smsbilling.domain.entities.AdminKey`) is looked up by the SHA-256 of the
presented key, like a partner's :class:`~smsbilling.domain.entities.ApiKey` but under its own
entity type, so no partner key can ever be taken for one. A valid partner key presented to the
admin API is :class:`NotAnAdmin` (403: authenticated, not allowed); anything else that is not a
valid admin key (unknown, revoked, malformed, missing) is
:class:`~smsbilling.logic.api_auth.NotAuthenticated` (401), one answer for all.
"""

from __future__ import annotations

from datetime import datetime

from smsbilling.domain.entities import AdminKey, ApiKey
from smsbilling.domain.secrets import hash_token, new_token
from smsbilling.logic.admin_common import AdminCall, AdminStore, Conflict, NotFound, record, update_fields
from smsbilling.logic.api_auth import NotAuthenticated
from smsbilling.logic.mo_intake import EntityReader

ADMIN_KEY_PREFIX = "adm"
PRESENTED_KEY_CHARS_MAX = 256


class NotAnAdmin(Exception):
    """A valid partner API key on the admin API (403 ``forbidden``)."""


def authenticate_admin(entities: EntityReader, presented_key: str | None) -> AdminKey:
    if not presented_key or len(presented_key) > PRESENTED_KEY_CHARS_MAX:
        raise NotAuthenticated
    key_hash = hash_token(presented_key)
    admin = entities.get(AdminKey, key_hash)
    if admin is not None and admin.revoked_at is None:
        return admin
    partner_key = entities.get(ApiKey, key_hash)
    if partner_key is not None and partner_key.revoked_at is None:
        raise NotAnAdmin
    raise NotAuthenticated


def new_admin_key(key_id: str, name: str, now: datetime) -> tuple[AdminKey, str]:
    """A fresh admin key: the entity to store (its hash only) and the key, to show once."""
    key = new_token(ADMIN_KEY_PREFIX)
    return AdminKey(key_hash=hash_token(key), key_id=key_id, name=name, created_at=now), key


def create_admin_key(store: AdminStore, call: AdminCall, key_id: str, name: str) -> tuple[AdminKey, str]:
    """Issue another admin key (its id unique among admin keys); the key is returned only here."""
    if _find(store, key_id) is not None:
        raise Conflict("already_exists", f"admin key {key_id} exists already")
    entity, key = new_admin_key(key_id, name, call.now)
    store.create(entity)
    record(store, call, "admin_key.create", entity, {"key_id": key_id, "name": name})
    return entity, key


def revoke_admin_key(store: AdminStore, call: AdminCall, key_id: str) -> AdminKey:
    """Revoke an admin key at once (revoking it again changes nothing)."""
    current = _find(store, key_id)
    if current is None:
        raise NotFound("admin key")
    if current.revoked_at is not None:
        return current
    revoked = update_fields(store, current, {"revoked_at": call.now}, "admin key")
    record(store, call, "admin_key.revoke", revoked, {"key_id": key_id})
    return revoked


def _find(store: AdminStore, key_id: str) -> AdminKey | None:
    """The admin key with this id: admin keys are few, read through their listing."""
    cursor: str | None = None
    while True:
        keys, cursor = store.admin_keys(limit=100, cursor=cursor)
        for key in keys:
            if key.key_id == key_id:
                return key
        if cursor is None:
            return None
