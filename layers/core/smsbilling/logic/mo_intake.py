"""Accepting MO messages from operator links.

Nothing is acknowledged to the operator before the message is stored *and* queued. Storing is
idempotent on (link, operator message id): a retried delivery maps to the same platform id and is
queued again only while the MO processor has not decided it yet, so a crash between the store and
the queue cannot lose it, and a retry after the decision cannot process it twice. What the MO
processor does with it is in :mod:`smsbilling.logic.mo_processing`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from smsbilling.contracts import MoReceived
from smsbilling.domain.entities import Entity, OperatorLink
from smsbilling.domain.ids import inbound_message_id
from smsbilling.domain.inbound import InboundMo, MoState, StoredMo
from smsbilling.domain.secrets import token_matches


class LinkNotAuthorised(Exception):
    """Unknown link, disabled link or wrong token: one answer for all, so ids cannot be probed."""


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class InboundStore(Protocol):
    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        """Store ``mo`` unless a message with its id exists; return the stored one either way."""
        ...

    def decide(self, mo: StoredMo) -> bool:
        """Replace the stored message by ``mo`` (a final state, or held) if it is still undecided.

        False, and nothing written, when it was decided already (or is not stored). Undecided is
        ``received``, ``held`` (waiting for an admin), or ``accepted`` for records claimed by the
        first version of the processor.
        """
        ...

    def get(self, message_id: str) -> StoredMo | None: ...


class EventPublisher(Protocol):
    def publish_mo_received(self, event: MoReceived) -> None: ...


def authorise_link(entities: EntityReader, link_id: str, token: str | None) -> OperatorLink:
    link = entities.get(OperatorLink, link_id)
    if (
        link is None
        or not link.enabled
        or token is None
        or link.http_token_hash is None
        or not token_matches(token, link.http_token_hash)
    ):
        raise LinkNotAuthorised
    return link


def accept_mo(
    link: OperatorLink, mo: InboundMo, *, now: datetime, store: InboundStore, events: EventPublisher
) -> StoredMo:
    """Store and queue an MO; safe to call again with the same operator message id."""
    stored = store.put_if_absent(
        StoredMo(
            message_id=inbound_message_id(link.link_id, mo.operator_message_id),
            link_id=link.link_id,
            operator_id=link.operator_id,
            operator_message_id=mo.operator_message_id,
            source=mo.source,
            destination=mo.destination,
            text=mo.text,
            state=MoState.RECEIVED,
            received_at=now,
            data_coding=mo.data_coding,
            payload_hex=None if mo.payload_hex is None else mo.payload_hex.lower(),
            udh_hex=None if mo.udh_hex is None else mo.udh_hex.lower(),
            sar_ref=mo.sar_ref,
            sar_total=mo.sar_total,
            sar_seq=mo.sar_seq,
        )
    )
    if not stored.state.is_final:
        events.publish_mo_received(
            MoReceived(message_id=stored.message_id, link_id=stored.link_id, received_at=stored.received_at)
        )
    return stored
