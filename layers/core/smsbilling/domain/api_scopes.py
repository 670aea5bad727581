"""Scopes of partner API keys: what a key may do (docs/partner-api.md, "API keys").

A key holds a set of scopes; each operation needs one. ``services:write`` includes
``services:read``; nothing else includes anything. ``keys:manage`` is the account's root scope: a
key holding it can mint keys with any scopes, so give it only to the keys that administer the
account. The key returned at registration holds every scope.

Keys provisioned outside the API (demo data, older keys) have no scope list, or the legacy scope
``partner``; they hold every scope. Keys created through the API always list theirs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import Final


class Scope(StrEnum):
    KEYS_MANAGE = "keys:manage"  # create, list and revoke API keys
    SERVICES_READ = "services:read"  # services, prefix availability
    SERVICES_WRITE = "services:write"  # create, change and delete services; lease prefixes
    MESSAGES_READ = "messages:read"  # message log, search, statistics
    MESSAGES_SEND = "messages:send"  # send SMS, reply to MOs, OTP, the test tool
    BILLING_READ = "billing:read"  # balance and statements


ALL_SCOPES: Final = tuple(Scope)
_KNOWN: Final = frozenset(scope.value for scope in Scope)
LEGACY_FULL_ACCESS: Final = frozenset({"partner"})
_INCLUDES: Final = {Scope.SERVICES_WRITE: frozenset({Scope.SERVICES_READ})}


class UnknownScope(ValueError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"unknown scope {scope!r}")
        self.scope = scope


def parse_scopes(values: Iterable[str]) -> tuple[str, ...]:
    """Known scopes, each once, in a stable order (UnknownScope for anything else)."""
    wanted = set()
    for value in values:
        try:
            wanted.add(Scope(value))
        except ValueError:
            raise UnknownScope(value) from None
    return tuple(scope.value for scope in ALL_SCOPES if scope in wanted)


def full_access(scopes: Collection[str]) -> bool:
    return not scopes or not LEGACY_FULL_ACCESS.isdisjoint(scopes)


def has_scope(scopes: Collection[str], needed: Scope) -> bool:
    if full_access(scopes) or needed.value in scopes:
        return True
    return any(needed in _INCLUDES.get(Scope(s), ()) for s in scopes if s in _KNOWN)


def effective_scopes(scopes: Collection[str]) -> tuple[str, ...]:
    """What a key may do, as listed to its partner (legacy keys: every scope)."""
    return tuple(scope.value for scope in ALL_SCOPES if has_scope(scopes, scope))
