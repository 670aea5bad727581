"""The MT-events processor: submit results and receipts onto ``MT#`` records, then settle the end.

What the DLR queue carries (``contracts.MtEvent``):

* ``SubmitResult`` (the bridge, or the MT processor for HTTP links). Accepted: the operator id's
  correlation key (``dlr.submit_id_key`` with the link's ``dlr_id_format``) is claimed on the
  ``OPID#`` item, and ``SubmitAccepted`` goes onto the MT together with any final receipt that
  arrived first and waits on that item. Refused for good: ``SubmitRejected``. Refused for now
  (the sender retries): nothing.
* ``DlrReceived`` (operator HTTP, the bridge). The receipt's key (``dlr.receipt_id_key``) finds the
  MT part on the ``OPID#`` item. Not linked yet (the receipt overtook its submit result): a final
  receipt waits on the item (ADR 0003 §8: whichever of the two comes second applies it) and the
  record is acknowledged; an intermediate one is dropped (it only ever noted progress). When
  ``mt_receipts_parked_max`` receipts wait already, the record fails and SQS redelivers it later,
  bounded by the queue's redrive (then the DLQ: an operator sending receipts for ids that are not
  ours). Repeats are no-ops: the lifecycle calls them ``DUPLICATE``.
* ``NotifyMtStatus``: settle a final MT and tell the partner (again).

**Expiry** is ours (ADR 0003): :meth:`MtEventsProcessor.expire_due`, run on a schedule, feeds
``ExpiryDue`` to every MT past ``mt_final_wait_s`` that is not final (read from the store's expiry
index), which settles it as ``expired`` like any other end, including an MT whose sending never
succeeded (its command in the MT dead-letter queue).

**Settling** a final MT, in this order, each step recorded on the MT so a redelivery finishes what
a crash left: (1) billing, for the billed MT only: ``billing_action`` -> ``Charger.confirm_mt``
(delivered) or ``cancel_mt`` (any other end), both idempotent on the MT id; for an API send
from credits, ``settle_credits`` instead (the parts an operator accepted are consumed, the rest
refunded: domain/sms_credits.py); (2) the partner: an
``OutboxItem`` RECEIPT for SMPP partners (service ``handler_kind`` smpp, or an MT submitted on a
bind that asked for receipts), else a signed ``POST`` of the status to the service's
``status_url`` (docs/partner-callbacks.md). A callback that fails never holds the MT back: the
attempt is recorded and ``NotifyMtStatus(attempt + 1)`` is queued with a backoff delay, up to
``partner_delivery.attempts_max`` attempts; the command carries its number, so a repeated or
stale one does nothing.
"""

from __future__ import annotations

import contextlib
import json
import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol

from smsbilling.contracts import DlrReceived, MtPurpose, NotifyMtStatus, SubmitResult
from smsbilling.domain import mt as lifecycle
from smsbilling.domain.dlr import DlrError, DlrStatus, receipt_id_key, submit_id_key
from smsbilling.domain.entities import Entity, HandlerKind, OperatorLink, Partner, PartnerService
from smsbilling.domain.handler_protocol import (
    DeliveryResult,
    Finished,
    Outcome,
    Reason,
    RetryLater,
    TransportError,
    plan_next,
    transport_failure,
)
from smsbilling.domain.ledger import LedgerError, PostResult, TransferNotFound
from smsbilling.domain.outbox import OutboxItem, OutboxKind
from smsbilling.domain.signing import SIGNATURE_HEADER, SignatureError, sign
from smsbilling.domain.sms_credits import accepted_parts
from smsbilling.logic.mt_sending import MtConfigurationError, MtNotFound, MtWriteConflict, ms, update_record
from smsbilling.ports import (
    HttpClient,
    MtOrigin,
    MtRecord,
    MtStore,
    NotifyOutcome,
    OutboxStore,
    WaitingReceipt,
)
from smsbilling.settings import MessageLimits, PartnerDeliveryLimits

