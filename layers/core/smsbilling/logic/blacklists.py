"""Subscriber blacklists: the one lookup MO and MT processing make, STOP opt-outs, lists and imports.

The kinds of list and their keys are in :mod:`smsbilling.domain.blacklists`; this module reads and
writes them through the entities table's ``get`` / ``create`` / ``delete`` (docs/traffic/blacklists.md).

**The lookup** (:func:`blacklist_reason`) reads the platform's entry, the partner's and the
service's: one consistent ``GetItem`` each, at most three, stopping at the first found. The MO
processor asks twice: the platform's list before routing (a listed subscriber gets not even the
default reply), the partner's and the service's after (:func:`mo_refusal`). The MT processor asks
once when it creates the record (:func:`mt_refusal`); a refused MT is created ``rejected`` with the
reason, never charged or sent.

**STOP** (:class:`StopList`, bound to the subscription logic's ``OptOuts`` port): a subscriber's stop
word adds a STOP entry to the partner's list unless any entry is there already (idempotent: the
entry's time is the stop MO's, so a redelivery finds its own entry). Subscribing again lifts the
partner's STOP entry if it is older than the subscribing MO; an admin's or a partner's entry is
never lifted by the subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsbilling.contracts import MtPurpose
from smsbilling.domain.blacklists import (
    SOLICITED_PURPOSES,
    CsvError,
    entry_id,
    is_stop_entry,
    parse_csv,
    reason_problem,
    refusal,
    scope_of,
    stop_reason,
)
from smsbilling.domain.entities import BlacklistEntry, Entity, PartnerService
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class BlacklistStore(EntityReader, Protocol):
    """The entities table as the lists need it (DynamoEntityStore, MemoryEntityStore)."""

    def create(self, entity: Entity) -> None:
        """Put only if no entity has this key; raise otherwise."""
        ...

    def delete(self, model: type[Entity], entity_id: str) -> bool: ...

    def blacklist(
        self, scope: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[BlacklistEntry], str | None]: ...


# --- the lookup -----------------------------------------------------------------------------------------


def blacklist_reason(
    entities: EntityReader,
    msisdn: str,
    *,
    partner_id: str | None,
    service_id: str | None,
    platform: bool = True,
    opt_outs: bool = True,
) -> str | None:
    """Why ``msisdn`` (E.164 digits) gets nothing from this partner / service, or None.

    Checks the platform's list (unless ``platform`` is False: the caller did already), the
    partner's (with ``partner_id``) and the service's (with both ids), in that order. With
    ``opt_outs`` False a subscriber's STOP entry on the partner's list does not count.
    """
    if not msisdn:
        return None
    scopes = [scope_of(None)] if platform else []
    if partner_id is not None:
        scopes.append(scope_of(partner_id))
        if service_id is not None:
            scopes.append(scope_of(partner_id, service_id))
    for scope in scopes:
        entry = entities.get(BlacklistEntry, entry_id(scope, msisdn))
        if entry is not None and (opt_outs or not is_stop_entry(entry)):
            return refusal(entry)
    return None


def mo_refusal(entities: EntityReader, msisdn: str, *, partner_id: str, service_id: str) -> str | None:
    """A routed MO: the partner's and the service's lists; the subscriber's own STOP does not count
    (writing to the partner again is their choice, and how they subscribe again)."""
    return blacklist_reason(
        entities, msisdn, partner_id=partner_id, service_id=service_id, platform=False, opt_outs=False
    )


def mt_refusal(
    entities: EntityReader,
    msisdn: str,
    *,
    partner_id: str | None,
    service_id: str | None,
    purpose: MtPurpose | None,
) -> str | None:
    """An MT: every list that applies; a STOP entry blocks all but what answers the subscriber
    (``purpose`` None: a partner's SMPP submit, which counts as the partner's own initiative)."""
    solicited = purpose is not None and purpose in SOLICITED_PURPOSES
    return blacklist_reason(
        entities, msisdn, partner_id=partner_id, service_id=service_id, opt_outs=not solicited
    )


# --- STOP -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StopList:
    """Opt-outs by stop word on the partners' lists (the subscription logic's ``OptOuts`` port)."""

    entities: BlacklistStore

    def stopped(self, partner_id: str, msisdn: str, at: datetime) -> bool:
        """The subscriber opted out of ``partner_id`` at ``at``; True when this made a new entry."""
        entry = BlacklistEntry(
            scope=scope_of(partner_id), msisdn=msisdn, reason=stop_reason(at), created_at=at
        )
        return _create_if_absent(self.entities, entry)

    def restarted(self, partner_id: str, msisdn: str, at: datetime) -> bool:
        """The subscriber subscribed again at ``at``: lift their older STOP entry; True if lifted."""
        key = entry_id(scope_of(partner_id), msisdn)
        entry = self.entities.get(BlacklistEntry, key)
        if entry is None or not is_stop_entry(entry) or entry.created_at >= at:
            return False
        return self.entities.delete(BlacklistEntry, key)


def _create_if_absent(entities: BlacklistStore, entry: BlacklistEntry) -> bool:
    try:
        entities.create(entry)
    except Exception:  # the store's EntityExists (logic does not import adapters)
        if entities.get(BlacklistEntry, entry.entity_id) is None:
            raise  # not a taken key: not ours to hide
        return False
    return True


# --- the lists, as admins and partners keep them ------------------------------------------------------


class BlacklistError(Exception):
    """Base of what the list operations refuse on purpose (mapped by web/admin/lists.py, web/blacklist.py)."""


class UnknownService(BlacklistError):
    """The service does not exist, or is not the partner's."""


