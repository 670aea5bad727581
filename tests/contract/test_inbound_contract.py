"""One contract for every InboundStore: put-if-absent, the conditional decision, every field kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.domain.entities import BillingModel
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.logic.mo_intake import InboundStore
from tests.contract.stores import KINDS, dynamodb_client, fresh_table

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