MtQueueEvent = SubmitResult | DlrReceived | NotifyMtStatus
STATUS_USER_AGENT: Final = "smsbilling-status/1"
MESSAGE_ID_HEADER: Final = "X-Smsbilling-Message-Id"
ATTEMPT_HEADER: Final = "X-Smsbilling-Delivery-Attempt"
_RD_RECEIPT_MASK: Final = 0x03  # SMPP registered_delivery bits 0-1: 1 = any final, 2 = failures only
_RD_FAILURES_ONLY: Final = 0x02


class ReceiptNotLinked(Exception):
    """A final receipt could not be kept for its submit result (too many wait); retried later."""


class EntityReader(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class MtBilling(Protocol):
    """:class:`~smsbilling.logic.charging.Charger`'s MT-billing resolution (idempotent)."""

    def confirm_mt(self, message_id: str) -> PostResult: ...

    def cancel_mt(self, message_id: str, partner_id: str) -> PostResult | None: ...

    def settle_credits(self, message_id: str, *, parts: int, accepted: int) -> PostResult | None: ...


class NotifyPublisher(Protocol):
    def publish_mt_notify(self, command: NotifyMtStatus, *, delay_s: int = 0) -> None: ...


@dataclass(frozen=True)
class _Now:
    at: datetime
    time_left_s: Callable[[], float]


@dataclass(frozen=True)
class ExpirySweep:
    expired: int  # MTs this run made final
    failed: int  # MTs left for the next run


@dataclass(frozen=True)
class Handled:
    """What one queue message did, for the log: the MT, what the lifecycle said, the end if any."""

    message_id: str | None
    outcomes: tuple[str, ...]
    state: str | None = None


def status_callback_body(record: MtRecord) -> bytes:
    """The JSON a partner's ``status_url`` receives for a final MT (docs/partner-callbacks.md)."""
    status = lifecycle.partner_status(record.mt.state)
    final_at = record.mt.final_at_ms
    values = {
        "schema_version": 1,
        "message_id": record.message_id,
        "status": status.value if status else record.mt.state.value,
        "reason": record.mt.reason,
        "in_reply_to": record.in_reply_to,
        "service_id": record.service_id,
        "purpose": record.purpose.value if record.purpose else None,
        "source": record.source,
        "destination": record.destination,
        "parts": len(record.mt.parts),
        "billed": record.billed,
        "final_at": _iso(final_at) if final_at is not None else None,
    }
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _reason(event: DlrReceived) -> str:
    return f"{event.status.value} err:{event.error_code}" if event.error_code else event.status.value


@dataclass(frozen=True)
class MtEventsProcessor:
    store: MtStore
    entities: EntityReader
    billing: MtBilling
    callbacks: HttpClient
    outbox: OutboxStore
    events: NotifyPublisher
    limits: MessageLimits
    delivery: PartnerDeliveryLimits
    random: Callable[[], float] = field(default=_random.random)

    def handle(
        self, event: MtQueueEvent, *, now: datetime, time_left_s: Callable[[], float] | None = None
    ) -> Handled:
        """Apply one queue message; ``time_left_s`` (the function's remaining time) defers callbacks."""
        return self._handle(event, _Now(now, time_left_s or (lambda: float("inf"))))

    def _handle(self, event: MtQueueEvent, now: _Now) -> Handled:
        match event:
            case SubmitResult():
                return self._submit_result(event, now)
            case DlrReceived():
                return self._receipt(event, now)
            case NotifyMtStatus():
                return self._notify_command(event, now)

    def expire_due(self, *, now: datetime, limit: int) -> ExpirySweep:
        """Settle as ``expired`` every MT past its deadline (up to ``limit``): the scheduled sweep.

        Billing is settled here (a billed MT's charge is voided); partner callbacks are queued as
        ``NotifyMtStatus`` rather than made, so one slow partner never stalls the sweep. An MT that
        fails (a busy ledger) is counted and left for the next run.
        """
        clock = _Now(now, lambda: 0.0)
        expired = failed = 0
        for message_id in self.store.expired(ms(now), limit):
            try:
                handled = self._applied(message_id, [lifecycle.ExpiryDue(ms(now))], clock)
            except (MtNotFound, MtWriteConflict, LedgerError):
                failed += 1
                continue
            if handled.outcomes == (lifecycle.Outcome.APPLIED.value,):
                expired += 1
        return ExpirySweep(expired=expired, failed=failed)

    # --- submit results ---------------------------------------------------------------------------

    def _link(self, link_id: str) -> OperatorLink:
        link = self.entities.get(OperatorLink, link_id)
        if link is None:
            raise MtConfigurationError(f"link {link_id} is not configured")
        return link

    def _submit_result(self, event: SubmitResult, now: _Now) -> Handled:
        record = self.store.get(event.message_id)
        if record is None:
            raise MtNotFound(f"submit result for unknown MT {event.message_id}")
        at = ms(now.at)
        if not event.accepted and not event.permanent:
            return Handled(record.message_id, ("transient_refusal",), record.mt.state.value)
        if not event.accepted or not event.operator_message_id:
            error = event.error or "accepted without an operator message id"
            return self._applied(
                record.message_id, [lifecycle.SubmitRejected(event.part_index, error, at)], now
            )
        link = self._link(event.link_id)
        try:
            key = submit_id_key(event.operator_message_id, link.dlr_id_format)
        except DlrError as error:
            raise MtConfigurationError(f"unusable operator id from {event.link_id}: {error}") from None
        item = self.store.link(
            link.link_id, key, record.message_id, event.part_index, expires_at_s=self._keep_until_s(record)
        )
        steps: list[lifecycle.MtEvent] = [
            lifecycle.SubmitAccepted(event.part_index, event.operator_message_id, key, at)
        ]
        if item.message_id != record.message_id or item.part_index != event.part_index:
            # the operator gave this id to another of our parts: its receipts go there (logged)
            return self._applied(record.message_id, steps, now, extra=("id_held_by_another_part",))
        steps += [lifecycle.ReceiptReceived(key, r.status, r.reason, at) for r in item.receipts]
        return self._applied(record.message_id, steps, now)

    def _keep_until_s(self, record: MtRecord) -> int:
        return record.mt.expires_at_ms // 1000 + self.limits.mt_correlation_keep_s

    # --- receipts ---------------------------------------------------------------------------------

    def _receipt(self, event: DlrReceived, now: _Now) -> Handled:
        link = self._link(event.link_id)
        try:
            key = receipt_id_key(event.operator_message_id, link.dlr_id_format)
        except DlrError:
            return Handled(None, ("unreadable_operator_id",))
        item = self.store.correlation(link.link_id, key)
        if item is None or item.message_id is None:
            if not event.status.is_final:
                return Handled(None, ("unlinked_intermediate_dropped",))
            keep_until = ms(now.at) // 1000 + self.limits.mt_final_wait_s + self.limits.mt_correlation_keep_s
            item = self.store.add_receipt(
                link.link_id,
                key,
                WaitingReceipt(receipt_id=event.receipt_id, status=event.status, reason=_reason(event)),
                expires_at_s=keep_until,
                receipts_max=self.limits.mt_receipts_parked_max,
            )
            if item is None:
                raise ReceiptNotLinked(f"{link.link_id}/{key}: receipts wait for a submit result already")
            if item.message_id is None:
                return Handled(None, ("waiting_for_submit_result",))
        step = lifecycle.ReceiptReceived(key, event.status, _reason(event), ms(now.at))
        return self._applied(item.message_id, [step], now)

    # --- the lifecycle ----------------------------------------------------------------------------

    def _applied(
        self, message_id: str, steps: Sequence[lifecycle.MtEvent], now: _Now, extra: tuple[str, ...] = ()
    ) -> Handled:
        outcomes: list[str] = []

        def change(record: MtRecord) -> MtRecord:
            outcomes.clear()
            mt = record.mt
            for step in steps:
                transition = lifecycle.apply(mt, step)
                outcomes.append(transition.outcome.value)
                mt = transition.mt
            return record.model_copy(update={"mt": mt})

        record = update_record(
            self.store, message_id, change, retries_max=self.limits.mt_write_conflict_retries_max
        )
        record = self._settle(record, now, attempt=1)
        return Handled(message_id, (*outcomes, *extra), record.mt.state.value)

    def _notify_command(self, command: NotifyMtStatus, now: _Now) -> Handled:
        record = self.store.get(command.message_id)
        if record is None:
            raise MtNotFound(f"notify for unknown MT {command.message_id}")
        if not record.mt.is_final:
            return Handled(record.message_id, ("not_final",), record.mt.state.value)
        record = self._settle(record, now, attempt=command.attempt)
        return Handled(record.message_id, (f"notify_{record.notified or 'pending'}",), record.mt.state.value)

    # --- settling ---------------------------------------------------------------------------------

    def _settle(self, record: MtRecord, now: _Now, *, attempt: int) -> MtRecord:
        """Billing, then the partner; each step once, recorded on the MT."""
        if not record.mt.is_final:
            return record
        if record.billed and not record.billing_done:
            record = self._bill(record)
        elif record.purpose is MtPurpose.API and not record.billing_done:
            record = self._settle_credits(record)
        if record.notified is None and attempt > record.notify_attempts:
            record = self._notify(record, attempt, now)
        return record

    def _bill(self, record: MtRecord) -> MtRecord:
        action = lifecycle.billing_action(record.billing_model, record.mt.state)
        if action is lifecycle.BillingAction.POST_PENDING:
            with contextlib.suppress(TransferNotFound):  # a free message posted no charge to confirm
                self.billing.confirm_mt(record.message_id)
        elif action is lifecycle.BillingAction.VOID_PENDING:
            self.billing.cancel_mt(record.message_id, record.partner_id or "")
        return update_record(
            self.store,
            record.message_id,
            lambda r: r.model_copy(update={"billing_done": True}),
            retries_max=self.limits.mt_write_conflict_retries_max,
        )

    def _settle_credits(self, record: MtRecord) -> MtRecord:
        """An API send: its reserved credits are consumed for the parts an operator accepted."""
        self.billing.settle_credits(
            record.message_id, parts=len(record.mt.parts), accepted=accepted_parts(record.mt)
        )
        return update_record(
            self.store,
            record.message_id,
            lambda r: r.model_copy(update={"billing_done": True}),
            retries_max=self.limits.mt_write_conflict_retries_max,
        )

    def _notify(self, record: MtRecord, attempt: int, now: _Now) -> MtRecord:
        outcome, error, retry_in_s = self._tell_partner(record, attempt, now)
        if outcome is None and retry_in_s is None:  # deferred, not tried: the same attempt, at once
            self.events.publish_mt_notify(NotifyMtStatus(message_id=record.message_id, attempt=attempt))
            return record
        if outcome is None and retry_in_s is not None:
            # queued before it is recorded: a crash in between leaves a command that still counts
            self.events.publish_mt_notify(
                NotifyMtStatus(message_id=record.message_id, attempt=attempt + 1), delay_s=retry_in_s
            )

        def change(current: MtRecord) -> MtRecord | None:
            if current.notified is not None or current.notify_attempts >= attempt:
                return None
            update = {"notify_attempts": attempt, "notified": outcome, "notify_error": error[:200]}
            return current.model_copy(update=update)

        return update_record(
            self.store, record.message_id, change, retries_max=self.limits.mt_write_conflict_retries_max
        )

    def _tell_partner(
        self, record: MtRecord, attempt: int, now: _Now
    ) -> tuple[NotifyOutcome | None, str, int | None]:
        """(outcome, error, retry delay): None with a delay is "try again then", without one "not now"."""
        status = lifecycle.partner_status(record.mt.state)
        if record.partner_id is None or status is None:
            return NotifyOutcome.SKIPPED, "", None
        if record.origin is MtOrigin.SMPP:
            return self._receipt_to_bind(
                record, status, record.partner_system_id, record.partner_registered_delivery
            )
        service = self.entities.get(PartnerService, record.service_id) if record.service_id else None
        if service is None:
            return NotifyOutcome.SKIPPED, "no service", None
        if service.handler_kind is HandlerKind.SMPP and service.smpp_system_id:
            return self._receipt_to_bind(record, status, service.smpp_system_id, 1)
        if not service.status_url:
            return NotifyOutcome.SKIPPED, "no status_url", None
        return self._callback(record, service.status_url, attempt, now)

    def _receipt_to_bind(
        self, record: MtRecord, status: DlrStatus, system_id: str | None, registered_delivery: int
    ) -> tuple[NotifyOutcome | None, str, int | None]:
        asked = registered_delivery & _RD_RECEIPT_MASK
        if system_id is None or asked == 0 or (asked == _RD_FAILURES_ONLY and status is DlrStatus.DELIVERED):
            return NotifyOutcome.SKIPPED, "no receipt asked for", None
        final_at = datetime.fromtimestamp((record.mt.final_at_ms or 0) / 1000, tz=UTC)
        self.outbox.put(
            OutboxItem(
                item_id=f"dlr-{record.message_id}-{status.value}",
                message_id=record.message_id,
                system_id=system_id,
                kind=OutboxKind.RECEIPT,
                created_at=final_at,  # fixed by the MT, so a repeated put is the same item
                source=record.destination[:21],
                destination=record.source[:21],
                receipt_status=status,
                submitted_at=record.created_at,
            )
        )
        return NotifyOutcome.SENT, "", None

    def _callback(
        self, record: MtRecord, url: str, attempt: int, now: _Now
    ) -> tuple[NotifyOutcome | None, str, int | None]:
        if now.time_left_s() < self.delivery.request_timeout_s + self.limits.mt_deadline_margin_s:
            return None, "", None
        partner = self.entities.get(Partner, record.partner_id or "")
        body = status_callback_body(record)
        try:
            signature = sign(body, partner.callback_secrets if partner else (), int(now.at.timestamp()))
        except SignatureError as error:
            return NotifyOutcome.FAILED, f"{Reason.NO_SIGNING_SECRET.value}: {error.failure.value}", None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": STATUS_USER_AGENT,
            SIGNATURE_HEADER: signature,
            MESSAGE_ID_HEADER: record.message_id,
            ATTEMPT_HEADER: str(attempt),
        }
        try:
            raw = self.callbacks.send(
                "POST",
                url,
                headers,
                body,
                timeout_s=self.delivery.request_timeout_s,
                body_bytes_max=self.delivery.response_body_bytes_max,
            )
            result = _callback_result(raw.status)
        except TransportError as error:
            result = transport_failure(error)
        step = plan_next(result, attempt, limits=self.delivery, random=self.random)
        if isinstance(step, Finished):
            return NotifyOutcome.SENT, "", None
        error_text = (
            f"{result.reason.value}{f' (http {result.status})' if result.status else ''} {result.detail}"
        )
        if isinstance(step, RetryLater):
            return None, error_text.strip(), step.delay_s
        return NotifyOutcome.FAILED, error_text.strip(), None


def _callback_result(status: int) -> DeliveryResult:
    """A status callback needs only a 2xx; 408, 429 and 5xx are retried, anything else is final."""
    if 200 <= status < 300:
        return DeliveryResult(Outcome.SUCCESS, Reason.OK, status)
    if status == 408:
        return DeliveryResult(Outcome.RETRYABLE, Reason.REQUEST_TIMEOUT, status)
    if status == 429:
        return DeliveryResult(Outcome.RETRYABLE, Reason.RATE_LIMITED, status)
    if status >= 500:
        return DeliveryResult(Outcome.RETRYABLE, Reason.SERVER_ERROR, status)
    reason = Reason.REDIRECT if 300 <= status < 400 else Reason.REJECTED
    return DeliveryResult(Outcome.PERMANENT, reason, status)
