"""Sending SMS from prepaid credits: the partner API's ``POST /v1/sms`` and ``POST /v1/sms/batch``.

For each message, in this order (docs/partner-api.md, "Sending SMS"; docs/billing.md, "Sending
from credits"):

1. **Check** everything before anything is reserved: the service is the caller's and active, the
   destination is an international number that an operator serves (the longest of the operators'
   ``msisdn_prefixes``), the text encodes within the limits. The parts are counted by the very
   function the MT processor cuts them with (domain/mt_encoding.py). One bad message refuses the
   whole request, with every field at fault.
2. **Price** it: credits per part by route (the destination's operator) and partner
   (domain/sms_credits.py; 1 per part unless the admin's ``CreditRates`` say otherwise).
3. **Reserve** the credits: a *pending* ``sms_credits`` transfer from one of the partner's credit
   blocks, refilled from the main balance a block at a time (the hot-account strategy of
   logic/credits.py, with the charge held instead of posted). A request that cannot be covered in
   full is refused with :class:`InsufficientCredits`; what it reserved is released and nothing is
   queued.
4. **Queue** ``MtRequested(purpose=api, billed=False)``. The MT pipeline sends it; its final state
   settles the reservation (logic/mt_events.py -> ``Charger.settle_credits``): accepted parts are
   consumed, the rest refunded.

Idempotency belongs to the write: with an ``Idempotency-Key`` the message ids come from (partner,
key, position), so a repeat after a crash finds its reservations (kept, whatever slot they came
from) and queues the same MT ids again, which the MT processor creates once. Without a key every
message gets a fresh id; if queueing fails, what was not queued is released (with a key it is
kept, for the retry to queue).
"""

from __future__ import annotations

import contextlib
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain import accounts as acc
from smsbilling.domain import postings
from smsbilling.domain.accounts import AccountSpec, Book
from smsbilling.domain.entities import Entity, Operator, PartnerService, ServiceStatus
from smsbilling.domain.ids import derived_id
from smsbilling.domain.ledger import (
    AccountNotFound,
    InsufficientFunds,
    Transfer,
    TransferConflict,
    TransferNotFound,
)
from smsbilling.domain.money import CREDITS
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn
from smsbilling.domain.mt_encoding import EncodingRefused, encode_text, operator_for
from smsbilling.domain.sms_credits import (
    CREDIT_RATES_ID,
    CreditRates,
    reservation_id,
    route_credits,
    send_credits,
)
from smsbilling.logic.countries import DestinationRules
from smsbilling.logic.send_limits import SendQuota, SendRules, TakenQuota, send_rules, take_messages
from smsbilling.ports import LedgerStore
from smsbilling.settings import LedgerLimits, MessageLimits, SmsSendLimits

# --- errors: each maps to one problem response in web/sms.py ----------------------------------------


class SendError(Exception):
    """Base of what :func:`send_sms` refuses on purpose."""


class SendInvalid(SendError):
    """Messages the platform cannot send as asked (422), every field at fault."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = tuple(errors)


class SendNotFound(SendError):
    """No such service for this partner (404)."""


class SendUnavailable(SendError):
    """The service cannot send now (409, ``code`` says why)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class DestinationNotAllowed(SendError):
    """Destinations the partner may not send to (422): a country or a premium range, every one named."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = tuple(errors)


class InsufficientCredits(SendError):
    """The partner's credits (with its credit limit) do not cover the request; nothing was queued."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"{needed} credits needed, {available} available")
        self.needed = needed
        self.available = available


class CreditsNotConfigured(SendError):
    """The ledger accounts sending needs are missing (the platform's, not the partner's, fault)."""


# --- ports and values ----------------------------------------------------------------------------


