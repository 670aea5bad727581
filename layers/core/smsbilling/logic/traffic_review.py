"""Held messages: what the processors write when a control holds one, and what an admin decides.

A hold writes a :class:`~smsbilling.domain.traffic.HeldMessage` carrying the queue message that
moves the message on (``mo.received`` for an MO, ``mt.requested`` / ``mt.send`` for an MT). An
admin releases or rejects it here; the decision is stored first, then that queue message is
published again, and the processor reads the decision: released, the message goes on and no
control is asked again; rejected, it ends ``rejected`` with the admin's note, never charged or sent.
Deciding twice the same way changes nothing; a decided message cannot be decided otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, Protocol

from pydantic import Field, RootModel

from smsbilling.contracts import Contract, MoReceived, MtRequested, SendMt
from smsbilling.domain.traffic import HeldMessage, HeldStatus, MessageFacts, Verdict
from smsbilling.logic.admin_common import AdminCall, AdminStore, Conflict, NotFound, PageOf, record


class HeldCommand(RootModel[Annotated[MoReceived | MtRequested | SendMt, Field(discriminator="kind")]]):
    """The queue message a held message carries, told apart by ``kind``."""


def held_message(facts: MessageFacts, verdict: Verdict, command: Contract, *, text_chars: int) -> HeldMessage:
    """The record of a message a control holds (``command`` carries it on once decided)."""
    return HeldMessage(
        message_id=facts.message_id,
        direction=facts.direction,
        reason=verdict.reason,
        labels=verdict.labels,
        risk_score=verdict.risk_score,
        partner_id=facts.partner_id,
        operator_id=facts.operator_id,
        msisdn=facts.msisdn,
        text=facts.text[:text_chars],
        held_at=facts.at,
        command_json=command.model_dump_json(),
    )


def review_note(held: HeldMessage) -> str:
    """The reason a message rejected at review ends with."""
    return f"rejected at review: {held.decision_note or held.reason}"[:200]


class HeldPublisher(Protocol):
    def publish_mo_received(self, event: MoReceived) -> None: ...

    def publish_mt_requested(self, command: MtRequested) -> None: ...

    def publish_mt_send(self, command: SendMt) -> None: ...


def republish(held: HeldMessage, events: HeldPublisher) -> None:
    """Put the held message's queue message back on its queue (its processor reads the decision)."""
    command = HeldCommand.model_validate_json(held.command_json).root
    if isinstance(command, MoReceived):
        events.publish_mo_received(command)
    elif isinstance(command, MtRequested):
        events.publish_mt_requested(command)
    else:
        events.publish_mt_send(command)


def held_messages(
    store: AdminStore, status: HeldStatus, *, limit: int, cursor: str | None
) -> PageOf[HeldMessage]:
    """One status's held messages, oldest first."""
    return store.page(HeldMessage, f"HELD#{status.value}", limit=limit, cursor=cursor)


def decide_held(
    store: AdminStore,
    call: AdminCall,
    message_id: str,
    decision: Literal["release", "reject"],
    *,
    note: str,
    publish: Callable[[HeldMessage], None],
) -> HeldMessage:
    """Release or reject a held message, then carry it on. The same decision again re-publishes."""
    held = store.get(HeldMessage, message_id)
    if held is None:
        raise NotFound("held message")
    wanted = HeldStatus.RELEASED if decision == "release" else HeldStatus.REJECTED
    if held.status is HeldStatus.HELD:
        decision_fields = {
            "status": wanted,
            "decided_at": call.now,
            "decided_by": call.admin_key_id,
            "decision_note": note,
        }
        # Written only while still held: of two admins deciding at once, one decision stands.
        decided = store.update(
            held.model_copy(update=decision_fields), decision_fields, only_if={"status": HeldStatus.HELD}
        )
        if decided is not None:
            record(store, call, f"held.{decision}", decided, {"note": note})
            held = decided
        else:  # decided by someone else meanwhile: their decision stands
            held = store.get(HeldMessage, message_id)
            if held is None:
                raise NotFound("held message")
    if held.status is not wanted:
        raise Conflict("already_decided", f"the message was {held.status.value} already")
    publish(held)  # again on a repeat: a publish lost after the write is repaired by the retry
    return held


def is_awaiting(held: HeldMessage | None) -> bool:
    return held is not None and held.status is HeldStatus.HELD


__all__ = [
    "HeldCommand",
    "HeldPublisher",
    "decide_held",
    "held_message",
    "held_messages",
    "is_awaiting",
    "republish",
    "review_note",
]
