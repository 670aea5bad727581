"""The MT processor: turn an MT command into an ``MT#`` record, charge it, hand its parts to a link.

One command in (``MtRequested``: the platform writes the text; ``SendMt``: a partner's SMPP submit),
then, each step idempotent on the MT id, so a redelivered command or a crash at any point is
repaired by the queue's next delivery:

1. **Create** the record (put-if-absent): the text encoded and cut (GSM 7-bit 160/153, UCS-2
   70/67, never splitting an escape or surrogate pair). What is the sender's fault (a text too
   long or unencodable, an unknown destination, a blacklisted subscriber) creates the MT already
   ``rejected``, and ``NotifyMtStatus`` asks the MT-events processor to tell the partner; what is
   the platform's (an unknown operator, no usable link, no tariff) raises
   :class:`MtConfigurationError`: the record fails, is retried and, after the redrive limit, waits
   in the DLQ for the configuration to be fixed (an MT created by then expires in the sweep).
2. **Choose the link**, once: the one the command asks for (the MO's) while it is enabled and
   can send, else the first of the operator's that can; stored with the MT.
3. **Charge** a billed MT (MT-billing: pending until its DLR), keyed by the MT id
   (:class:`~smsbilling.logic.charging.Charger`), before anything is sent.
4. **Hand each part to the link.** SMPP (and the bridge's other protocols): one ``OutboundSubmit``
   per part on the outbound queue; the bridge publishes the ``SubmitResult``. HTTP: POST each part
   to the link's ``mt_url`` and publish its ``SubmitResult`` ourselves. Parts already handed are
   recorded on the MT (``handed_parts``), so a retry sends only the rest; a crash between a POST
   and that record sends a part again with the same ``message_id`` and ``part`` (operators
   deduplicate on them: docs/operator-http.md). A part the operator refuses for good refuses the
   rest unsent (the MT is rejected as a whole, and no half message reaches the handset); 5xx, 408,
   429 and timeouts raise :class:`OperatorUnavailable` and the record is retried. Then
   ``HandedToLink``: ``queued`` -> ``sent``.

The reply to a test MO (the partner API's test tool: the MO came on ``TEST_LINK_ID``, and a reply
asks for the MO's link) stops at step 1: it is created final as a simulated delivery
(domain/handler_testing.py), never charged and never sent.

Every write of the record is optimistic (``version``): :func:`update_record` re-reads and
re-applies on a conflict with the MT-events processor writing the same MT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from smsbilling.contracts import (
    DlrReceived,
    MtRequested,
    NotifyMtStatus,
    OutboundSubmit,
    SendMt,
    SubmitResult,
)
from smsbilling.domain import mt as lifecycle
from smsbilling.domain.concat import split_udh
from smsbilling.domain.entities import Entity, Operator, OperatorLink, Partner, PartnerService
from smsbilling.domain.entities import Protocol as LinkProtocol
from smsbilling.domain.handler_testing import TEST_LINK_ID, simulated_delivery
from smsbilling.domain.ledger import AccountNotFound
from smsbilling.domain.money import Money
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn
from smsbilling.domain.mt_encoding import (
    UDHI,
    EncodedMt,
    EncodingRefused,
    encode_submitted,
    encode_text,
    operator_for,
    source_ton_npi,
)
from smsbilling.domain.tariff import TariffError
from smsbilling.domain.text import TextError, alphabet_for, decode_text
from smsbilling.domain.traffic import Action, Direction, HeldMessage, HeldStatus, MessageFacts
from smsbilling.logic.blacklists import mt_refusal
from smsbilling.logic.charging import Charged
from smsbilling.logic.traffic_control import NO_GUARD, TrafficGuard
from smsbilling.logic.traffic_review import held_message, review_note
from smsbilling.ports import MtOrigin, MtRecord, MtStore, OperatorClient, OperatorPart
from smsbilling.settings import MessageLimits, OperatorMtLimits

BRIDGE_PROTOCOLS: Final = frozenset({LinkProtocol.SMPP, LinkProtocol.UCP, LinkProtocol.CIMD2})
_SMPP_CHANNEL: Final = "smpp:"

MtCommand = MtRequested | SendMt


class MtConfigurationError(Exception):
    """The platform cannot send this MT as configured; retry later (then the DLQ)."""


class OperatorUnavailable(Exception):
    """The link could not take a part now (5xx, timeout), or too little of the function's run is left
    to check the MT or send a part; the record is retried."""


class MtWriteConflict(Exception):
    """The MT record kept changing under us past the retry budget; the record is retried."""


class MtNotFound(LookupError):
    """An event names an MT the store does not hold."""


class EntityLookup(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def create(self, entity: Entity) -> None:
        """Put only if no entity has this key; raise the store's EntityExists otherwise."""
        ...

    def links_of(self, operator_id: str) -> list[OperatorLink]:
        """Every link of the operator (an index: a link written a moment ago may be missing)."""
        ...

    def operators(self) -> list[Operator]: ...