class SendEntities(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def operators(self) -> list[Operator]: ...

    def page[E: Entity](
        self, model: type[E], gsi1pk: str, prefix: str = "", *, limit: int, cursor: str | None = None
    ) -> tuple[list[E], str | None]: ...


class MtQueue(Protocol):
    def publish_mt_requested(self, command: MtRequested) -> None: ...


@dataclass(frozen=True, slots=True)
class SmsToSend:
    destination: str  # as the partner wrote it; normalised here
    text: str
    repeat_ok: bool = False  # the partner marked a legitimate repeat (the duplicate control lets it go)


@dataclass(frozen=True, slots=True)
class SendRequest:
    partner_id: str
    service_id: str
    messages: tuple[SmsToSend, ...]
    batch: bool = False  # field names in errors: ``messages.<n>.destination`` rather than ``destination``
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedSms:
    message_id: str
    destination: str  # E.164 digits, no '+'
    operator_id: str
    parts: int
    credits: int


@dataclass(frozen=True, slots=True)
class SendLimits:
    messages: MessageLimits
    sms: SmsSendLimits
    ledger: LedgerLimits

    @property
    def slots(self) -> int:
        return min(self.sms.credit_slots_count, self.ledger.credit_block_slots_max)


@dataclass(frozen=True, slots=True)
class _Planned:
    sms: QueuedSms
    command: MtRequested


# --- sending ---------------------------------------------------------------------------------------


def send_sms(
    request: SendRequest,
    *,
    now: datetime,
    entities: SendEntities,
    ledger: LedgerStore,
    events: MtQueue,
    limits: SendLimits,
    quota: SendQuota | None = None,
    rules: SendRules | None = None,
) -> tuple[QueuedSms, ...]:
    """Check, price, reserve and queue every message of ``request`` (all or none are accepted).

    ``quota``: the partner's message limits (logic/send_limits.py), taken after the checks and
    before anything is reserved; over them, nothing is reserved or queued. ``rules``: where the
    partner may send and its message limits (None: read now).
    """
    rules = rules or send_rules(entities, limits.sms, ttl_s=0)
    if not 1 <= len(request.messages) <= limits.sms.batch_messages_max:
        raise SendInvalid([("messages", f"1 to {limits.sms.batch_messages_max} messages")])
    service = entities.get(PartnerService, request.service_id)
    if service is None or service.partner_id != request.partner_id:
        raise SendNotFound(f"no service {request.service_id}")
    if service.status is not ServiceStatus.ACTIVE:
        raise SendUnavailable("service_not_active", f"the service is {service.status.value}")
    planned = _plan(
        request, service, now, entities, limits.messages, allowed=rules.destinations(request.partner_id)
    )
    taken: TakenQuota | None = None
    if quota is not None:
        rates = rules.message_rates(request.partner_id)
        taken = take_messages(quota, request.partner_id, len(planned), now=now, rates=rates)
    at_ms = int(now.timestamp() * 1000)
    credits = CreditReservations(ledger, request.partner_id, slots=limits.slots, block=limits.ledger)
    slot = zlib.crc32(planned[0].sms.message_id.encode()) % limits.slots
    replay = request.idempotency_key is not None
    done: list[_Planned] = []
    try:
        for index, item in enumerate(planned):
            rest = sum(p.sms.credits for p in planned[index:])
            credits.reserve(
                item.sms.message_id, item.sms.credits, slot=slot, at_ms=at_ms, refill=rest, replay=replay
            )
            done.append(item)
    except InsufficientFunds:
        for item in done:
            credits.release(item.sms.message_id)
        if taken is not None:
            taken.give_back()
        needed = sum(p.sms.credits for p in planned)
        raise InsufficientCredits(needed, credits.spendable()) from None
    except AccountNotFound as error:
        for item in done:
            credits.release(item.sms.message_id)
        if taken is not None:
            taken.give_back()
        raise CreditsNotConfigured(str(error)) from None
    _queue(planned, events, credits, keep_on_failure=replay)
    return tuple(item.sms for item in planned)


def _plan(
    request: SendRequest,
    service: PartnerService,
    now: datetime,
    entities: SendEntities,
    limits: MessageLimits,
    *,
    allowed: DestinationRules,
) -> list[_Planned]:
    operators = entities.operators()
    rule = route_credits(entities.get(CreditRates, CREDIT_RATES_ID))
    planned: list[_Planned] = []
    errors: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    for index, message in enumerate(request.messages):
        where = f"messages.{index}." if request.batch else ""
        message_id = (
            derived_id("api-sms", request.partner_id, request.idempotency_key, str(index))
            if request.idempotency_key
            else uuid.uuid4().hex
        )
        try:
            destination = normalise_msisdn(message.destination, default_country_code=None)
        except MsisdnError:
            errors.append((f"{where}destination", "not an international (E.164) number"))
            continue
        operator_id = operator_for(destination, operators)
        if operator_id is None:
            errors.append((f"{where}destination", "no operator serves this number"))
            continue
        refusal = allowed.refusal(destination)
        if refusal is not None:
            refused.append((f"{where}destination", refusal.reason))
            continue
        if not message.text.strip():
            errors.append((f"{where}text", "empty"))
            continue
        try:
            encoded = encode_text(
                message_id,
                message.text,
                segments_max=limits.segments_max,
                text_chars_max=limits.text_chars_max,
            )
        except EncodingRefused as error:
            errors.append((f"{where}text", str(error).removeprefix("text: ")))
            continue
        sms = QueuedSms(
            message_id=message_id,
            destination=destination,
            operator_id=operator_id,
            parts=encoded.parts,
            credits=send_credits(rule, request.partner_id, operator_id, encoded.parts),
        )
        command = MtRequested(
            message_id=message_id,
            purpose=MtPurpose.API,
            partner_id=request.partner_id,
            service_id=service.service_id,
            operator_id=operator_id,
            source=_source(service, operator_id),
            destination=destination,
            text=message.text,
            billed=False,
            requested_at=now,
            repeat_ok=message.repeat_ok,
        )
        planned.append(_Planned(sms, command))
    if errors:
        raise SendInvalid(errors + refused)
    if refused:
        raise DestinationNotAllowed(refused)
    return planned


def _source(service: PartnerService, operator_id: str) -> str:
    """The service's short number at the destination's operator, else its first number."""
    numbers = [number_id.split("#", 1) for number_id in service.short_numbers]
    return next((number for op, number in numbers if op == operator_id), numbers[0][-1])


def _queue(
    planned: list[_Planned], events: MtQueue, credits: CreditReservations, *, keep_on_failure: bool
) -> None:
    for index, item in enumerate(planned):
        try:
            events.publish_mt_requested(item.command)
        except Exception:
            if not keep_on_failure:  # no retry can reuse these ids: give their credits back
                for unsent in planned[index:]:
                    with contextlib.suppress(Exception):
                        credits.release(unsent.sms.message_id)
            raise


# --- credit reservations ---------------------------------------------------------------------------


class CreditReservations:
    """Pending ``sms_credits`` transfers from a partner's credit blocks.

    The pending twin of :meth:`smsbilling.logic.credits.CreditSpender.charge_sms`: a message's
    credits are held on one block (constrained >= 0, so a hold can never overdraw it) until its MT
    ends. A block short of credits is refilled from the main balance (one write to the partner's
    hot item per block, not per message), by at least what the rest of the request needs. Then its
    own block is tried again (a concurrent request may have refilled it instead) and the others
    after it, so the last credits can be spent.
    """

    def __init__(self, ledger: LedgerStore, partner_id: str, *, slots: int, block: LedgerLimits) -> None:
        self._ledger = ledger
        self._partner = partner_id
        self._slots = slots
        self._block_size = block.credit_block_size_credits

    def reserve(
        self, message_id: str, credits: int, *, slot: int, at_ms: int, refill: int, replay: bool
    ) -> None:
        """Hold ``credits`` for ``message_id``; InsufficientFunds when the partner cannot cover them.

        ``replay``: the id may have been reserved before (an Idempotency-Key retry); that one stands.
        """
        if credits <= 0 or (replay and self._ledger.get_transfer(reservation_id(message_id)) is not None):
            return
        try:
            self._hold(slot, message_id, credits, at_ms)
            return
        except InsufficientFunds as error:
            if error.account != acc.credit_block(self._partner, slot):
                raise
        self._refill(slot, message_id, credits, max(refill, credits), at_ms)
        # Whether or not this request refilled its block, a concurrent one may have refilled it (the
        # main balance moved between our read and our write) or drained it: every block is tried,
        # its own first.
        for other in (slot, *(s for s in range(self._slots) if s != slot)):
            with contextlib.suppress(InsufficientFunds, AccountNotFound):
                self._hold(other, message_id, credits, at_ms, open_block=False)
                return
        raise InsufficientFunds(acc.partner(self._partner, Book.CREDITS))

    def release(self, message_id: str) -> None:
        """Give a reservation's credits back (a message that will not be queued)."""
        with contextlib.suppress(TransferNotFound):
            self._ledger.void_pending(reservation_id(message_id))

    def spendable(self) -> int:
        """Credits the partner can still spend: main headroom (its credit limit included) + every block."""
        total = 0
        for account in (acc.partner(self._partner, Book.CREDITS), *self._blocks()):
            with contextlib.suppress(AccountNotFound):
                total += self._ledger.balance(account).headroom
        return total

    def _blocks(self) -> list[acc.Account]:
        return [acc.credit_block(self._partner, slot) for slot in range(self._slots)]

    def _hold(self, slot: int, message_id: str, credits: int, at_ms: int, *, open_block: bool = True) -> None:
        transfer = postings.sms_credits(self._partner, slot, message_id, credits, at_ms)
        if transfer is None:  # pragma: no cover - credits > 0 was checked
            return
        try:
            self._post_hold(replace(transfer, pending=True), slot if open_block else None)
        except TransferConflict:
            return  # held before (a retry, or from another slot): that reservation stands

    def _post_hold(self, transfer: Transfer, open_slot: int | None) -> None:
        try:
            self._ledger.post(transfer)
        except AccountNotFound:
            if open_slot is None:
                raise
            # A partner's blocks are opened on first use. A partner with no credits account has
            # nothing to spend; a missing platform account is the platform's fault (AccountNotFound).
            try:
                self._ledger.balance(acc.partner(self._partner, Book.CREDITS))
            except AccountNotFound:
                raise InsufficientFunds(acc.partner(self._partner, Book.CREDITS)) from None
            self._ledger.open_account(AccountSpec(acc.credit_block(self._partner, open_slot), CREDITS))
            self._ledger.post(transfer)

    def _refill(self, slot: int, message_id: str, needed: int, wanted: int, at_ms: int) -> None:
        """Move a block from the main balance into the slot, if the main can cover ``needed``."""
        try:
            main = self._ledger.balance(acc.partner(self._partner, Book.CREDITS)).headroom
        except AccountNotFound:
            return
        size = min(max(self._block_size, wanted), main)
        if size < needed:
            return
        key = f"{self._partner}|{slot}|{message_id}"
        transfer = postings.block_reserve(self._partner, slot, key, size, at_ms)
        if transfer is None:  # pragma: no cover - size >= needed > 0
            return
        # TransferConflict: this message refilled the block before (a retry); its credits are there
        # or spent. InsufficientFunds: another request took the main balance since the read.
        with contextlib.suppress(TransferConflict, InsufficientFunds):
            self._ledger.post(transfer)
