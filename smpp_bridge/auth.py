"""Bind authentication for the bridge's server role (SMPP, and UCP/CIMD2 logins alike).

Order matters (R10): the account's IP allow-list is checked before the password, and every
refusal (unknown account, disabled, address not allowed, wrong password, locked out, too many
binds) gives the peer the same answer, so nothing can be probed. The reason is logged for staff,
never the password. Repeated failures lock the account out for a while, whatever is presented.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from smsbilling.domain.entities import SmppAccount
from smsbilling.domain.secrets import password_matches

AccountLookup = Callable[[str], Awaitable[SmppAccount | None]]


class Refusal(StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"
    DISABLED = "disabled"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - a reason code, not a secret
    LOCKED_OUT = "locked_out"
    TOO_MANY_BINDS = "too_many_binds"


class BindRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def address_allowed(peer_ip: str, cidrs: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class Authenticator:
    lookup: AccountLookup
    failures_before_lockout_max: int
    lockout_s: float
    tracked_failures_max: int = 10_000  # bounds memory against floods of invented system_ids
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _binds: dict[str, int] = field(default_factory=dict)

    async def authenticate(self, system_id: str, password: str, peer_ip: str, now: float) -> SmppAccount:
        """The account, with one bind slot taken (give it back with :meth:`release`)."""
        failures = self._failures.get(system_id)
        if failures is not None and failures.locked_until > now:
            raise BindRefused(Refusal.LOCKED_OUT)
        try:
            account = await self._check(system_id, password, peer_ip)
        except BindRefused as refused:
            self._fail(system_id, now)
            raise refused from None
        self._failures.pop(system_id, None)
        if self._binds.get(system_id, 0) >= account.binds_max:
            raise BindRefused(Refusal.TOO_MANY_BINDS)
        self._binds[system_id] = self._binds.get(system_id, 0) + 1
        return account

    def release(self, system_id: str) -> None:
        remaining = self._binds.get(system_id, 0) - 1
        if remaining > 0:
            self._binds[system_id] = remaining
        else:
            self._binds.pop(system_id, None)

    def binds(self) -> int:
        return sum(self._binds.values())

    async def _check(self, system_id: str, password: str, peer_ip: str) -> SmppAccount:
        account = await self.lookup(system_id)
        if account is None:
            raise BindRefused(Refusal.UNKNOWN_ACCOUNT)
        if not account.enabled:
            raise BindRefused(Refusal.DISABLED)
        if not address_allowed(peer_ip, account.allowed_cidrs):
            raise BindRefused(Refusal.ADDRESS_NOT_ALLOWED)
        # scrypt is deliberately slow: keep it off the event loop.
        if not await asyncio.to_thread(password_matches, password, account.password_hash):
            raise BindRefused(Refusal.BAD_PASSWORD)
        return account

    def _fail(self, system_id: str, now: float) -> None:
        if system_id not in self._failures and len(self._failures) >= self.tracked_failures_max:
            del self._failures[next(iter(self._failures))]  # the longest-tracked goes first
        failures = self._failures.setdefault(system_id, _Failures())
        failures.count += 1
        if failures.count >= self.failures_before_lockout_max:
            failures.locked_until = now + self.lockout_s
            failures.count = 0
