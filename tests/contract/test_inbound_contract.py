"""One contract for every InboundStore: put-if-absent, the conditional decision, every field kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_message_search import DynamoMessageSearch
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_message_search import MemoryMessageSearch
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.domain.entities import BillingModel
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.message_search import MessageFilter
from smsbilling.logic.message_queries import MessageSearch
from smsbilling.logic.mo_intake import InboundStore
from tests.contract.stores import KINDS, dynamodb_client, fresh_table
from tests.contract.test_message_search_contract import table_with_gsi1

T0 = datetime(2026, 11, 22, 12, 0, 1, 250_000, tzinfo=UTC)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> InboundStore:
    if request.param == "memory":
        return MemoryInboundStore()
    client = dynamodb_client(request, request.param)
    return DynamoInboundStore(client, fresh_table(client, "messages"))


def received(message_id: str = "mo1", **fields: object) -> StoredMo:
    values: dict[str, object] = {
        "message_id": message_id,
        "link_id": "l1",
        "operator_id": "op1",
        "operator_message_id": "x-1",
        "source": "+44 7700 900123",
        "destination": "4444",
        "text": "",
        "state": MoState.RECEIVED,
        "received_at": T0,
        "data_coding": 8,
        "payload_hex": "0041",
        "udh_hex": "050003010201",
        "sar_ref": None,
    } | fields
    return StoredMo.model_validate(values)


def test_put_if_absent_keeps_the_first(store: InboundStore) -> None:
    first = received()
    assert store.put_if_absent(first) == first
    assert store.put_if_absent(received(text="other")) == first
    assert store.get("mo1") == first
    assert store.get("nope") is None


def test_decision_is_stored_with_every_field(store: InboundStore) -> None:
    mo = received(sar_ref=5, sar_total=2, sar_seq=1, udh_hex=None)
    store.put_if_absent(mo)
    decided = mo.model_copy(
        update={
            "state": MoState.ROUTED,
            "msisdn": "447700900123",
            "full_text": "ABC \u043f\u0440\u0438\u0432\u0435\u0442",
            "short_number": "4444",
            "prefix": "ABC",
            "service_id": "s1",
            "partner_id": "p1",
            "billing_model": BillingModel.MO,
            "charged_amount": 150,
            "currency": "GBP",
        }
    )
    assert store.decide(decided) is True
    assert store.get("mo1") == decided


def test_only_one_decision_wins(store: InboundStore) -> None:
    mo = received()
    store.put_if_absent(mo)
    assert store.decide(mo.model_copy(update={"state": MoState.UNROUTED, "reason": "first"}))
    assert not store.decide(mo.model_copy(update={"state": MoState.ROUTED, "reason": "second"}))
    stored = store.get("mo1")
    assert stored is not None and (stored.state, stored.reason) == (MoState.UNROUTED, "first")


def test_an_accepted_record_can_still_be_decided(store: InboundStore) -> None:
    mo = received(state=MoState.ACCEPTED)
    store.put_if_absent(mo)
    assert store.decide(mo.model_copy(update={"state": MoState.PART}))


def test_deciding_a_message_never_stored_writes_nothing(store: InboundStore) -> None:
    assert not store.decide(received("ghost", state=MoState.ROUTED))
    assert store.get("ghost") is None


def test_a_non_final_decision_is_refused(store: InboundStore) -> None:
    store.put_if_absent(received())
    with pytest.raises(ValueError, match="final state"):
        store.decide(received(state=MoState.RECEIVED))


def test_concurrent_decisions_one_wins(store: InboundStore) -> None:
    mo = received()
    store.put_if_absent(mo)
    results: list[bool] = []
    states = [MoState.ROUTED, MoState.UNROUTED, MoState.PART, MoState.REJECTED] * 2
    threads = [
        threading.Thread(target=lambda s=s: results.append(store.decide(mo.model_copy(update={"state": s}))))
        for s in states
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


# --- the partner's listing (gsi1), written with the decision ---------------------------------------


@pytest.fixture(params=KINDS)
def listed(request: pytest.FixtureRequest) -> tuple[InboundStore, MessageSearch]:
    if request.param == "memory":
        memory = MemoryInboundStore()
        return memory, MemoryMessageSearch(memory, MemoryMtStore())
    client = dynamodb_client(request, request.param)
    table = table_with_gsi1(client, "messages")
    return DynamoInboundStore(client, table), DynamoMessageSearch(client, table)


def test_a_decision_naming_a_partner_lists_the_mo_for_that_partner_only(
    listed: tuple[InboundStore, MessageSearch],
) -> None:
    store, search = listed
    decisions = {
        "routed": {"state": MoState.ROUTED, "partner_id": "p1", "service_id": "s1"},
        "blocked": {"state": MoState.BLACKLISTED, "partner_id": "p2", "service_id": "s2"},
        "unknown": {"state": MoState.UNROUTED},
        "waiting": None,
    }
    for n, (message_id, update) in enumerate(decisions.items()):
        mo = received(message_id, operator_message_id=f"x-{n}")
        store.put_if_absent(mo)
        if update is not None:
            assert store.decide(mo.model_copy(update=update))

    def ids(partner: str) -> list[str]:
        page = search.search(partner, MessageFilter(), before=None, limit=10, examined_max=100)
        return [record.message_id for record in page.items]

    assert ids("p1") == ["routed"] and ids("p2") == ["blocked"] and ids("p3") == []
    stored = store.get("routed")  # the index keys stay out of the record
    assert stored is not None and stored.partner_id == "p1" and stored.state is MoState.ROUTED
