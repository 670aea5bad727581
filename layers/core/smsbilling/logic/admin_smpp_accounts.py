"""SMPP accounts (the bridge's logins, for SMPP, UCP/EMI and CIMD2 alike) as the admin keeps them.

An admin creates accounts for partners and operators, lists and reads them, changes what limits a
bind: ``binds_max``, ``enabled``, the address allow-list ``allowed_cidrs`` (empty: no address may
bind) and the submit rates per bind and per account (``None``: the bridge's ``SmppLimits``
default), and sets a new password. Passwords are made here, random, returned once to be shown
once, and stored only as a hash (web/admin/smpp_accounts.py shows ``has_password`` only). The
bridge reads the account at every bind, so a change applies from the next bind
(smpp_bridge/server.py). Every change is audited (logic/admin_common.record) with the values as
stored, a password never.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from smsbilling.domain.entities import SMPP_ACCOUNTS_LISTING, Operator, Partner, SmppAccount
from smsbilling.domain.secrets import hash_password, new_password
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Conflict,
    Invalid,
    PageOf,
    must_get,
    record,
    update_fields,
    validated,
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


def create_account(store: AdminStore, call: AdminCall, fields: Mapping[str, Any]) -> tuple[SmppAccount, str]:
    """A new account for an existing partner or operator, and its password (returned only here).

    ``fields``: ``system_id``, ``owner_kind``, ``owner_id`` and any of the settable fields.
    """
    owner_kind, owner_id = fields["owner_kind"], fields["owner_id"]
    owner = store.get(Partner if owner_kind == "partner" else Operator, owner_id)
    if owner is None:
        raise Invalid("owner_id", f"no such {owner_kind}")
    password = new_password()
    values = dict(fields)
    values["allowed_cidrs"] = allowed_networks(values.get("allowed_cidrs") or ())
    account = validated(SmppAccount, values | {"password_hash": hash_password(password)})
    try:
        store.create(account)
    except Exception:
        if store.get(SmppAccount, account.system_id) is None:  # failed for another reason
            raise
        raise Conflict("already_exists", f"SMPP account {account.system_id} exists already") from None
    record(
        store,
        call,
        "smpp_account.create",
        account,
        account.model_dump(mode="json", exclude={"password_hash"}),
    )
    return account, password


def new_account_password(store: AdminStore, call: AdminCall, system_id: str) -> tuple[SmppAccount, str]:
    """Replace the account's password (binds up stay up; the next bind needs the new one)."""
    current = get_account(store, system_id)
    password = new_password()
    updated = update_fields(store, current, {"password_hash": hash_password(password)}, WHAT)
    record(store, call, "smpp_account.password", updated, {"password": password}, secrets=["password"])
    return updated, password


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
