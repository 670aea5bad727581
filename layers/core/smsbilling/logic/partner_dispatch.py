"""Partner delivery: one ``MoRouted`` command in, the MO delivered (or retried, or dead-lettered) out.

For the routed MO, its service and its partner, by the service's handler kind:

* HTTP (``http_get``, ``http_post_sync``, ``http_post_async``): one signed attempt
  (:func:`~smsbilling.logic.partner_delivery.deliver_mo`), then
  :func:`~smsbilling.domain.handler_protocol.plan_next` decides:

  - finished: a sync reply becomes ``MtRequested(purpose=reply)`` (billed when the MO's short
    number is MT-billed and the handler did not say ``free``); an async handler's reply comes later
    through the partner API (:func:`request_reply`);
  - retry later: ``MoRouted(attempt + 1)`` goes back on the delivery queue with the planned delay;
  - dead letter: the command goes to the delivery DLQ with the reason.

* SMPP: an :class:`~smsbilling.domain.outbox.OutboxItem` for the service's bind; the bridge sends it
  as ``deliver_sm`` while the partner is bound.

Idempotency, and why it is shaped so. Delivery to a partner is **at least once**: nothing is
marked before the HTTP call (a Lambda dying mid-call would leave a marker and lose the MO), so a
redelivered command whose outcome was not recorded yet calls the handler again, with the same
``message_id`` (partners deduplicate on it, docs/partner-callbacks.md). Every outcome is recorded
*after* its effects are queued (reply, retry, DLQ, outbox), and a settled outcome (delivered,
queued) is never overwritten, so once it is recorded a redelivery calls no one. A dead letter is
not settled: a command staff redrive from the DLQ is tried again (one attempt when its retries
had run out; a success then settles it). The reply MT's id is derived from
the MO id, and the reply itself is claimed first-writer-wins (:class:`ReplyRecord`): however often
the handler is called or the API retried, one reply MT exists, and a repeat re-sends the same one.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import ValidationError

from smsbilling.contracts import MoRouted, MtPurpose, MtRequested
from smsbilling.domain.delivery_log import (
    REASON_CHARS_MAX,
    DeliveryRecord,
    DeliveryState,
    ReplyRecord,
    reply_mt_id,
)
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
)
from smsbilling.domain.handler_protocol import Billing, DeadLetter, Finished, HandlerMo, RetryLater, plan_next
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.domain.text.coding import DATA_CODING, encode_text
from smsbilling.domain.text.segments import choose_alphabet
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.logic.partner_delivery import DeliveryRequest, deliver_mo
from smsbilling.ports import HttpClient, OutboxStore
from smsbilling.settings import PartnerDeliveryLimits

_LEASE_MARGIN_S = 5.0  # a call's lease: the request timeout plus this (the function's own overhead)


class MoReader(Protocol):
    def get(self, message_id: str) -> StoredMo | None: ...


class DeliveryLog(Protocol):
    """``adapters.dynamodb_delivery_log`` / ``memory_delivery_log`` (tests/contract)."""

    def get(self, message_id: str) -> DeliveryRecord | None: ...

    def record(self, record: DeliveryRecord) -> bool:
        """Store the outcome unless a settled one is stored (then False, nothing written)."""
        ...

    def claim_call(self, record: DeliveryRecord, *, now: datetime) -> bool:
        """Store ``record`` (``CALLING``, with its lease) unless a settled one is stored or another
        call's lease runs past ``now`` (then False, nothing written): one caller at a time."""
        ...

    def claim_reply(self, reply: ReplyRecord) -> ReplyRecord:
        """Store the reply unless one is stored; return the stored one either way."""
        ...


class DispatchEvents(Protocol):
    def publish_mt_requested(self, command: MtRequested) -> None: ...

    def publish_mo_routed(self, command: MoRouted, *, delay_s: int = 0) -> None: ...