class InvalidEntry(BlacklistError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EntryNotFound(BlacklistError):
    pass


class EntryExists(BlacklistError):
    """The subscriber is on the list already, for another reason (or by their own STOP)."""

    def __init__(self, entry: BlacklistEntry) -> None:
        super().__init__(f"{entry.msisdn} is listed already")
        self.entry = entry


class OptedOut(BlacklistError):
    """A subscriber's STOP entry: only they (by subscribing again) or an admin may lift it."""


def service_scope(entities: EntityReader, partner_id: str, service_id: str | None) -> str:
    """The scope of the partner's list, or of one of its services (UnknownService otherwise)."""
    if service_id is None:
        return scope_of(partner_id)
    service = entities.get(PartnerService, service_id)
    if service is None or service.partner_id != partner_id:
        raise UnknownService(service_id)
    return scope_of(partner_id, service_id)


def international(msisdn: str, field: str = "msisdn") -> str:
    """E.164 digits of an international number in any usual form (InvalidEntry otherwise)."""
    try:
        return normalise_msisdn(msisdn, default_country_code=None)
    except MsisdnError as error:
        raise InvalidEntry(field, f"not an international number: {error}") from None


def new_entry(scope: str, msisdn: str, reason: str, at: datetime) -> BlacklistEntry:
    problem = reason_problem(reason)
    if problem is not None:
        raise InvalidEntry("reason", problem)
    return BlacklistEntry(scope=scope, msisdn=international(msisdn), reason=reason, created_at=at)


def add(entities: BlacklistStore, entry: BlacklistEntry) -> tuple[BlacklistEntry, bool]:
    """``(entry, True)``; the same entry listed already (a retry): ``(stored, False)``; listed with
    another reason: :class:`EntryExists`. The stored entry keeps its time."""
    for _ in range(2):  # a second try only when the entry was removed between create and get
        if _create_if_absent(entities, entry):
            return entry, True
        stored = entities.get(BlacklistEntry, entry.entity_id)
        if stored is None:
            continue
        if stored.reason != entry.reason:
            raise EntryExists(stored)
        return stored, False
    raise EntryNotFound(entry.msisdn)


def find(entities: EntityReader, scope: str, msisdn: str) -> BlacklistEntry:
    entry = entities.get(BlacklistEntry, entry_id(scope, international(msisdn)))
    if entry is None:
        raise EntryNotFound(msisdn)
    return entry


def remove(entities: BlacklistStore, scope: str, msisdn: str, *, lift_opt_outs: bool) -> BlacklistEntry:
    """Take ``msisdn`` off the list; a STOP entry only with ``lift_opt_outs`` (admins)."""
    entry = find(entities, scope, msisdn)
    if is_stop_entry(entry) and not lift_opt_outs:
        raise OptedOut(entry.msisdn)
    if not entities.delete(BlacklistEntry, entry.entity_id):
        raise EntryNotFound(msisdn)
    return entry


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one CSV import did; ``added`` are the new entries' MSISDNs, in file order."""

    rows: int  # lines with a number (the header and blank lines not counted)
    added: tuple[str, ...]
    listed: int  # on the list already (before, or earlier in the same file): left as they were
    errors: tuple[CsvError, ...]


def import_csv(
    entities: BlacklistStore, scope: str, text: str, *, at: datetime, rows_max: int
) -> ImportReport:
    """Add every valid line of ``text`` to the list ``scope``; each line is idempotent.

    Raises :class:`~smsbilling.domain.blacklists.TooManyRows` (nothing imported) past ``rows_max``.
    An entry on the list already keeps its reason and time; a failure of the store part-way leaves
    the lines before it imported, and a retry of the same file adds only the rest.
    """
    parsed = parse_csv(text, rows_max=rows_max)
    added: list[str] = []
    listed = 0
    for row in parsed.rows:
        entry = BlacklistEntry(scope=scope, msisdn=row.msisdn, reason=row.reason, created_at=at)
        if _create_if_absent(entities, entry):
            added.append(row.msisdn)
        else:
            listed += 1
    return ImportReport(
        rows=len(parsed.rows) + len(parsed.errors),
        added=tuple(added),
        listed=listed,
        errors=parsed.errors,
    )
