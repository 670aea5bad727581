"""Partner self-service accounts: registration, e-mail confirmation and API keys.

**Registration** (:func:`register`) creates, in one transaction, the partner (status
``pending_confirmation``), the claim on its e-mail address (one partner per address), a
confirmation token (stored as its SHA-256; the token itself goes only to the
:class:`~smsbilling.logic.notifier.Notifier`) and the partner's first API key, which holds every
scope and is returned once. A failed notification does not undo the registration: the partner
asks for another token (:func:`resend_confirmation`).

**Confirmation** (:func:`confirm`) is single use: the token item is deleted in the same transaction
that turns the partner ``active`` and marks the address confirmed, so of two confirmations racing
one wins. A token expires after ``confirmation_token_ttl_s``; a new one replaces the one in force.
Until it is confirmed a partner's keys authenticate but every operation of the account API answers
403 ``partner_not_active`` (:func:`authorise`). Confirmation makes the *partner* active; each of its
services still waits for an admin's moderation before it carries traffic.

**API keys** are 256-bit random secrets shown once; the store keeps their hash
(:class:`~smsbilling.domain.entities.ApiKey`, keyed by it) and the last four characters as a hint.
A partner has at most ``api_keys_per_partner_max`` active keys, and its last active key holding
``keys:manage`` cannot be revoked (409 ``last_manage_key``): the partner would lock itself out of
its own account. Both limits are enforced atomically on a per-partner *key ring* item. Keys made
outside the API (demo data) are not on the ring: they do not count, and revoking one needs a
``keys:manage`` key made through the API to remain.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from smsbilling.domain.api_scopes import ALL_SCOPES, Scope, UnknownScope, has_scope, parse_scopes
from smsbilling.domain.entities import ApiKey, ConfirmationToken, Entity, Partner, PartnerEmail, PartnerStatus
from smsbilling.domain.secrets import hash_token, new_token
from smsbilling.logic.notifier import ConfirmationNotice, NotificationFailed, Notifier, confirm_url
from smsbilling.settings import PartnerAccountLimits

_EMAIL = re.compile(
    r"^[^@\s\"<>()\[\],;:\\]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
API_KEY_PREFIX = "sk"
TOKEN_PREFIX = "ct"  # noqa: S105 - the visible prefix of confirmation tokens
KEY_HINT_CHARS = 4


# --- errors: one family, mapped to problems in one place (web/account_deps.py) --------------------


class AccountError(Exception):
    """Every refusal of this module and of the services module derives from this."""


class InvalidRequest(AccountError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EmailTaken(AccountError):
    """Another partner registered this address."""


class TooManyRequests(AccountError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class TokenInvalid(AccountError):
    """Unknown, already used, or replaced by a newer token."""


class TokenExpired(AccountError):
    pass


class PartnerNotActive(AccountError):
    def __init__(self, status: PartnerStatus | None) -> None:
        super().__init__(f"partner status {status}")
        self.status = status


class ScopeMissing(AccountError):
    def __init__(self, scope: Scope) -> None:
        super().__init__(f"the key lacks scope {scope.value}")
        self.scope = scope


class NotFound(AccountError):
    """No such object for this partner (another partner's looks the same as none)."""


class KeyLimitReached(AccountError):
    pass


class LastManageKey(AccountError):
    pass


class WriteConflict(AccountError):
    """A concurrent change got there first; nothing was written (retry)."""


class InvalidCursor(AccountError):
    pass


# --- ports ----------------------------------------------------------------------------------------


class AccountStore(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def register(self, partner: Partner, email: PartnerEmail, token: ConfirmationToken, key: ApiKey) -> None:
        """All or nothing; EmailTaken when the address is held. The key joins the key ring."""
        ...

    def renew_token(self, email: PartnerEmail, token: ConfirmationToken, replaced_hash: str | None) -> None:
        """Put ``token`` in force for the address (which must still hold ``replaced_hash`` and be
        unconfirmed; WriteConflict otherwise) and delete the replaced token."""
        ...

    def confirm(self, token: ConfirmationToken, *, now: datetime) -> None:
        """Delete the token, turn its partner active and its address confirmed, all at once.

        TokenInvalid when the token is gone (used) or no longer in force; WriteConflict when the
        partner is no longer pending (an admin acted).
        """
        ...

    def add_key(self, key: ApiKey, *, manage: bool, keys_max: int) -> None:
        """Store the key and put it on the ring; KeyLimitReached with ``keys_max`` active already."""
        ...

    def revoke_key(self, key: ApiKey, *, manage: bool, now: datetime) -> None:
        """Mark it revoked and take it off the ring. NotFound when it is revoked already;
        LastManageKey when ``manage`` and no other ``keys:manage`` key would stay on the ring."""
        ...

    def key_by_id(self, partner_id: str, key_id: str) -> ApiKey | None: ...

    def keys_of(self, partner_id: str, *, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        """The partner's keys (revoked ones too) by key id; InvalidCursor for a foreign cursor."""
        ...


class WindowLimiter(Protocol):
    def try_count(self, key: str, *, window_start: datetime, window_s: int, limit: int) -> bool:
        """Count one event in the window if fewer than ``limit`` were counted; False when full."""
        ...


def retry_conflicts[T](write: Callable[[], T], attempts: int = 3) -> T:
    """Run a conditional write again when a concurrent transaction made it cancel (DynamoDB's
    TransactionConflict): the next attempt sees the other's result and answers definitively.
    Only for writes whose conditions do not depend on a version read before the call."""
    for _ in range(attempts - 1):
        try:
            return write()
        except WriteConflict:
            continue
    return write()


# --- registration -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once; the store never sees it


@dataclass(frozen=True, slots=True)
class Registered:
    partner: Partner
    key: IssuedKey
    confirmation_expires_at: datetime
    confirmation_sent: bool


def normalise_email(address: str) -> str:
    """The address as claimed: trimmed, lower case (InvalidRequest when it is not an address)."""
    candidate = address.strip()
    if len(candidate) > 254 or not _EMAIL.fullmatch(candidate):
        raise InvalidRequest("email", "not an e-mail address")
    return candidate.lower()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def issue_key(partner_id: str, scopes: Sequence[str], label: str, now: datetime) -> IssuedKey:
    secret = new_token(API_KEY_PREFIX)
    key = ApiKey(
        key_hash=hash_token(secret),
        key_id=new_id("key"),
        partner_id=partner_id,
        scopes=tuple(scopes),
        created_at=now,
        label=label,
        hint=secret[-KEY_HINT_CHARS:],
    )
    return IssuedKey(key, secret)


def _count_request(limiter: WindowLimiter, source: str, now: datetime, limits: PartnerAccountLimits) -> None:
    window_s = limits.registrations_window_s
    start_s = int(now.timestamp()) // window_s * window_s
    start = datetime.fromtimestamp(start_s, tz=now.tzinfo)
    if not limiter.try_count(
        f"registration#{source}", window_start=start, window_s=window_s, limit=limits.registrations_per_ip_max
    ):
        raise TooManyRequests(start_s + window_s - int(now.timestamp()))


def _new_token(
    partner: Partner, address: str, now: datetime, limits: PartnerAccountLimits
) -> tuple[str, ConfirmationToken]:
    token = new_token(TOKEN_PREFIX)
    stored = ConfirmationToken(
        token_hash=hash_token(token),
        partner_id=partner.partner_id,
        email=address,
        created_at=now,
        expires_at=now + timedelta(seconds=limits.confirmation_token_ttl_s),
    )
    return token, stored


def _notify(
    notifier: Notifier, partner: Partner, token: str, stored: ConfirmationToken, template: str
) -> bool:
    notice = ConfirmationNotice(
        partner_id=partner.partner_id,
        name=partner.name,
        email=partner.email,
        token=token,
        expires_at=stored.expires_at,
        confirm_url=confirm_url(template, token),
    )
    try:
        notifier.send_confirmation(notice)
    except NotificationFailed:
        return False
    return True


def register(
    name: str,
    email: str,
    referrer_id: str | None,
    *,
    source: str,
    now: datetime,
    store: AccountStore,
    limiter: WindowLimiter,
    notifier: Notifier,
    limits: PartnerAccountLimits,
) -> Registered:
    """A new partner, pending confirmation, with its first key (every scope) and a token sent."""
    address = normalise_email(email)
    if referrer_id is not None:
        referrer = store.get(Partner, referrer_id)
        if referrer is None or referrer.status is not PartnerStatus.ACTIVE:
            raise InvalidRequest("referrer_id", "no such active partner")
    _count_request(limiter, source, now, limits)
    partner = Partner(
        partner_id=new_id("ptr"),
        name=name,
        email=email.strip(),
        status=PartnerStatus.PENDING_CONFIRMATION,
        referrer_id=referrer_id,
        created_at=now,
    )
    token, stored = _new_token(partner, address, now, limits)
    issued = issue_key(partner.partner_id, [scope.value for scope in ALL_SCOPES], "registration", now)
    claim = PartnerEmail(address=address, partner_id=partner.partner_id, token_hash=stored.token_hash)
    retry_conflicts(lambda: store.register(partner, claim, stored, issued.key))
    sent = _notify(notifier, partner, token, stored, limits.confirmation_url)
    return Registered(partner, issued, stored.expires_at, sent)


def resend_confirmation(
    email: str,
    *,
    source: str,
    now: datetime,
    store: AccountStore,
    limiter: WindowLimiter,
    notifier: Notifier,
    limits: PartnerAccountLimits,
) -> bool:
    """A new token for an unconfirmed address (the old one stops working). Answers the same
    whether or not the address is registered; True only when a notice went out."""
    address = normalise_email(email)
    _count_request(limiter, source, now, limits)
    claim = store.get(PartnerEmail, address)
    if claim is None or claim.confirmed_at is not None:
        return False
    partner = store.get(Partner, claim.partner_id)
    if partner is None or partner.status is not PartnerStatus.PENDING_CONFIRMATION:
        return False
    token, stored = _new_token(partner, address, now, limits)
    renewed = claim.model_copy(update={"token_hash": stored.token_hash})
    try:
        store.renew_token(renewed, stored, claim.token_hash)
    except WriteConflict:
        return False  # confirmed or renewed meanwhile
    return _notify(notifier, partner, token, stored, limits.confirmation_url)


def confirm(token: str, *, now: datetime, store: AccountStore) -> Partner:
    """Activate the partner the token belongs to (single use)."""
    if not token or len(token) > 256:
        raise TokenInvalid
    stored = store.get(ConfirmationToken, hash_token(token))
    if stored is None:
        raise TokenInvalid
    if stored.expires_at <= now:
        raise TokenExpired
    retry_conflicts(lambda: store.confirm(stored, now=now))
    partner = store.get(Partner, stored.partner_id)
    if partner is None:  # pragma: no cover - written in the same transaction as the token
        raise TokenInvalid
    return partner


# --- callers ------------------------------------------------------------------------------------------


def authorise(key: ApiKey, partner: Partner | None, scope: Scope | None) -> Partner:
    """The key's partner, if it is active and the key holds ``scope`` (None: any key)."""
    if partner is None or partner.status is not PartnerStatus.ACTIVE:
        raise PartnerNotActive(partner.status if partner is not None else None)
    if scope is not None and not has_scope(key.scopes, scope):
        raise ScopeMissing(scope)
    return partner


# --- API keys --------------------------------------------------------------------------------------------


def create_key(
    partner_id: str,
    scopes: Sequence[str] | None,
    label: str,
    *,
    now: datetime,
    store: AccountStore,
    limits: PartnerAccountLimits,
) -> IssuedKey:
    """A new key with ``scopes`` (None: every scope); the secret is in the result only."""
    try:
        chosen = parse_scopes(scopes) if scopes is not None else tuple(s.value for s in ALL_SCOPES)
    except UnknownScope as error:
        raise InvalidRequest("scopes", f"unknown scope {error.scope!r}") from None
    if not chosen:
        raise InvalidRequest("scopes", "at least one scope")
    issued = issue_key(partner_id, chosen, label, now)
    manage = has_scope(chosen, Scope.KEYS_MANAGE)
    retry_conflicts(
        lambda: store.add_key(issued.key, manage=manage, keys_max=limits.api_keys_per_partner_max)
    )
    return issued


def revoke_key(partner_id: str, key_id: str, *, now: datetime, store: AccountStore) -> ApiKey:
    """Revoke one of the partner's keys; the key as it is afterwards."""
    key = store.key_by_id(partner_id, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound
    manage = has_scope(key.scopes, Scope.KEYS_MANAGE)
    retry_conflicts(lambda: store.revoke_key(key, manage=manage, now=now))
    return key.model_copy(update={"revoked_at": now})