class DeadLetters(Protocol):
    def dead_letter(self, command: MoRouted, reason: str, detail: str) -> None: ...


class MoNotDecided(Exception):
    """The MO processor publishes ``MoRouted`` before it writes its decision: look again soon."""


class Disposition(StrEnum):
    DELIVERED = "delivered"
    QUEUED = "queued"
    RETRY = "retry"
    DEAD = "dead"
    ALREADY_DONE = "already_done"


@dataclass(frozen=True)
class DispatchResult:
    disposition: Disposition
    reason: str = ""
    reply_mt_id: str | None = None
    delay_s: int | None = None


def handler_mo(mo: StoredMo, service: PartnerService) -> HandlerMo:
    """The MO as the partner's handler receives it (E.164 with '+', the whole decoded text)."""
    msisdn = mo.msisdn or mo.source.lstrip("+")
    return HandlerMo(
        message_id=mo.message_id,
        msisdn=f"+{msisdn}",
        short_number=mo.short_number or mo.destination,
        text=mo.full_text if mo.full_text is not None else mo.text,
        operator_id=mo.operator_id,
        received_at=mo.received_at,
        is_test=mo.is_test,
        service_id=service.service_id,
        prefix=mo.prefix or service.prefix,
    )


def reply_command(mo: StoredMo, reply: ReplyRecord) -> MtRequested:
    """The reply MT to ``mo``: the same command for the same stored reply, every time."""
    return MtRequested(
        message_id=reply.mt_id,
        purpose=MtPurpose.REPLY,
        partner_id=mo.partner_id,
        service_id=mo.service_id,
        in_reply_to=mo.message_id,
        operator_id=mo.operator_id,
        link_id=mo.link_id,
        source=mo.short_number or mo.destination,
        destination=mo.msisdn or mo.source.lstrip("+"),
        text=reply.text,
        billed=reply.billed,
        requested_at=reply.requested_at,
    )


def outbox_item(mo: StoredMo, system_id: str) -> OutboxItem:
    """The MO for an SMPP partner: GSM 7-bit when it fits, else UCS-2; keyed by the MO so a
    repeated put is the same item (``created_at`` is the MO's own time, part of the store's key)."""
    text = mo.full_text if mo.full_text is not None else mo.text
    alphabet = choose_alphabet(text)
    return OutboxItem(
        item_id=f"mo-{mo.message_id}",
        message_id=mo.message_id,
        system_id=system_id,
        kind=OutboxKind.MO,
        created_at=mo.received_at,
        source=mo.msisdn or mo.source.lstrip("+"),
        destination=mo.short_number or mo.destination,
        data_coding=DATA_CODING[alphabet],
        short_message_hex=encode_text(text, alphabet).hex(),
    )


