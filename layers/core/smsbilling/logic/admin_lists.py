"""Subscriber blacklists and reserved prefixes, as the admin keeps them.

**Blacklists** (:class:`BlacklistEntry`): a subscriber gets no routed MO and no MT, from every
partner (scope ``*``), from one partner (scope = its id) or from one of its services (scope
``<partner_id>/<service_id>``; domain/blacklists.py). MSISDNs are stored as E.164 digits (the form
routing looks them up by), so ``+44 7700 900123`` and ``447700900123`` are one entry. Admins may
remove any entry, a subscriber's STOP entry too; CSV imports add the valid lines and report the
others (logic/blacklists.py), as one audit record.

**Reserved prefixes** (:class:`ReservedPrefix`): keywords partners may not lease, ``reserved`` (the
platform keeps them) or ``forbidden``, keyed by the folded word (domain/routing.fold, with the
admin's look-alikes as configured now), so look-alikes of a reserved word are reserved too. A new
entry does not take back a prefix already leased; it stops new leases (docs/admin-api.md).
"""

from __future__ import annotations

from typing import Literal

from smsbilling.domain.blacklists import TooManyRows, reason_problem, scope_of
from smsbilling.domain.entities import BlacklistEntry, Partner, PartnerService, ReservedPrefix, RoutingConfig
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn
from smsbilling.domain.prefixes import prefix_problem
from smsbilling.domain.routing import fold
from smsbilling.logic import blacklists
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Invalid,
    NotFound,
    create_once,
    record,
)

GLOBAL_SCOPE = "*"


def blacklist_scope(store: AdminStore, partner_id: str | None, service_id: str | None = None) -> str:
    """The scope of a service's list, a partner's (which must exist), or the platform-wide one.

    A service names its partner: ``partner_id`` may be left out, and must be the service's if given.
    """
    if service_id is not None:
        service = store.get(PartnerService, service_id)
        if service is None or partner_id not in (None, service.partner_id):
            raise NotFound("service")
        partner_id = service.partner_id
    if partner_id is None:
        return GLOBAL_SCOPE
    if store.get(Partner, partner_id) is None:
        raise NotFound("partner")
    return scope_of(partner_id, service_id)


def international(msisdn: str, field: str = "msisdn") -> str:
    try:
        return normalise_msisdn(msisdn, default_country_code=None)
    except MsisdnError as error:
        raise Invalid(field, f"not an international number: {error}") from None


def add_to_blacklist(
    store: AdminStore, call: AdminCall, scope: str, msisdn: str, reason: str
) -> tuple[BlacklistEntry, bool]:
    problem = reason_problem(reason)
    if problem is not None:
        raise Invalid("reason", problem)
    entry = BlacklistEntry(scope=scope, msisdn=international(msisdn), reason=reason, created_at=call.now)
    stored, created = create_once(store, entry, ignore=("created_at",))
    if created:
        record(
            store, call, "blacklist.add", stored, {"scope": scope, "msisdn": entry.msisdn, "reason": reason}
        )
    return stored, created


def remove_from_blacklist(store: AdminStore, call: AdminCall, scope: str, msisdn: str) -> BlacklistEntry:
    entry_id = f"{scope}#{international(msisdn)}"
    current = store.get(BlacklistEntry, entry_id)
    if current is None or not store.delete(BlacklistEntry, entry_id):
        raise NotFound("blacklist entry")
    record(store, call, "blacklist.remove", current, {"scope": scope, "msisdn": current.msisdn})
    return current


def import_blacklist(
    store: AdminStore, call: AdminCall, scope: str, text: str, *, rows_max: int
) -> blacklists.ImportReport:
    """Add a CSV's valid lines to the list ``scope`` (one audit record for what it added)."""
    try:
        report = blacklists.import_csv(store, scope, text, at=call.now, rows_max=rows_max)
    except TooManyRows as error:
        raise Invalid("body", str(error)) from None
    if report.added:
        changes = {"scope": scope, "added": list(report.added), "listed": report.listed}
        changes["errors"] = len(report.errors)
        record(store, call, "blacklist.import", f"BLACKLIST#{scope}", changes)
    return report


def folded_word(store: AdminStore, word: str, field: str = "word") -> str:
    """``word`` as prefixes are matched (Invalid when it could never be a prefix)."""
    config = store.get(RoutingConfig, "default")
    try:
        folded = fold(word, config.lookalikes if config is not None else None)
    except ValueError as error:
        raise Invalid(field, str(error)) from None
    problem = prefix_problem(word, folded)
    if problem is not None:
        raise Invalid(field, problem)
    return folded


def reserve_prefix(
    store: AdminStore, call: AdminCall, word: str, kind: Literal["reserved", "forbidden"], reason: str
) -> tuple[ReservedPrefix, bool]:
    entry = ReservedPrefix(
        folded=folded_word(store, word), word=word, kind=kind, reason=reason, created_at=call.now
    )
    stored, created = create_once(store, entry, ignore=("created_at",))
    if created:
        record(store, call, "reserved_prefix.add", stored, {"word": word, "kind": kind, "reason": reason})
    return stored, created


def release_prefix(store: AdminStore, call: AdminCall, word: str) -> ReservedPrefix:
    folded = folded_word(store, word)
    current = store.get(ReservedPrefix, folded)
    if current is None or not store.delete(ReservedPrefix, folded):
        raise NotFound("reserved prefix")
    record(store, call, "reserved_prefix.remove", current, {"word": current.word})
    return current
