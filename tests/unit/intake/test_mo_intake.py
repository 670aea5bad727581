"""MO intake logic over in-memory fakes: authorisation, idempotent acceptance, exactly-once pick-up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.contracts import MoReceived
from smsbilling.domain.entities import OperatorLink, Protocol
from smsbilling.domain.inbound import InboundMo, MoState
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.mo_intake import LinkNotAuthorised, accept_mo, authorise_link, pick_up_mo

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


def test_accept_is_idempotent_and_requeues_only_while_not_picked_up(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    first = accept_mo(link, mo(), now=NOW, store=store, events=events)
    again = accept_mo(link, mo(), now=NOW, store=store, events=events)
    assert first == again and first.state is MoState.RECEIVED
    assert len(events.published) == 2  # a retry re-queues: the first send may have been lost
    assert len(store.messages) == 1

    pick_up_mo(events.published[0], store=store)
    late = accept_mo(link, mo(), now=NOW, store=store, events=events)
    assert late.state is MoState.ACCEPTED
    assert len(events.published) == 2  # picked up already: nothing queued again


def test_other_operator_message_ids_and_links_are_other_messages(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    a = accept_mo(link, mo("m1"), now=NOW, store=store, events=events)
    b = accept_mo(link, mo("m2"), now=NOW, store=store, events=events)
    other_link = link.model_copy(update={"link_id": "l2"})
    c = accept_mo(other_link, mo("m1"), now=NOW, store=store, events=events)
    assert len({a.message_id, b.message_id, c.message_id}) == 3


def test_pick_up_happens_once_per_message(entities: MemoryEntityStore) -> None:
    link = authorise_link(entities, "l1", "t")
    store, events = MemoryInboundStore(), MemoryEventPublisher()
    accept_mo(link, mo(), now=NOW, store=store, events=events)
    event = events.published[0]
    assert pick_up_mo(event, store=store).state is MoState.ACCEPTED
    assert store.advance_state(event.message_id, MoState.RECEIVED, MoState.ACCEPTED) is False
    assert pick_up_mo(event, store=store).state is MoState.ACCEPTED  # a redelivery: no-op


def test_pick_up_of_an_unknown_message_fails_the_record() -> None:
    event = MoReceived(message_id="missing", link_id="l1", received_at=NOW)
    with pytest.raises(LookupError):
        pick_up_mo(event, store=MemoryInboundStore())