@dataclass
class PartnerDispatcher:
    mos: MoReader
    entities: EntityReader
    log: DeliveryLog
    outbox: OutboxStore
    events: DispatchEvents
    dead_letters: DeadLetters
    client: HttpClient
    limits: PartnerDeliveryLimits
    random: Callable[[], float] = field(default=_random.random)

    def dispatch(self, command: MoRouted, *, now: datetime) -> DispatchResult:
        """Deliver once, schedule the retry or dead-letter; raises only MoNotDecided and store errors."""
        mo = self.mos.get(command.message_id)
        if mo is None:
            return self._dead(command, None, now, reason="mo not found", detail="no stored MO with this id")
        if not mo.state.is_final:
            raise MoNotDecided(command.message_id)
        done = self.log.get(mo.message_id)
        if done is not None and done.state.is_settled:
            return DispatchResult(Disposition.ALREADY_DONE, done.state.value, done.reply_mt_id)
        target = self._target(command, mo)
        if isinstance(target, str):
            return self._dead(command, mo, now, reason="not deliverable", detail=target)
        service, partner = target
        if service.handler_kind is HandlerKind.SMPP:
            return self._queue_smpp(command, mo, service, now)
        return self._deliver_http(command, mo, service, partner, now)

    def _deliver_http(
        self, command: MoRouted, mo: StoredMo, service: PartnerService, partner: Partner, now: datetime
    ) -> DispatchResult:
        try:
            request = DeliveryRequest.for_service(handler_mo(mo, service), service, command.attempt)
        except ValidationError as error:
            detail = f"{error.error_count()} invalid MO field(s)"
            return self._dead(command, mo, now, reason="not deliverable", detail=detail)
        if not self._claim_call(command, mo, now):
            return DispatchResult(Disposition.ALREADY_DONE, "another attempt is calling the handler")
        result = deliver_mo(
            request,
            client=self.client,
            secrets=partner.callback_secrets,
            now=int(now.timestamp()),
            limits=self.limits,
        )
        step = plan_next(result, command.attempt, limits=self.limits, random=self.random)
        if isinstance(step, RetryLater):
            retry = command.model_copy(update={"attempt": step.attempt})
            self.events.publish_mo_routed(retry, delay_s=step.delay_s)
            reason = step.last.reason.value
            self._record(mo, DeliveryState.RETRYING, command, now, reason=reason, status=result.status)
            return DispatchResult(Disposition.RETRY, reason, delay_s=step.delay_s)
        if isinstance(step, DeadLetter):
            reason, detail = step.reason.value, step.last.detail
            return self._dead(command, mo, now, reason=reason, detail=detail, status=result.status)
        return self._finished(command, mo, step, now)

    def _target(self, command: MoRouted, mo: StoredMo) -> tuple[PartnerService, Partner] | str:
        """The service and partner to deliver to, or why there is none."""
        if mo.state is not MoState.ROUTED or mo.service_id != command.service_id:
            return f"the MO is {mo.state.value} (service {mo.service_id}), not routed to {command.service_id}"
        service = self.entities.get(PartnerService, command.service_id)
        if service is None or service.status is not ServiceStatus.ACTIVE:
            return f"service {command.service_id} is {service.status.value if service else 'missing'}"
        partner = self.entities.get(Partner, service.partner_id)
        if partner is None or partner.status is PartnerStatus.SUSPENDED:
            return f"partner {service.partner_id} is {partner.status.value if partner else 'missing'}"
        return service, partner

    def _finished(self, command: MoRouted, mo: StoredMo, step: Finished, now: datetime) -> DispatchResult:
        answer = step.result.answer
        reason = step.result.reason.value
        mt_id = None
        if answer is not None and answer.reply_text:
            billed = mo.billing_model is BillingModel.MT and answer.billing is not Billing.FREE
            mine = ReplyRecord(
                message_id=mo.message_id,
                mt_id=reply_mt_id(mo.message_id),
                text=answer.reply_text,
                billed=billed,
                origin="handler",
                requested_at=now,
            )
            stored = self.log.claim_reply(mine)
            self.events.publish_mt_requested(reply_command(mo, stored))
            mt_id = stored.mt_id
            if stored.text != mine.text:
                reason = f"a reply was already requested ({stored.origin}); this answer is not sent"
        status = step.result.status
        self._record(
            mo, DeliveryState.DELIVERED, command, now, reason=reason, status=status, reply_mt_id=mt_id
        )
        return DispatchResult(Disposition.DELIVERED, reason, mt_id)

    def _queue_smpp(
        self, command: MoRouted, mo: StoredMo, service: PartnerService, now: datetime
    ) -> DispatchResult:
        if not service.smpp_system_id:
            detail = f"service {service.service_id} has no SMPP bind"
            return self._dead(command, mo, now, reason="not deliverable", detail=detail)
        try:
            item = outbox_item(mo, service.smpp_system_id)
        except (ValidationError, ValueError) as error:
            detail = f"cannot encode for SMPP: {error}"[:REASON_CHARS_MAX]
            return self._dead(command, mo, now, reason="not deliverable", detail=detail)
        self.outbox.put(item)
        self._record(mo, DeliveryState.QUEUED, command, now, reason="in the partner's outbox")
        return DispatchResult(Disposition.QUEUED, item.system_id)

    def _dead(
        self,
        command: MoRouted,
        mo: StoredMo | None,
        now: datetime,
        *,
        reason: str,
        detail: str,
        status: int | None = None,
    ) -> DispatchResult:
        self.dead_letters.dead_letter(command, reason, detail)
        if mo is not None:
            why = f"{reason}: {detail}" if detail else reason
            self._record(mo, DeliveryState.DEAD, command, now, reason=why, status=status)
        return DispatchResult(Disposition.DEAD, reason)

    def _claim_call(self, command: MoRouted, mo: StoredMo, now: datetime) -> bool:
        """Hold the handler for this attempt: a duplicate ``MoRouted`` (at-least-once queues, two MO
        processors racing on one redelivered MO) finds the lease and leaves. The lease outlasts the
        request; an attempt that dies holding it is redelivered by SQS only after it has run out."""
        lease = timedelta(seconds=self.limits.request_timeout_s + _LEASE_MARGIN_S)
        calling = DeliveryRecord(
            message_id=mo.message_id,
            state=DeliveryState.CALLING,
            attempts=command.attempt,
            updated_at=now,
            lease_until=now + lease,
        )
        return self.log.claim_call(calling, now=now)

    def _record(
        self,
        mo: StoredMo,
        state: DeliveryState,
        command: MoRouted,
        now: datetime,
        *,
        reason: str,
        status: int | None = None,
        reply_mt_id: str | None = None,
    ) -> None:
        self.log.record(
            DeliveryRecord(
                message_id=mo.message_id,
                state=state,
                attempts=command.attempt,
                reason=reason[:REASON_CHARS_MAX],
                http_status=status if status is not None and 100 <= status <= 599 else None,
                reply_mt_id=reply_mt_id,
                updated_at=now,
            )
        )


