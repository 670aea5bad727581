"""The MT lifecycle: one record per MT, a pure transition over its events, and what billing does
when it ends. Pure: time arrives in the events (``now_ms``), never from a clock.

States: ``queued`` (accepted by the platform) -> ``sent`` (handed to an operator link, awaiting the
submit response) -> ``accepted`` (the SMSC took every part; operator ids known) -> one final state,
``delivered`` / ``undelivered`` / ``expired`` / ``rejected``. A final state never changes.

An MT of N parts keeps one :class:`Part` per submitted unit, each with its own operator message id.
The MT is final once every part is *settled*: a part that asked for a receipt needs a final one (or
a refusal, or the expiry); a part that did not (Kannel asks only on part 1) is settled once the
SMSC accepted it and then stands in as delivered. The final state is the worst of the parts:
``rejected`` > ``undelivered`` > ``expired`` > ``delivered``, with the reason of the first part in
that state, so it does not depend on the order the events arrived in.

Events may arrive duplicated or reordered (SQS, two binds, retries): a repeat is ``DUPLICATE``, a
receipt whose id is not linked yet is ``PARKED`` in the record and applied when the submit response
links it, anything after the final state is ``LATE``. Refusals return the record unchanged with an
:class:`Outcome` saying why; no exception escapes :func:`apply`. Why: docs/adr/0003.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final, assert_never

from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import BillingModel

PARTS_MAX: Final = 255  # the most parts a concatenated SMS can have (8-bit UDH / SAR total)


class MtState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in FINAL_MT_STATES


FINAL_MT_STATES: Final = frozenset(
    {MtState.DELIVERED, MtState.UNDELIVERED, MtState.EXPIRED, MtState.REJECTED}
)
_WORST_FIRST: Final = (MtState.REJECTED, MtState.UNDELIVERED, MtState.EXPIRED, MtState.DELIVERED)
_FINAL_FOR: Final = MappingProxyType(
    {
        DlrStatus.DELIVERED: MtState.DELIVERED,
        DlrStatus.UNDELIVERED: MtState.UNDELIVERED,
        DlrStatus.EXPIRED: MtState.EXPIRED,
        DlrStatus.REJECTED: MtState.REJECTED,
    }
)


class ReceiptParts(StrEnum):
    """Which parts of a long MT ask the SMSC for a receipt (SMPP registered_delivery)."""

    ALL = "all"
    FIRST = "first"  # Kannel's way; the other parts then follow part 1


@dataclass(frozen=True, slots=True)
class Part:
    tracked: bool  # a receipt was asked for this part
    state: MtState = MtState.QUEUED
    operator_id: str | None = None  # as the submit response gave it
    key: str | None = None  # its correlation key (dlr.submit_id_key)
    reason: str = ""
    progress: DlrStatus | None = None  # the last intermediate receipt
    timed_out: bool = False  # expired by our deadline, not by what the SMSC said

    @property
    def awaiting_response(self) -> bool:
        return self.key is None and self.state in (MtState.QUEUED, MtState.SENT)

    @property
    def settled(self) -> bool:
        return self.state.is_final or (not self.tracked and self.key is not None)

    @property
    def verdict(self) -> MtState:
        """What this settled part says about the MT: untracked accepted parts follow the others."""
        return MtState.DELIVERED if not self.tracked and self.key is not None else self.state


@dataclass(frozen=True, slots=True)
class ParkedReceipt:
    """A receipt whose id no part has yet: kept until a submit response links it."""

    key: str
    status: DlrStatus
    reason: str


@dataclass(frozen=True, slots=True)
class Mt:
    message_id: str
    parts: tuple[Part, ...]
    expires_at_ms: int  # not final by then: the expiry settles it as expired
    state: MtState = MtState.QUEUED
    reason: str = ""
    final_at_ms: int | None = None
    parked: tuple[ParkedReceipt, ...] = ()  # at most one per key, at most one per part

    @property
    def is_final(self) -> bool:
        return self.state.is_final


def new_mt(
    message_id: str,
    parts_count: int,
    *,
    now_ms: int,
    final_wait_ms: int,
    receipt_parts: ReceiptParts = ReceiptParts.ALL,
) -> Mt:
    """A queued MT that expires ``final_wait_ms`` after ``now_ms`` unless it is final before."""
    if not message_id:
        raise ValueError("empty message id")
    if not 1 <= parts_count <= PARTS_MAX:
        raise ValueError(f"parts_count {parts_count} outside 1-{PARTS_MAX}")
    if final_wait_ms <= 0:
        raise ValueError("final_wait_ms must be positive")
    tracked = [receipt_parts is ReceiptParts.ALL or index == 0 for index in range(parts_count)]
    return Mt(message_id, tuple(Part(t) for t in tracked), now_ms + final_wait_ms)


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandedToLink:
    """Every part went to an operator link (the bridge's outbound queue or an HTTP link)."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class SubmitAccepted:
    part: int  # 0-based
    operator_id: str
    key: str  # dlr.submit_id_key(operator_id, link's id format)
    now_ms: int


@dataclass(frozen=True, slots=True)
class SubmitRejected:
    """A final refusal (transient ones, such as throttling, are retried and never reach here)."""

    part: int
    status: str  # the protocol's error: SMPP command_status, UCP EC, CIMD2 900
    now_ms: int


@dataclass(frozen=True, slots=True)
class ReceiptReceived:
    key: str  # dlr.receipt_id_key(operator_id, link's id format)
    status: DlrStatus
    reason: str  # for people: the stat word and error code
    now_ms: int


@dataclass(frozen=True, slots=True)
class ExpiryDue:
    now_ms: int


MtEvent = HandedToLink | SubmitAccepted | SubmitRejected | ReceiptReceived | ExpiryDue


class Outcome(StrEnum):
    APPLIED = "applied"  # the record changed
    PARKED = "parked"  # a receipt kept until a submit response links its id
    DUPLICATE = "duplicate"  # already applied (or implied); nothing changed
    LATE = "late"  # the MT (or the part) is final already; ignored
    CONFLICT = "conflict"  # contradicts the record (another id, another final state); refused
    UNKNOWN_ID = "unknown_id"  # no part has this id and none can take it; refused
    BAD_PART = "bad_part"  # no such part; refused
    NOT_DUE = "not_due"  # an expiry before the deadline; refused


@dataclass(frozen=True, slots=True)
class Transition:
    mt: Mt
    outcome: Outcome
    finalised: bool = False  # this event made the MT final: settle billing, tell the partner


# --- the transition -----------------------------------------------------------------------------


def apply(mt: Mt, event: MtEvent) -> Transition:
    """The record after ``event``, or the same record and the reason it was refused or ignored."""
    match event:
        case HandedToLink():
            changed, outcome = _on_handed(mt)
        case SubmitAccepted():
            changed, outcome = _on_submit_accepted(mt, event)
        case SubmitRejected():
            changed, outcome = _on_submit_rejected(mt, event)
        case ReceiptReceived():
            changed, outcome = _on_receipt(mt, event)
        case ExpiryDue():
            changed, outcome = _on_expiry(mt, event)
        case _:
            assert_never(event)
    if changed is mt:
        return Transition(mt, outcome)
    if mt.is_final:
        return Transition(mt, Outcome.LATE)  # would change a part of a final MT: frozen instead
    settled = _settle(changed, event.now_ms)
    return Transition(settled, outcome, settled.is_final)


def _with_part(mt: Mt, index: int, part: Part) -> tuple[Part, ...]:
    return (*mt.parts[:index], part, *mt.parts[index + 1 :])


def _on_handed(mt: Mt) -> tuple[Mt, Outcome]:
    if all(part.state is not MtState.QUEUED for part in mt.parts):
        return mt, Outcome.DUPLICATE
    parts = tuple(replace(p, state=MtState.SENT) if p.state is MtState.QUEUED else p for p in mt.parts)
    return replace(mt, parts=parts), Outcome.APPLIED


def _on_submit_accepted(mt: Mt, event: SubmitAccepted) -> tuple[Mt, Outcome]:
    if not 0 <= event.part < len(mt.parts):
        return mt, Outcome.BAD_PART
    part = mt.parts[event.part]
    if part.key is not None:
        return mt, Outcome.DUPLICATE if part.key == event.key else Outcome.CONFLICT
    if part.state.is_final:  # refused, or expired waiting for this response
        return mt, Outcome.CONFLICT if part.state is MtState.REJECTED else Outcome.LATE
    if any(other.key == event.key for other in mt.parts):
        return mt, Outcome.CONFLICT
    linked = replace(part, state=MtState.ACCEPTED, operator_id=event.operator_id, key=event.key)
    for parked in mt.parked:
        if parked.key == event.key:
            linked, _ = _receive(linked, parked.status, parked.reason)
    parked_rest = tuple(p for p in mt.parked if p.key != event.key)
    return replace(mt, parts=_with_part(mt, event.part, linked), parked=parked_rest), Outcome.APPLIED


def _on_submit_rejected(mt: Mt, event: SubmitRejected) -> tuple[Mt, Outcome]:
    if not 0 <= event.part < len(mt.parts):
        return mt, Outcome.BAD_PART
    part, reason = mt.parts[event.part], f"submit refused: {event.status}"
    if part.state is MtState.REJECTED:
        return mt, Outcome.DUPLICATE if part.reason == reason else Outcome.CONFLICT
    if part.key is not None:
        return mt, Outcome.CONFLICT
    if part.state.is_final:
        return mt, Outcome.LATE
    refused = replace(part, state=MtState.REJECTED, reason=reason)
    return replace(mt, parts=_with_part(mt, event.part, refused)), Outcome.APPLIED


def _receive(part: Part, status: DlrStatus, reason: str) -> tuple[Part, Outcome]:
    """A receipt on a linked part: the first final state wins, intermediates only note progress."""
    if part.state.is_final:
        if not status.is_final or part.timed_out:
            return part, Outcome.LATE
        return part, Outcome.DUPLICATE if _FINAL_FOR[status] is part.state else Outcome.CONFLICT
    if status.is_final:
        return replace(part, state=_FINAL_FOR[status], reason=reason), Outcome.APPLIED
    if part.progress is status:
        return part, Outcome.DUPLICATE
    return replace(part, progress=status), Outcome.APPLIED


def _merge_parked(parked: ParkedReceipt, status: DlrStatus, reason: str) -> tuple[ParkedReceipt, Outcome]:
    """The same rule as :func:`_receive` for a receipt waiting for its link."""
    if parked.status.is_final:
        if not status.is_final:
            return parked, Outcome.LATE
        return parked, Outcome.DUPLICATE if parked.status is status else Outcome.CONFLICT
    if parked.status is status:
        return parked, Outcome.DUPLICATE
    return ParkedReceipt(parked.key, status, reason), Outcome.PARKED


def _on_receipt(mt: Mt, event: ReceiptReceived) -> tuple[Mt, Outcome]:
    for index, part in enumerate(mt.parts):
        if part.key == event.key:
            updated, outcome = _receive(part, event.status, event.reason)
            return (replace(mt, parts=_with_part(mt, index, updated)) if updated is not part else mt), outcome
    return _park(mt, event)


def _park(mt: Mt, event: ReceiptReceived) -> tuple[Mt, Outcome]:
    if mt.is_final or not any(part.awaiting_response for part in mt.parts):
        return mt, Outcome.UNKNOWN_ID
    for index, parked in enumerate(mt.parked):
        if parked.key == event.key:
            merged, outcome = _merge_parked(parked, event.status, event.reason)
            rest = (*mt.parked[:index], merged, *mt.parked[index + 1 :])
            return (replace(mt, parked=rest) if merged is not parked else mt), outcome
    if len(mt.parked) >= len(mt.parts):
        return mt, Outcome.UNKNOWN_ID  # more distinct ids than parts: not all of them are ours
    added = ParkedReceipt(event.key, event.status, event.reason)
    return replace(mt, parked=(*mt.parked, added)), Outcome.PARKED


def _expired(part: Part) -> Part:
    if part.settled:
        return part
    why = "no submit response" if part.key is None else "no final receipt"
    return replace(part, state=MtState.EXPIRED, reason=f"{why} before the deadline", timed_out=True)


def _on_expiry(mt: Mt, event: ExpiryDue) -> tuple[Mt, Outcome]:
    if mt.is_final:
        return mt, Outcome.DUPLICATE if mt.state is MtState.EXPIRED else Outcome.LATE
    if event.now_ms < mt.expires_at_ms:
        return mt, Outcome.NOT_DUE
    return replace(mt, parts=tuple(_expired(part) for part in mt.parts)), Outcome.APPLIED


def _settle(mt: Mt, now_ms: int) -> Mt:
    """Recompute the MT state from its parts; final once every part is settled."""
    parts = mt.parts
    if not all(part.settled for part in parts):
        if all(part.state is MtState.QUEUED for part in parts):
            return replace(mt, state=MtState.QUEUED)
        waiting = any(part.awaiting_response for part in parts)
        return replace(mt, state=MtState.SENT if waiting else MtState.ACCEPTED)
    verdicts = [part.verdict for part in parts]
    state = next(s for s in _WORST_FIRST if s in verdicts)
    reason = next(part.reason for part in parts if part.verdict is state)
    return replace(mt, state=state, reason=reason, final_at_ms=now_ms, parked=())


def expiry_due(mt: Mt, now_ms: int) -> bool:
    """Whether a scheduler should feed :class:`ExpiryDue` now."""
    return not mt.is_final and now_ms >= mt.expires_at_ms


# --- what the end of an MT means for billing and for the partner ----------------------------------------


class BillingAction(StrEnum):
    POST_PENDING = "post_pending"  # make the pending charge final
    VOID_PENDING = "void_pending"  # release it: the subscriber is not charged
    NONE = "none"


_MT_BILLING: Final = MappingProxyType(
    {
        MtState.DELIVERED: BillingAction.POST_PENDING,
        MtState.UNDELIVERED: BillingAction.VOID_PENDING,
        MtState.EXPIRED: BillingAction.VOID_PENDING,
        MtState.REJECTED: BillingAction.VOID_PENDING,
    }
)


def billing_action(model: BillingModel, state: MtState) -> BillingAction:
    """For the billed MT of an MT-billed service: post on delivery, void on any other end.

    MO-billing charged at the MO, so an MT's fate moves no money; nor does a state that is not final.
    """
    if model is not BillingModel.MT:
        return BillingAction.NONE
    return _MT_BILLING.get(state, BillingAction.NONE)


_PARTNER_STATUS: Final = MappingProxyType(
    {
        MtState.ACCEPTED: DlrStatus.ACCEPTED,
        MtState.DELIVERED: DlrStatus.DELIVERED,
        MtState.UNDELIVERED: DlrStatus.UNDELIVERED,
        MtState.EXPIRED: DlrStatus.EXPIRED,
        MtState.REJECTED: DlrStatus.REJECTED,
    }
)


def partner_status(state: MtState) -> DlrStatus | None:
    """The DLR state a partner is told for an MT state (None: nothing to report yet)."""
    return _PARTNER_STATUS.get(state)
