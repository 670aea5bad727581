"""Blacklists over both entity stores (logic/blacklists.py): the STOP list's create-if-absent on the
store's own "exists" error, CSV imports, and the service lists' keys (``BLACKLIST#<partner>/<service>``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.blacklists import scope_of
from smsbilling.domain.entities import BlacklistEntry
from smsbilling.logic.blacklists import (
    EntryExists,
    OptedOut,
    StopList,
    add,
    blacklist_reason,
    import_csv,
    new_entry,
    remove,
)
from tests.contract.stores import KINDS, dynamodb_client
from tests.contract.test_admin_entities_contract import _table_with_gsi1, every_page

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Store = MemoryEntityStore | DynamoEntityStore
MSISDN = "447700900123"


@pytest.fixture(params=KINDS)
def entities(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryEntityStore()
    client = dynamodb_client(request, request.param)
    return DynamoEntityStore(client, _table_with_gsi1(client))


def test_a_stop_entry_is_made_once_and_lifted_once(entities: Store) -> None:
    stops = StopList(entities)
    assert stops.stopped("p1", MSISDN, T0) is True
    assert stops.stopped("p1", MSISDN, T0 + timedelta(seconds=1)) is False  # the store refused the key
    stored = entities.get(BlacklistEntry, f"p1#{MSISDN}")
    assert stored is not None and stored.created_at == T0
    with pytest.raises(OptedOut):
        remove(entities, "p1", MSISDN, lift_opt_outs=False)
    assert stops.restarted("p1", MSISDN, T0 + timedelta(minutes=1)) is True
    assert entities.get(BlacklistEntry, f"p1#{MSISDN}") is None


def test_service_lists_are_listed_apart_and_imports_are_idempotent(entities: Store) -> None:
    service = scope_of("p1", "s1")
    text = "".join(f"4477009001{n:02d},imported\n" for n in range(7))
    first = import_csv(entities, service, text, at=T0, rows_max=10)
    assert len(first.added) == 7 and first.listed == 0
    assert import_csv(entities, service, text, at=T0, rows_max=10).listed == 7
    add(entities, new_entry("p1", "+44 7700 900199", "the partner's", T0))
    found, pages = every_page(lambda cursor: entities.blacklist(service, limit=3, cursor=cursor))
    assert [entry.msisdn for entry in found] == [f"4477009001{n:02d}" for n in range(7)] and pages >= 3
    assert [entry.msisdn for entry in entities.blacklist("p1", limit=10)[0]] == ["447700900199"]
    assert blacklist_reason(entities, "447700900103", partner_id="p1", service_id="s1") is not None
    assert blacklist_reason(entities, "447700900103", partner_id="p1", service_id="s2") is None
    with pytest.raises(EntryExists):
        add(entities, new_entry(service, "447700900100", "another reason", T0))
    assert remove(entities, service, "+447700900100", lift_opt_outs=False).msisdn == "447700900100"
    assert entities.get(BlacklistEntry, f"{service}#447700900100") is None