class MtPublisher(Protocol):
    def publish_mt_event(self, event: SubmitResult | DlrReceived) -> None: ...

    def publish_outbound(self, submits: Sequence[OutboundSubmit]) -> None: ...

    def publish_mt_notify(self, command: NotifyMtStatus, *, delay_s: int = 0) -> None: ...


class MtCharging(Protocol):
    """:class:`~smsbilling.logic.charging.Charger`'s charge (idempotent on ``message_id``)."""

    def charge(
        self,
        *,
        message_id: str,
        service: PartnerService,
        referrer_id: str | None,
        operator_id: str,
        short_number: str,
        at_ms: int,
        mt_billing: bool,
    ) -> Charged: ...

    def price(self, *, partner_id: str, operator_id: str, short_number: str, at_ms: int) -> Money | None: ...


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def update_record(
    store: MtStore,
    message_id: str,
    change: Callable[[MtRecord], MtRecord | None],
    *,
    retries_max: int,
) -> MtRecord:
    """Read, change, write over the version read; on a conflict read again and change again.

    ``change`` returns the new record (its version is set here) or None for "nothing to do".
    """
    for _ in range(retries_max + 1):
        record = store.get(message_id)
        if record is None:
            raise MtNotFound(message_id)
        changed = change(record)
        if changed is None or changed == record:
            return record
        written = changed.model_copy(update={"version": record.version + 1})
        if store.replace(written):
            return written
    raise MtWriteConflict(f"MT {message_id}: {retries_max + 1} conflicting writes")


# --- building the record (the encoding itself is pure: domain/mt_encoding.py) --------------------


def _encode_text(message_id: str, text: str, limits: MessageLimits) -> EncodedMt:
    return encode_text(
        message_id, text, segments_max=limits.segments_max, text_chars_max=limits.text_chars_max
    )


def _encode_submitted(command: SendMt, limits: MessageLimits) -> EncodedMt:
    return encode_submitted(
        command.message_id,
        bytes.fromhex(command.short_message_hex),
        esm_class=command.esm_class,
        data_coding=command.data_coding,
        segments_max=limits.segments_max,
        text_chars_max=limits.text_chars_max,
    )


def _refused(record: MtRecord, reason: str) -> MtRecord:
    """``record`` with every part refused for ``reason`` (an MT nothing of which is sent)."""
    mt, at_ms = record.mt, ms(record.created_at)
    for index in range(len(mt.parts)):
        mt = lifecycle.apply(mt, lifecycle.SubmitRejected(index, reason[:180], at_ms)).mt
    return record.model_copy(update={"mt": mt})


def _sends_mts(link: OperatorLink | None) -> bool:
    if link is None or not link.enabled:
        return False
    return link.protocol in BRIDGE_PROTOCOLS or (link.protocol is LinkProtocol.HTTP and bool(link.mt_url))