# --- async replies (the partner API) ---------------------------------------------------------------


class ReplyRejected(Exception):
    """A reply the API refuses: ``status`` and ``code`` for the problem answer."""

    def __init__(self, status: int, code: str, detail: str, mt_id: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.mt_id = mt_id


def request_reply(
    message_id: str,
    text: str,
    *,
    partner_id: str,
    mos: MoReader,
    log: DeliveryLog,
    events: DispatchEvents,
    limits: PartnerDeliveryLimits,
    now: datetime,
) -> ReplyRecord:
    """Request the reply MT to one of the partner's routed MOs (its async handler's answer).

    The same text again is the same request (the same MT id, re-sent harmlessly); another text
    after a reply was requested is a conflict. Another partner's MO is "not found", like no MO.
    """
    mo = mos.get(message_id)
    if mo is None or mo.partner_id != partner_id:
        raise ReplyRejected(404, "not_found", "No such message.")
    if mo.state is not MoState.ROUTED:
        raise ReplyRejected(
            409, "not_routed", f"The message is {mo.state.value}; only routed messages get replies."
        )
    cleaned = text.replace("\r\n", "\n").strip()
    if not cleaned or len(cleaned) > limits.reply_chars_max:
        raise ReplyRejected(
            422, "invalid_text", f"The text must be 1 to {limits.reply_chars_max} characters."
        )
    mine = ReplyRecord(
        message_id=mo.message_id,
        mt_id=reply_mt_id(mo.message_id),
        text=cleaned,
        billed=mo.billing_model is BillingModel.MT,
        origin="api",
        requested_at=now,
    )
    stored = log.claim_reply(mine)
    events.publish_mt_requested(reply_command(mo, stored))  # again: repairs a crash after the claim
    if stored.text != mine.text:
        raise ReplyRejected(
            409, "reply_exists", "Another reply was already requested for this message.", stored.mt_id
        )
    return stored
