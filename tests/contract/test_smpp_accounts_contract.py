"""SMPP accounts in the entity store, one contract for the fake and DynamoDB.

What the admin API (logic/admin_smpp_accounts.py) and the bridge need: accounts are listed by
system_id a page at a time, an update writes only the fields named (a rate set back to ``None`` is
gone, the password hash stays), the rates read back exactly (DynamoDB takes no floats: they are
stored as their decimal text), and an audit entry of a rate change can be stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from smsbilling.domain.entities import SMPP_ACCOUNTS_LISTING, AdminAuditEntry, SmppAccount
from smsbilling.domain.secrets import hash_password
from smsbilling.logic.admin_common import AdminCall, record
from tests.contract.test_admin_entities_contract import Store, entities, every_page

__all__ = ["entities"]  # the store fixture (memory, DynamoDB Local, the local cloud)

HASH = hash_password("secret12")


def account(system_id: str, **fields: object) -> SmppAccount:
    base: dict[str, object] = {
        "system_id": system_id,
        "password_hash": HASH,
        "owner_kind": "partner",
        "owner_id": "p1",
        "allowed_cidrs": ("127.0.0.0/8",),
    }
    return SmppAccount.model_validate(base | fields)


def test_accounts_are_listed_by_system_id_and_their_rates_read_back_exactly(entities: Store) -> None:
    for system_id in ("zeta", "alpha", "mid"):
        entities.put(account(system_id, submit_rate_per_s=0.3, account_submit_rate_per_s=1234.5))
    found, pages = every_page(
        lambda cursor: entities.page(SmppAccount, SMPP_ACCOUNTS_LISTING, limit=2, cursor=cursor)
    )
    assert [a.system_id for a in found] == ["alpha", "mid", "zeta"] and pages >= 2
    assert {(a.submit_rate_per_s, a.account_submit_rate_per_s) for a in found} == {(0.3, 1234.5)}
    assert entities.get(SmppAccount, "mid") == account(
        "mid", submit_rate_per_s=0.3, account_submit_rate_per_s=1234.5
    )


def test_an_update_sets_and_clears_rates_and_keeps_the_rest(entities: Store) -> None:
    entities.put(account("p1-bulk", submit_rate_per_s=5, binds_max=2))
    current = entities.get(SmppAccount, "p1-bulk")
    assert current is not None
    changed = current.model_copy(update={"submit_rate_per_s": None, "account_submit_rate_per_s": 2.5})
    updated = entities.update(changed, ["submit_rate_per_s", "account_submit_rate_per_s"])
    assert updated == account("p1-bulk", account_submit_rate_per_s=2.5, binds_max=2)
    assert entities.get(SmppAccount, "p1-bulk") == updated
    assert updated is not None and updated.password_hash == HASH
    listed, _ = entities.page(SmppAccount, SMPP_ACCOUNTS_LISTING, limit=10)
    assert listed == [updated]  # still listed after an update (the index keys are rewritten)


def test_the_audit_entry_of_a_rate_change_is_stored(entities: Store) -> None:
    updated = account("p1-bulk", submit_rate_per_s=0.5)
    call = AdminCall(admin_key_id="ops-1", now=datetime(2026, 3, 1, 12, tzinfo=UTC))
    entry = record(
        entities,
        call,
        "smpp_account.update",
        updated,
        updated.model_dump(mode="json", include={"submit_rate_per_s"}),
    )
    assert entities.get(AdminAuditEntry, entry.audit_id) == entry
    assert entry.changes == {"submit_rate_per_s": "0.5"}
