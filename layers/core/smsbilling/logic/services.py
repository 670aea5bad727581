"""A partner's own services, and the prefixes they lease (docs/partner-api.md, "Services").

**Ownership.** Every operation reads the service by id and compares its partner with the caller's:
another partner's service, a random id and a deleted one are all :class:`NotFound`, and nothing is
written.

**Leasing prefixes.** A service leases its prefix on each of its short numbers: one
:class:`~smsbilling.domain.entities.PrefixClaim` per short number, keyed by the *folded* prefix
(:func:`smsbilling.domain.routing.fold`, the admin's look-alikes included), so look-alikes collide.
Creating a service writes it and all its claims in one transaction with "must not exist"
conditions: of two partners racing for a prefix on a short number exactly one wins, and the loser
gets :class:`PrefixUnavailable` with nothing written. Changing the prefix or the short numbers
releases the claims no longer wanted and takes the new ones in one transaction; deleting the
service releases them with it.

**Moderation.** A new service is ``pending_moderation``. Changing what subscribers reach (prefix,
short numbers, handler kind, handler URL, SMPP system id) puts it back there, and so out of
traffic, until an admin approves it again; renaming it or changing its status URL does not. A
``suspended`` service cannot have those fields changed (409 ``service_suspended``); a
``rejected`` one can, which resubmits it.

**Concurrency.** An update is conditional on the ``updated_at`` the caller read (a concurrent
partner change makes it :class:`WriteConflict`), and it writes only the fields that change (and
``status`` only when it changes, conditional on the status read): an admin's concurrent moderation
is never undone by a partner's rename.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from pydantic import ValidationError

from smsbilling.domain.entities import (
    Entity,
    HandlerKind,
    PartnerService,
    PrefixClaim,
    ReservedPrefix,
    RoutingConfig,
    ServiceStatus,
    ShortNumber,
    SmppAccount,
)
from smsbilling.domain.handler_urls import HandlerUrlError, check_handler_url
from smsbilling.domain.prefixes import WordRefusal, prefix_problem, word_refusal
from smsbilling.domain.routing import fold, prefix_claim_id
from smsbilling.logic.partner_accounts import AccountError, InvalidRequest, NotFound, new_id, retry_conflicts
from smsbilling.settings import PartnerAccountLimits

EDITABLE: Final = frozenset(
    {"name", "prefix", "short_numbers", "handler_kind", "handler_url", "smpp_system_id", "status_url"}
)
MODERATED: Final = frozenset({"prefix", "short_numbers", "handler_kind", "handler_url", "smpp_system_id"})
_LOCKED: Final = frozenset({ServiceStatus.SUSPENDED})


class PrefixUnavailable(AccountError):
    """The prefix is invalid, reserved, forbidden, or taken on some of the short numbers."""

    def __init__(self, reason: str, short_numbers: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.short_numbers = tuple(short_numbers)


class ServiceLimitReached(AccountError):
    pass


class ServiceLocked(AccountError):
    """A suspended service: only its name and status URL may change."""


class PrefixTaken(Exception):
    """Raised by stores: these claims (ids) are held already."""

    def __init__(self, claim_ids: Sequence[str]) -> None:
        super().__init__(", ".join(claim_ids))
        self.claim_ids = tuple(claim_ids)


class ServiceStore(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def create_service(
        self, service: PartnerService, claims: Sequence[PrefixClaim], *, services_max: int
    ) -> None:
        """Write the service and its claims at once. PrefixTaken (the claims held already) or
        ServiceLimitReached (``services_max`` services on the partner's ring), nothing written."""
        ...

    def update_service(
        self,
        before: PartnerService,
        after: PartnerService,
        *,
        release: Sequence[PrefixClaim],
        claim: Sequence[PrefixClaim],
    ) -> None:
        """Write the fields that differ, release and take claims, at once; only over ``before``'s
        ``updated_at`` (and status, when it changes): WriteConflict otherwise. PrefixTaken."""
        ...

    def delete_service(self, service: PartnerService, *, release: Sequence[PrefixClaim]) -> None:
        """Delete the service (over its ``updated_at``) and release its claims, at once."""
        ...

    def services_of(
        self, partner_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[PartnerService], str | None]:
        """The partner's services by id, a page at a time; InvalidCursor for a foreign cursor."""
        ...


@dataclass(frozen=True, slots=True)
class Rules:
    """What a service must satisfy here: the limits and the stage's URL policy."""

    limits: PartnerAccountLimits
    allow_loopback: bool  # the local stage: http(s) to loopback handlers


# --- reading -----------------------------------------------------------------------------------------


def owned(store: ServiceStore, partner_id: str, service_id: str) -> PartnerService:
    service = store.get(PartnerService, service_id) if 0 < len(service_id) <= 64 else None
    if service is None or service.partner_id != partner_id:
        raise NotFound
    return service


def _lookalikes(store: ServiceStore) -> Mapping[str, str]:
    config = store.get(RoutingConfig, "default")
    if config is None or not config.lookalikes:
        return {}
    try:
        fold("", config.lookalikes)
    except ValueError:  # an invalid table is ignored, as the MO processor ignores it
        return {}
    return config.lookalikes


def folded_prefix(store: ServiceStore, prefix: str) -> str:
    return fold(prefix, _lookalikes(store))


def wanted_claims(service: PartnerService, folded: str) -> list[PrefixClaim]:
    return [
        PrefixClaim(short_number_id=number, folded=folded, service_id=service.service_id)
        for number in service.short_numbers
    ]


def held_claims(store: ServiceStore, service: PartnerService) -> list[PrefixClaim]:
    """The claims the service holds now (found by its prefix folded as configured now)."""
    held = []
    for claim in wanted_claims(service, folded_prefix(store, service.prefix)):
        stored = store.get(PrefixClaim, claim.entity_id)
        if stored is not None and stored.service_id == service.service_id:
            held.append(stored)
    return held


# --- validation ------------------------------------------------------------------------------------


def _default_reserved(store: ServiceStore, limits: PartnerAccountLimits) -> frozenset[str]:
    lookalikes = _lookalikes(store)
    return frozenset(fold(word, lookalikes) for word in limits.reserved_prefixes)


def check_prefix_word(store: ServiceStore, prefix: str, limits: PartnerAccountLimits) -> str:
    """The folded prefix, if partners may lease it; PrefixUnavailable otherwise."""
    folded = folded_prefix(store, prefix)
    problem = prefix_problem(prefix, folded)
    if problem is not None:
        raise InvalidRequest("prefix", problem)
    refusal = word_refusal(folded, store.get(ReservedPrefix, folded), _default_reserved(store, limits))
    if refusal is not None:
        raise PrefixUnavailable(refusal.value)
    return folded


def _check_short_numbers(store: ServiceStore, numbers: Sequence[str], limits: PartnerAccountLimits) -> None:
    if not 1 <= len(numbers) <= limits.service_short_numbers_max:
        raise InvalidRequest("short_numbers", f"1 to {limits.service_short_numbers_max} short numbers")
    if len(set(numbers)) != len(numbers):
        raise InvalidRequest("short_numbers", "a short number is listed twice")
    for number in numbers:
        if len(number) > 100 or store.get(ShortNumber, number) is None:
            raise InvalidRequest("short_numbers", f"no short number {number[:100]!r}")


def _check_url(field: str, url: str | None, rules: Rules) -> None:
    if url is None:
        return
    try:
        check_handler_url(url, allow_loopback=rules.allow_loopback)
    except HandlerUrlError as error:
        raise InvalidRequest(field, f"{error.refusal.value}: {error.detail}") from None


def _check_handler(
    store: ServiceStore, service: PartnerService, changed: frozenset[str], rules: Rules
) -> None:
    if service.handler_kind is HandlerKind.SMPP:
        if service.smpp_system_id is None:
            raise InvalidRequest("smpp_system_id", "required for an smpp handler")
        if service.handler_url is not None:
            raise InvalidRequest("handler_url", "must be null for an smpp handler")
        if "smpp_system_id" in changed:
            account = store.get(SmppAccount, service.smpp_system_id)
            if account is None or account.owner_kind != "partner" or account.owner_id != service.partner_id:
                raise InvalidRequest("smpp_system_id", "not one of your SMPP accounts")
    else:
        if service.handler_url is None:
            raise InvalidRequest("handler_url", f"required for an {service.handler_kind.value} handler")
        if service.smpp_system_id is not None:
            raise InvalidRequest("smpp_system_id", "only for an smpp handler")
    if "handler_url" in changed:
        _check_url("handler_url", service.handler_url, rules)
    if "status_url" in changed:
        _check_url("status_url", service.status_url, rules)


def _validate(store: ServiceStore, service: PartnerService, changed: frozenset[str], rules: Rules) -> str:
    """Check what changed; the folded prefix."""
    if "short_numbers" in changed:
        _check_short_numbers(store, service.short_numbers, rules.limits)
    _check_handler(store, service, changed, rules)
    if "prefix" in changed:
        return check_prefix_word(store, service.prefix, rules.limits)
    return folded_prefix(store, service.prefix)


def _taken(error: PrefixTaken, claims: Sequence[PrefixClaim]) -> PrefixUnavailable:
    by_id = {claim.entity_id: claim.short_number_id for claim in claims}
    return PrefixUnavailable("taken", [by_id.get(claim_id, claim_id) for claim_id in error.claim_ids])


# --- writing ---------------------------------------------------------------------------------------


def create_service(
    partner_id: str, fields: Mapping[str, Any], *, now: datetime, store: ServiceStore, rules: Rules
) -> PartnerService:
    """A new service, pending moderation, holding its prefix on every one of its short numbers."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise InvalidRequest(sorted(unknown)[0], "not a field of a service")
    service = _build(
        {
            **fields,
            "service_id": new_id("svc"),
            "partner_id": partner_id,
            "status": ServiceStatus.PENDING_MODERATION,
            "created_at": now,
            "updated_at": now,
        }
    )
    folded = _validate(store, service, EDITABLE, rules)
    claims = wanted_claims(service, folded)
    try:
        limit = rules.limits.services_per_partner_max
        retry_conflicts(lambda: store.create_service(service, claims, services_max=limit))
    except PrefixTaken as error:
        raise _taken(error, claims) from None
    return service


def update_service(
    partner_id: str,
    service_id: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    store: ServiceStore,
    rules: Rules,
) -> PartnerService:
    """Apply a partial change; the service afterwards (unchanged when nothing differs)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidRequest(sorted(unknown)[0], "not a field a partner may change")
    before = owned(store, partner_id, service_id)
    changed = frozenset(name for name, value in changes.items() if _differs(getattr(before, name), value))
    if not changed:
        return before
    update: dict[str, Any] = {name: changes[name] for name in changed} | {"updated_at": now}
    if changed & MODERATED:
        if before.status in _LOCKED:
            raise ServiceLocked
        update["status"] = ServiceStatus.PENDING_MODERATION
    after = _build(before.model_dump() | update)
    folded = _validate(store, after, changed, rules)
    release: list[PrefixClaim] = []
    claim: list[PrefixClaim] = []
    if changed & {"prefix", "short_numbers"}:
        held = {c.entity_id: c for c in held_claims(store, before)}
        wanted = {c.entity_id: c for c in wanted_claims(after, folded)}
        release = [c for claim_id, c in held.items() if claim_id not in wanted]
        claim = [c for claim_id, c in wanted.items() if claim_id not in held]
    try:
        store.update_service(before, after, release=release, claim=claim)
    except PrefixTaken as error:
        raise _taken(error, claim) from None
    return after


def _build(data: Mapping[str, Any]) -> PartnerService:
    try:
        return PartnerService.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise InvalidRequest(field, str(first.get("msg", "invalid"))) from None


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(current, tuple) and isinstance(wanted, list | tuple):
        return current != tuple(wanted)
    return bool(current != wanted)


def delete_service(partner_id: str, service_id: str, *, store: ServiceStore) -> PartnerService:
    """Delete the service and release its prefix; the service as it was."""
    service = owned(store, partner_id, service_id)
    store.delete_service(service, release=held_claims(store, service))
    return service


# --- prefix availability --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberAvailability:
    short_number_id: str
    available: bool
    reason: str | None  # taken, yours, unknown_short_number, or the word's refusal
    service_id: str | None = None  # reason "yours": which of the caller's services holds it


@dataclass(frozen=True, slots=True)
class Availability:
    prefix: str
    folded: str
    available: bool
    reason: str | None  # invalid, reserved, forbidden, taken (on some number), or None
    detail: str | None
    short_numbers: tuple[NumberAvailability, ...]


def prefix_availability(
    partner_id: str,
    prefix: str,
    short_numbers: Sequence[str],
    *,
    store: ServiceStore,
    limits: PartnerAccountLimits,
) -> Availability:
    """Whether ``prefix`` could be leased on each short number now (a later lease may still lose a race)."""
    if len(short_numbers) > limits.service_short_numbers_max:
        raise InvalidRequest("short_numbers", f"at most {limits.service_short_numbers_max} short numbers")
    folded = folded_prefix(store, prefix)
    word: str | None = None
    detail: str | None = None
    try:
        check_prefix_word(store, prefix, limits)
    except InvalidRequest as error:
        word, detail = WordRefusal.INVALID.value, error.reason
    except PrefixUnavailable as error:
        word = error.reason
    numbers = tuple(_number_availability(store, partner_id, number, folded, word) for number in short_numbers)
    reason = word or next((n.reason for n in numbers if not n.available), None)
    return Availability(prefix, folded, reason is None, reason, detail, numbers)


def _number_availability(
    store: ServiceStore, partner_id: str, number: str, folded: str, word: str | None
) -> NumberAvailability:
    if len(number) > 100 or store.get(ShortNumber, number) is None:
        return NumberAvailability(number[:100], False, "unknown_short_number")
    if word is not None:
        return NumberAvailability(number, False, word)
    claim = store.get(PrefixClaim, prefix_claim_id(number, folded))
    if claim is None:
        return NumberAvailability(number, True, None)
    holder = store.get(PartnerService, claim.service_id)
    if holder is not None and holder.partner_id == partner_id:
        return NumberAvailability(number, False, "yours", holder.service_id)
    return NumberAvailability(number, False, "taken")
