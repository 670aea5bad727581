"""SMPP accounts (the bridge's logins, for SMPP, UCP/EMI and CIMD2 alike) as the admin keeps them.

An admin lists and reads accounts and changes what limits a bind: ``binds_max``, ``enabled``, the
address allow-list ``allowed_cidrs`` (empty: no address may bind) and the submit rates per bind
and per account (``None``: the bridge's ``SmppLimits`` default). The password hash never leaves
this module's callers (web/admin/smpp_accounts.py shows ``has_password`` only) and is never
changed here. The bridge reads the account at every bind, so a change applies from the next bind
(smpp_bridge/server.py). Every change is audited (logic/admin_common.record) with the values as
stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from smsbilling.domain.entities import SMPP_ACCOUNTS_LISTING, SmppAccount
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Invalid,
    PageOf,
    must_get,
    record,
    update_fields,
)

WHAT = "SMPP account"
SETTABLE = frozenset(
    {"binds_max", "enabled", "allowed_cidrs", "submit_rate_per_s", "account_submit_rate_per_s"}
)


def list_accounts(store: AdminStore, *, limit: int, cursor: str | None = None) -> PageOf[SmppAccount]:
    """Every account, by system_id."""
    return store.page(SmppAccount, SMPP_ACCOUNTS_LISTING, limit=limit, cursor=cursor)


def get_account(store: AdminStore, system_id: str) -> SmppAccount:
    return must_get(store, SmppAccount, system_id, WHAT)


def update_account(
    store: AdminStore, call: AdminCall, system_id: str, changes: Mapping[str, Any]
) -> SmppAccount:
    """Set the fields in ``changes`` (a rate of ``None``: back to the default); the stored account."""
    unknown = sorted(set(changes) - SETTABLE)
    if unknown:
        raise Invalid(unknown[0], "not settable here")
    current = get_account(store, system_id)
    if not changes:
        return current
    fields = dict(changes)
    if "allowed_cidrs" in fields and fields["allowed_cidrs"] is not None:
        fields["allowed_cidrs"] = allowed_networks(fields["allowed_cidrs"])
    updated = update_fields(store, current, fields, WHAT)
    record(store, call, "smpp_account.update", updated, updated.model_dump(mode="json", include=set(fields)))
    return updated


def allowed_networks(cidrs: Sequence[str]) -> tuple[str, ...]:
    """IPv4/IPv6 networks in their canonical form, each once, in the order given.

    A network with host bits set (``10.1.2.3/8``) is refused rather than widened silently; a bare
    address is that one address (``/32``, ``/128``).
    """
    networks: list[str] = []
    for index, text in enumerate(cidrs):
        try:
            network = str(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as error:
            raise Invalid(f"allowed_cidrs.{index}", f"not an IP network: {error}") from None
        if network not in networks:
            networks.append(network)
    return tuple(networks)