# --- the processor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MtSender:
    store: MtStore
    entities: EntityLookup
    events: MtPublisher
    charger: MtCharging
    operators: OperatorClient
    limits: MessageLimits
    http: OperatorMtLimits
    guard: TrafficGuard = NO_GUARD
    held_text_chars: int = 480
    guard_time_s: float = 0.0
    """The longest the guard may take (its HLR lookup): a new MT is not checked with less left."""

    def process(
        self, command: MtCommand, *, now: datetime, time_left_s: Callable[[], float] | None = None
    ) -> MtRecord:
        """Create, charge and send the MT of ``command`` (or carry on where an earlier try stopped)."""
        record = self.store.get(command.message_id)
        if record is None:
            if (
                time_left_s is not None
                and time_left_s() < self.guard_time_s + self.limits.mt_deadline_margin_s
            ):
                raise OperatorUnavailable(f"MT {command.message_id}: no time left for its traffic checks")
            record = self.store.create(self._build(command))
        if record.is_test:  # a test MO's reply: recorded final, never sent (domain/handler_testing.py)
            return record
        if record.held_reason:
            record = self._reviewed(record)
            if record.held_reason:
                return record  # an admin has not decided yet
        if record.mt.is_final:
            self._announce_refusal(record)
            return record
        record, link = self._link(record)
        if record.billed and record.mt.state is lifecycle.MtState.QUEUED:
            self._charge(record)
        return self._send(record, link, now=now, time_left_s=time_left_s or (lambda: float("inf")))

    # --- 1. the record ---------------------------------------------------------------------------

    def _build(self, command: MtCommand) -> MtRecord:
        if isinstance(command, MtRequested):
            base, operator_id, refusal = self._requested(command)
        else:
            base, operator_id, refusal = self._submitted(command)
        wanted = command.link_id if isinstance(command, MtRequested) else None  # checked when sending
        record = self._finish_build(base, operator_id, wanted if refusal is None else None, refusal)
        if record.is_test:
            mt = simulated_delivery(record.mt, ms(record.created_at))
            return record.model_copy(update={"mt": mt, "link_id": None})
        if refusal is None:
            return self._controlled(record, command)
        return record

    # --- traffic control (logic/traffic_control.py) ------------------------------------------------

    def _controlled(self, record: MtRecord, command: MtCommand) -> MtRecord:
        """The new record with the traffic guard's verdict: refused, held, or as it was.

        Asked once, when the record is built; a message an admin decided is not asked again.
        """
        review = self.entities.get(HeldMessage, record.message_id)
        if review is not None and review.status is HeldStatus.REJECTED:
            return _refused(record, review_note(review))
        if review is not None:
            held = review.reason if review.status is HeldStatus.HELD else ""
            return record.model_copy(update={"held_reason": held})
        facts = self._facts(record, command)
        verdict = self.guard.check(facts)
        record = record.model_copy(update={"risk_score": verdict.risk_score, "controls": verdict.labels})
        if verdict.action is Action.REJECT:
            return _refused(record, verdict.reason)
        if verdict.action is Action.HOLD:
            self.entities.create(held_message(facts, verdict, command, text_chars=self.held_text_chars))
            return record.model_copy(update={"held_reason": verdict.reason or "held"})
        return record

    def _facts(self, record: MtRecord, command: MtCommand) -> MessageFacts:
        price = None
        if record.billed and record.partner_id and record.operator_id:
            price = self.charger.price(
                partner_id=record.partner_id,
                operator_id=record.operator_id,
                short_number=record.source,
                at_ms=ms(record.created_at),
            )
        return MessageFacts(
            direction=Direction.MT,
            message_id=record.message_id,
            at=record.created_at,
            msisdn=record.destination,
            text=record.text or "",
            operator_id=record.operator_id,
            partner_id=record.partner_id,
            service_id=record.service_id,
            short_number=record.source,
            price=0 if price is None else price.amount,
            currency=None if price is None else price.currency,
            purpose=None if record.purpose is None else record.purpose.value,
            link_id=record.link_id,
            repeat_ok=isinstance(command, MtRequested) and command.repeat_ok,
        )

    def _reviewed(self, record: MtRecord) -> MtRecord:
        """A held MT after its review: released (goes on), rejected (refused), or still held."""
        review = self.entities.get(HeldMessage, record.message_id)
        if review is None or review.status is HeldStatus.HELD:
            return record

        def decide(current: MtRecord) -> MtRecord | None:
            if not current.held_reason:
                return None
            released = current.model_copy(update={"held_reason": ""})
            if review.status is HeldStatus.RELEASED or released.mt.is_final:
                return released
            return _refused(released, review_note(review))

        return update_record(
            self.store, record.message_id, decide, retries_max=self.limits.mt_write_conflict_retries_max
        )

    def _requested(self, command: MtRequested) -> tuple[MtRecord, str | None, str | None]:
        operator = self.entities.get(Operator, command.operator_id)
        if operator is None:
            raise MtConfigurationError(f"operator {command.operator_id} is not configured")
        ton, npi = source_ton_npi(command.source)
        is_test = command.link_id == TEST_LINK_ID  # a reply to a test MO (it came on the test link)
        refusal = mt_refusal(
            self.entities,
            command.destination,
            partner_id=command.partner_id,
            service_id=command.service_id,
            purpose=command.purpose,
        )
        encoded = EncodedMt((), 0, 0, command.text)
        if refusal is None:
            try:
                encoded = _encode_text(command.message_id, command.text, self.limits)
            except EncodingRefused as error:
                refusal = str(error)
        base = self._record(
            command.message_id,
            encoded,
            parts=len(encoded.parts_hex),
            created_at=command.requested_at,
            origin=MtOrigin.REQUESTED,
            purpose=command.purpose,
            partner_id=command.partner_id,
            service_id=command.service_id,
            in_reply_to=command.in_reply_to,
            source=command.source,
            source_ton=ton,
            source_npi=npi,
            destination=command.destination,
            billed=command.billed and not is_test,
            is_test=is_test,
        )
        return base, operator.operator_id, refusal

    def _submitted(self, command: SendMt) -> tuple[MtRecord, str | None, str | None]:
        system_id = (
            command.channel.removeprefix(_SMPP_CHANNEL) if command.channel.startswith(_SMPP_CHANNEL) else None
        )
        encoded, refusal, operator_id = EncodedMt((), command.data_coding, 0, None), None, None
        destination = command.destination
        try:
            destination = normalise_msisdn(command.destination, default_country_code=None)
            operator_id = self._operator_for(destination)
            if operator_id is None:
                raise EncodingRefused(f"no operator serves {destination}")
            refusal = mt_refusal(
                self.entities, destination, partner_id=command.tenant, service_id=None, purpose=None
            )
            if refusal is None:
                encoded = _encode_submitted(command, self.limits)
        except MsisdnError as error:
            refusal = f"destination: {error}"
        except EncodingRefused as error:
            refusal = str(error)
        base = self._record(
            command.message_id,
            encoded,
            parts=len(encoded.parts_hex),
            created_at=command.received_at,
            origin=MtOrigin.SMPP,
            partner_id=command.tenant,
            partner_system_id=system_id,
            partner_registered_delivery=command.registered_delivery,
            source=command.source,
            source_ton=command.source_ton,
            source_npi=command.source_npi,
            destination=destination,
        )
        return base, operator_id, refusal

    def _record(
        self, message_id: str, encoded: EncodedMt, *, parts: int, created_at: datetime, **fields: object
    ) -> MtRecord:
        mt = lifecycle.new_mt(
            message_id,
            max(parts, 1),
            now_ms=ms(created_at),
            final_wait_ms=self.limits.mt_final_wait_s * 1000,
        )
        return MtRecord.model_validate(
            {
                "mt": mt,
                "created_at": created_at,
                "text": encoded.text,
                "data_coding": encoded.data_coding,
                "esm_class": encoded.esm_class,
                "parts_hex": encoded.parts_hex,
                **fields,
            }
        )

    def _finish_build(
        self, base: MtRecord, operator_id: str | None, link_id: str | None, refusal: str | None
    ) -> MtRecord:
        record = base.model_copy(update={"operator_id": operator_id, "link_id": link_id})
        return record if refusal is None else _refused(record, refusal)

    def _operator_for(self, msisdn: str) -> str | None:
        """The operator whose longest ``msisdn_prefixes`` entry starts the number."""
        return operator_for(msisdn, self.entities.operators())

    def _link(self, record: MtRecord) -> tuple[MtRecord, OperatorLink]:
        """The MT's link: the one it names while that one can send, else one of its operator's.

        A new choice is stored with the MT, so later tries use it too. None usable: configuration.
        """
        operator_id = record.operator_id or ""
        named = self.entities.get(OperatorLink, record.link_id) if record.link_id else None
        if named is not None and _sends_mts(named) and named.operator_id == operator_id:
            return record, named
        chosen = next((link for link in self.entities.links_of(operator_id) if _sends_mts(link)), None)
        if chosen is None:
            raise MtConfigurationError(f"operator {operator_id} has no enabled link that sends MTs")
        record = update_record(
            self.store,
            record.message_id,
            lambda current: current.model_copy(update={"link_id": chosen.link_id}),
            retries_max=self.limits.mt_write_conflict_retries_max,
        )
        return record, chosen

    def _announce_refusal(self, record: MtRecord) -> None:
        """An MT refused at creation: have the MT-events processor settle it and tell the partner."""
        if not record.handed_parts and record.notified is None and record.notify_attempts == 0:
            self.events.publish_mt_notify(NotifyMtStatus(message_id=record.message_id, attempt=1))

    # --- 2. the charge ---------------------------------------------------------------------------

    def _charge(self, record: MtRecord) -> None:
        if record.service_id is None or record.operator_id is None:
            raise MtConfigurationError(f"billed MT {record.message_id} names no service")
        service = self.entities.get(PartnerService, record.service_id)
        if service is None:
            raise MtConfigurationError(
                f"service {record.service_id} of billed MT {record.message_id} is missing"
            )
        partner = self.entities.get(Partner, service.partner_id)
        if partner is None:
            raise MtConfigurationError(
                f"partner {service.partner_id} of service {service.service_id} is missing"
            )
        try:
            self.charger.charge(
                message_id=record.message_id,
                service=service,
                referrer_id=partner.referrer_id,
                operator_id=record.operator_id,
                short_number=record.source,
                at_ms=ms(record.created_at),
                mt_billing=True,
            )
        except (TariffError, AccountNotFound) as error:
            raise MtConfigurationError(f"cannot charge MT {record.message_id}: {error}") from error

    # --- 3. the hand-over ------------------------------------------------------------------------

    def _send(
        self, record: MtRecord, link: OperatorLink, *, now: datetime, time_left_s: Callable[[], float]
    ) -> MtRecord:
        pending = [
            index
            for index, part in enumerate(record.mt.parts)
            if index not in record.handed_parts and part.state is lifecycle.MtState.QUEUED
        ]
        if not pending:
            return self._handed(record.message_id, (), now)
        if link.protocol is LinkProtocol.HTTP:
            return self._send_http(record, link, pending, now=now, time_left_s=time_left_s)
        self.events.publish_outbound([self._outbound(record, link, index) for index in pending])
        return self._handed(record.message_id, pending, now)

    def _handed(
        self, message_id: str, parts: Sequence[int], now: datetime, *, all_parts: bool = True
    ) -> MtRecord:
        def change(record: MtRecord) -> MtRecord:
            handed = tuple(sorted({*record.handed_parts, *parts}))
            mt = record.mt
            if all_parts and not mt.is_final:
                mt = lifecycle.apply(mt, lifecycle.HandedToLink(ms(now))).mt
            return record.model_copy(update={"handed_parts": handed, "mt": mt})

        return update_record(
            self.store, message_id, change, retries_max=self.limits.mt_write_conflict_retries_max
        )

    def _outbound(self, record: MtRecord, link: OperatorLink, index: int) -> OutboundSubmit:
        return OutboundSubmit(
            message_id=record.message_id,
            part_index=index,
            link_id=link.link_id,
            source=record.source,
            source_ton=record.source_ton,
            source_npi=record.source_npi,
            destination=record.destination,
            esm_class=record.esm_class,
            data_coding=record.data_coding,
            registered_delivery=1 if record.mt.parts[index].tracked else 0,
            short_message_hex=record.parts_hex[index],
        )

    def _send_http(
        self,
        record: MtRecord,
        link: OperatorLink,
        pending: list[int],
        *,
        now: datetime,
        time_left_s: Callable[[], float],
    ) -> MtRecord:
        done: list[int] = []
        for position, index in enumerate(pending):
            if time_left_s() < self.http.request_timeout_s + self.limits.mt_deadline_margin_s:
                self._save_progress(record.message_id, done, now)
                raise OperatorUnavailable(f"MT {record.message_id}: no time left for part {index + 1}")
            answer = self.operators.submit(link.mt_url or "", link.mt_token, self._http_part(record, index))
            if not answer.accepted and not answer.permanent:
                self._save_progress(record.message_id, done, now)
                raise OperatorUnavailable(f"MT {record.message_id} part {index + 1}: {answer.error}")
            self.events.publish_mt_event(
                SubmitResult(
                    message_id=record.message_id,
                    part_index=index,
                    link_id=link.link_id,
                    accepted=answer.accepted,
                    operator_message_id=answer.operator_message_id,
                    error=answer.error,
                    permanent=True,
                    at=now,
                )
            )
            done.append(index)
            if not answer.accepted:
                rest = pending[position + 1 :]
                self._refuse_unsent(
                    record.message_id,
                    link.link_id,
                    rest,
                    f"not sent: part {index + 1} refused ({answer.error})",
                    now,
                )
                done.extend(rest)
                break
        return self._handed(record.message_id, done, now)

    def _refuse_unsent(
        self, message_id: str, link_id: str, parts: Sequence[int], error: str, now: datetime
    ) -> None:
        for index in parts:
            self.events.publish_mt_event(
                SubmitResult(
                    message_id=message_id,
                    part_index=index,
                    link_id=link_id,
                    accepted=False,
                    error=error[:200],
                    permanent=True,
                    at=now,
                )
            )

    def _save_progress(self, message_id: str, done: Sequence[int], now: datetime) -> None:
        if done:
            self._handed(message_id, done, now, all_parts=False)

    def _http_part(self, record: MtRecord, index: int) -> OperatorPart:
        short_message = bytes.fromhex(record.parts_hex[index])
        udh, payload = b"", short_message
        if record.esm_class & UDHI:
            header, payload = split_udh(short_message)
            udh = short_message[: header.length]
        text: str | None = None
        try:
            text = decode_text(payload, alphabet_for(record.data_coding))
        except TextError:
            text = None
        return OperatorPart(
            message_id=record.message_id,
            part=index + 1,
            parts=len(record.mt.parts),
            source=record.source,
            destination=record.destination,
            data_coding=record.data_coding,
            text=text,
            payload_hex=None if text is not None else payload.hex(),
            udh_hex=udh.hex() or None,
            registered_delivery=1 if record.mt.parts[index].tracked else 0,
        )


__all__ = [
    "EntityLookup",
    "MtCharging",
    "MtCommand",
    "MtConfigurationError",
    "MtNotFound",
    "MtPublisher",
    "MtSender",
    "MtWriteConflict",
    "OperatorUnavailable",
    "update_record",
]
