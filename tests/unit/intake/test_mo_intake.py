"""MO intake logic over in-memory fakes: authorisation, idempotent acceptance, re-queue until decided."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.domain.entities import OperatorLink, Protocol
from smsbilling.domain.inbound import InboundMo, MoState
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.mo_intake import LinkNotAuthorised, accept_mo, authorise_link

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def entities() -> MemoryEntityStore:
    store = MemoryEntityStore()
    store.put(
        OperatorLink(link_id="l1", operator_id="op", protocol=Protocol.HTTP, http_token_hash=hash_token("t"))
    )
    store.put(
        OperatorLink(
            link_id="off",
            operator_id="op",
            protocol=Protocol.HTTP,
            http_token_hash=hash_token("t"),
            enabled=False,
        )
    )
    store.put(OperatorLink(link_id="smpp", operator_id="op", protocol=Protocol.SMPP))
    return store


def mo(op_id: str = "m1") -> InboundMo:
    return InboundMo(operator_message_id=op_id, source="447700900123", destination="4444", text="ABC 1")


@pytest.mark.parametrize(
    ("link_id", "token"), [("l1", "wrong"), ("l1", None), ("nope", "t"), ("off", "t"), ("smpp", "t")]
)
def test_every_failed_authorisation_looks_the_same(
    entities: MemoryEntityStore, link_id: str, token: str | None
) -> None:
    with pytest.raises(LinkNotAuthorised):
        authorise_link(entities, link_id, token)


def test_authorised_link_is_returned(entities: MemoryEntityStore) -> None:
    assert authorise_link(entities, "l1", "t").link_id == "l1"


def test_accept_is_idempotent_and_requeues_only_while_undecided(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    first = accept_mo(link, mo(), now=NOW, store=store, events=events)
    again = accept_mo(link, mo(), now=NOW, store=store, events=events)
    assert first == again and first.state is MoState.RECEIVED
    assert len(events.published) == 2  # a retry re-queues: the first send may have been lost
    assert len(store.messages) == 1

    assert store.decide(first.model_copy(update={"state": MoState.ROUTED}))
    late = accept_mo(link, mo(), now=NOW, store=store, events=events)
    assert late.state is MoState.ROUTED
    assert len(events.published) == 2  # decided already: nothing queued again


def test_accept_stores_the_raw_payload_and_concatenation_fields(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    raw = InboundMo(
        operator_message_id="m9",
        source="447700900123",
        destination="4444",
        payload_hex="00410042",
        data_coding=8,
        udh_hex="050003AA0201",
        sar_ref=None,
    )
    stored = accept_mo(link, raw, now=NOW, store=store, events=events)
    assert (stored.payload_hex, stored.data_coding, stored.udh_hex) == ("00410042", 8, "050003aa0201")
    sar = InboundMo(
        operator_message_id="m10", source="1", destination="2", text="x", sar_ref=5, sar_total=3, sar_seq=2
    )
    stored = accept_mo(link, sar, now=NOW, store=store, events=events)
    assert (stored.sar_ref, stored.sar_total, stored.sar_seq) == (5, 3, 2)


def test_other_operator_message_ids_and_links_are_other_messages(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    a = accept_mo(link, mo("m1"), now=NOW, store=store, events=events)
    b = accept_mo(link, mo("m2"), now=NOW, store=store, events=events)
    other_link = link.model_copy(update={"link_id": "l2"})
    c = accept_mo(other_link, mo("m1"), now=NOW, store=store, events=events)
    assert len({a.message_id, b.message_id, c.message_id}) == 3


def test_decide_happens_once_and_only_to_a_final_state(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    stored = accept_mo(link, mo(), now=NOW, store=store, events=events)
    with pytest.raises(ValueError, match="final state"):
        store.decide(stored)
    assert store.decide(stored.model_copy(update={"state": MoState.UNROUTED}))
    assert not store.decide(stored.model_copy(update={"state": MoState.ROUTED}))
    assert store.get(stored.message_id).state is MoState.UNROUTED  # type: ignore[union-attr]
    assert not store.decide(stored.model_copy(update={"message_id": "other", "state": MoState.ROUTED}))
