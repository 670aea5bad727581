"""The MO processor: decode, reassemble, normalise, route, blacklist, bill, hand on. Idempotent.

One ``mo.received`` event in, one decision out. The decision (state ROUTED / UNROUTED /
BLACKLISTED / REJECTED / PART with the route, the charge and the reason) is written **last**,
as one conditional write that succeeds only while the stored MO is still undecided. Everything
before it is idempotent, so a crash at any point is repaired by the queue's redelivery:

==========================  ==================================================================
side effect                 why repeating it is harmless
==========================  ==================================================================
reassembly part             put-if-absent per ``(set, seq)``; the completion is one conditional
                            put, so of two parts completing a set at once one carries it on
charge (MO-billing)         the tally marker and the ledger transfer id both come from the MO id
                            (:mod:`smsbilling.logic.charging`)
subscription, bare STOP     :func:`smsbilling.logic.subscriptions.on_mo` / ``on_stop`` are
                            idempotent per MO (timestamps and notice ids come from the MO)
MoRouted / MtRequested      at-least-once: ids are the MO id and ``derived_id("mt", mo id, ..)``,
                            and their consumers are idempotent on them
==========================  ==================================================================

A test MO (``is_test``: the partner API's test tool, domain/handler_testing.py) is routed and
delivered like any other, but never charged, counted in the period tally, subscribed or
unsubscribed, and never answered with the operator's default reply.

A redelivery of a decided MO changes nothing. Because the decision is written after the
publish, a consumer of ``MoRouted`` can read the MO before it says ROUTED; it must treat an
undecided MO as "not yet" and retry, never as an error.

What is not the subscriber's fault (an unknown operator, no tariff plan, a ledger account never
opened) raises :class:`MoConfigurationError`: the record fails, is retried, and after the redrive
limit waits in the DLQ with its body for the configuration to be fixed. What is (an undecodable
text, a malformed number) is REJECTED with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsbilling.contracts import MoReceived, MoRouted, MtPurpose, MtRequested
from smsbilling.domain.concat import ConcatInfo
from smsbilling.domain.entities import (
    BillingModel,
    Entity,
    Operator,
    Partner,
    PartnerService,
    PrefixClaim,
    RoutingConfig,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import AccountNotFound, LedgerError
from smsbilling.domain.mo_content import Completion, Part, concat_set_key, join, part_of
from smsbilling.domain.msisdn import MsisdnError, normalise_address, normalise_msisdn
from smsbilling.domain.routing import (
    PREFIX_CHARS_MAX,
    Keyword,
    fold,
    prefix_claim_id,
    short_number_id,
    split_keyword,
)
from smsbilling.domain.tariff import TariffError
from smsbilling.domain.text import TextError
from smsbilling.domain.traffic import Action, Direction, HeldMessage, HeldStatus, MessageFacts
from smsbilling.logic.blacklists import blacklist_reason, mo_refusal
from smsbilling.logic.charging import Charger
from smsbilling.logic.mo_intake import InboundStore
from smsbilling.logic.traffic_control import NO_GUARD, TrafficGuard
from smsbilling.logic.traffic_review import held_message, is_awaiting, review_note
from smsbilling.settings import MessageLimits

RoutingTable = Mapping[str, str]


class MoConfigurationError(Exception):
    """The platform cannot decide this MO as configured; retry later (then the DLQ)."""


class EntityStore(Protocol):
    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...

    def create(self, entity: Entity) -> None:
        """Put only if no entity has this key; raise the store's EntityExists otherwise."""
        ...


class ReassemblyStore(Protocol):
    """Parts of long MOs (messages table, ``CONCAT#...``). Times are epoch seconds."""

    def add(self, set_key: str, seq: int, message_id: str, part: Part, *, expires_at: int, now: int) -> str:
        """Store the part unless a live one holds ``seq``; the message id holding ``seq`` now."""
        ...

    def parts(self, set_key: str, *, now: int) -> dict[int, tuple[str, Part]]:
        """The live parts of the set: seq -> (message id, part)."""
        ...

    def completion(self, set_key: str) -> Completion | None: ...

    def complete(self, set_key: str, completion: Completion, *, now: int, expires_at: int) -> Completion:
        """Record ``completion`` unless a live one stands; return the one that stands."""
        ...

    def discard(self, set_key: str) -> None:
        """Remove the set's parts and completion (after its whole message was decided)."""
        ...


class MoEvents(Protocol):
    def publish_mo_routed(self, command: MoRouted, *, delay_s: int = 0) -> None: ...

    def publish_mt_requested(self, command: MtRequested) -> None: ...


SubscriptionHandler = Callable[[PartnerService, StoredMo, str, datetime], None]
"""``(service, decided mo, keyword rest, now)``: the composition root binds
:func:`smsbilling.logic.subscriptions.on_mo` to its store and publisher."""

StopHandler = Callable[[StoredMo, str, datetime], int]
"""``(mo, bare word, now) -> subscriptions stopped``: a word no service claims may be a stop word of
the subscriber's subscriptions on the number (:func:`smsbilling.logic.subscriptions.on_stop`)."""


@dataclass(frozen=True)
class MoProcessor:
    store: InboundStore
    entities: EntityStore
    reassembly: ReassemblyStore
    events: MoEvents
    charger: Charger
    subscriptions: SubscriptionHandler
    stops: StopHandler
    limits: MessageLimits
    guard: TrafficGuard = NO_GUARD
    held_text_chars: int = 480

    def process(self, event: MoReceived, *, now: datetime) -> StoredMo:
        """Decide the MO of ``event`` (or return it as decided before). Idempotent."""
        mo = self.store.get(event.message_id)
        if mo is None:
            raise LookupError(f"MO {event.message_id} is queued but not stored")
        if mo.state.is_final:
            return mo
        if mo.state is MoState.HELD and is_awaiting(self.entities.get(HeldMessage, mo.message_id)):
            return mo  # an admin has not decided yet
        decided, set_key = self._decide(mo, now)
        if not self.store.decide(decided):
            return self.store.get(mo.message_id) or decided
        if set_key is not None and decided.state.is_final:
            self.reassembly.discard(set_key)  # housekeeping only: the TTL removes it otherwise
        return decided

    # --- the steps -------------------------------------------------------------------------------

    def _decide(self, mo: StoredMo, now: datetime) -> tuple[StoredMo, str | None]:
        operator = self.entities.get(Operator, mo.operator_id)
        if operator is None:
            raise MoConfigurationError(f"operator {mo.operator_id} of link {mo.link_id} is not configured")
        try:
            msisdn = normalise_msisdn(mo.source, default_country_code=operator.country_code)
        except MsisdnError as error:
            return _rejected(mo, f"source: {error}"), None
        mo = mo.model_copy(update={"msisdn": msisdn, "short_number": _number(mo.destination, operator)})
        try:
            part = part_of(
                text=mo.text,
                payload_hex=mo.payload_hex,
                data_coding=mo.data_coding,
                udh_hex=mo.udh_hex,
                sar_ref=mo.sar_ref,
                sar_total=mo.sar_total,
                sar_seq=mo.sar_seq,
            )
            set_key = None
            if part.concat is None:
                full_text = part.decoded()
            else:
                set_key = concat_set_key(mo.link_id, msisdn, part.concat)
                whole = self._reassemble(mo, set_key, part.concat, part)
                if whole is None:
                    return mo.model_copy(update={"state": MoState.PART}), None
                full_text = join(whole)
        except TextError as error:
            return _rejected(mo, f"text: {error}"), None
        return self._route(mo.model_copy(update={"full_text": full_text}), operator, now), set_key

    def _reassemble(
        self, mo: StoredMo, set_key: str, concat: ConcatInfo, part: Part
    ) -> tuple[Part, ...] | None:
        """The whole message's parts if ``mo`` completes it (now or in an earlier attempt), else None."""
        me = mo.message_id
        at = int(mo.received_at.timestamp())  # the MO's own time: every redelivery decides alike
        expires_at = at + self.limits.reassembly_timeout_s
        done = self.reassembly.completion(set_key)
        if done is not None and done.window_end >= at and me in done.members:
            return done.parts if done.owner == me else None
        if self.reassembly.add(set_key, concat.seq, me, part, expires_at=expires_at, now=at) != me:
            return None  # another MO holds this part (a resent duplicate): the set goes on without it
        held = self.reassembly.parts(set_key, now=at)
        if any(seq not in held for seq in range(1, concat.total + 1)):
            return None
        mine = Completion(
            owner=me,
            members=tuple(held[seq][0] for seq in range(1, concat.total + 1)),
            parts=tuple(held[seq][1] for seq in range(1, concat.total + 1)),
            window_end=expires_at,
        )
        standing = self.reassembly.complete(
            set_key, mine, now=at, expires_at=at + self.limits.reassembly_done_ttl_s
        )
        return standing.parts if standing.owner == me else None

    def _route(self, mo: StoredMo, operator: Operator, now: datetime) -> StoredMo:
        keyword = split_keyword(mo.full_text or "", self._lookalikes())
        mo = mo.model_copy(update={"prefix": keyword.word})
        refused = blacklist_reason(self.entities, mo.msisdn or "", partner_id=None, service_id=None)
        if refused is not None:  # the platform's list: before anything is sent, the default reply too
            return _decided(mo, MoState.BLACKLISTED, refused)
        number = self.entities.get(ShortNumber, short_number_id(operator.operator_id, mo.short_number or ""))
        service = None if number is None else self._service(number, keyword)
        if number is None or service is None:
            return self._unrouted(mo, operator, keyword, now, known_number=number is not None)
        mo = mo.model_copy(
            update={
                "service_id": service.service_id,
                "partner_id": service.partner_id,
                "billing_model": number.billing_model,
            }
        )
        refused = mo_refusal(
            self.entities, mo.msisdn or "", partner_id=service.partner_id, service_id=service.service_id
        )
        if refused is not None:  # the partner's list and the service's (logic/blacklists.py)
            return _decided(mo, MoState.BLACKLISTED, refused)
        return self._serve(mo, service, number, keyword, now)

    def _serve(
        self, mo: StoredMo, service: PartnerService, number: ShortNumber, keyword: Keyword, now: datetime
    ) -> StoredMo:
        """Route ``mo`` to ``service``: traffic control, then subscribe or charge, then hand it on."""
        if not mo.is_test:
            mo, stopped = self._controlled(mo, service, number)
            if stopped:
                return mo
        routed = _decided(mo, MoState.ROUTED)
        if mo.is_test:  # the test tool's MO: to the handler, never charged, counted or subscribed
            self.events.publish_mo_routed(MoRouted(message_id=mo.message_id, service_id=service.service_id))
            return routed
        if service.subscription is not None:
            self.subscriptions(service, routed, keyword.rest, now)
            return routed
        if number.billing_model is BillingModel.MO:
            routed = self._charge(routed, service, number)
        self.events.publish_mo_routed(MoRouted(message_id=mo.message_id, service_id=service.service_id))
        return routed

    def _controlled(
        self, mo: StoredMo, service: PartnerService, number: ShortNumber
    ) -> tuple[StoredMo, bool]:
        """``mo`` with the traffic guard's verdict, and whether it stops here (rejected or held).

        An MO an admin decided (released or rejected at review) is not checked again.
        """
        review = self.entities.get(HeldMessage, mo.message_id)
        if review is not None and review.status is HeldStatus.REJECTED:
            return _rejected(mo, review_note(review)), True
        if review is not None and review.status is HeldStatus.RELEASED:
            return mo, False
        facts = self._facts(mo, service, number)
        verdict = self.guard.check(facts)
        mo = mo.model_copy(update={"risk_score": verdict.risk_score, "controls": verdict.labels})
        if verdict.action is Action.REJECT:
            return _rejected(mo, verdict.reason), True
        if verdict.action is Action.HOLD:
            if review is None:
                command = MoReceived(message_id=mo.message_id, link_id=mo.link_id, received_at=mo.received_at)
                self.entities.create(held_message(facts, verdict, command, text_chars=self.held_text_chars))
            return _decided(mo, MoState.HELD, verdict.reason), True
        return mo, False

    def _facts(self, mo: StoredMo, service: PartnerService, number: ShortNumber) -> MessageFacts:
        price = None
        if number.billing_model is BillingModel.MO and service.subscription is None:
            price = self.charger.price(
                partner_id=service.partner_id,
                operator_id=number.operator_id,
                short_number=number.number,
                at_ms=int(mo.received_at.timestamp() * 1000),
            )
        return MessageFacts(
            direction=Direction.MO,
            message_id=mo.message_id,
            at=mo.received_at,
            msisdn=mo.msisdn or "",
            text=mo.full_text or "",
            operator_id=number.operator_id,
            partner_id=service.partner_id,
            service_id=service.service_id,
            short_number=number.number,
            price=0 if price is None else price.amount,
            currency=None if price is None else price.currency,
            operator_message_id=mo.operator_message_id,
            link_id=mo.link_id,
        )

    def _unrouted(
        self, mo: StoredMo, operator: Operator, keyword: Keyword, now: datetime, *, known_number: bool
    ) -> StoredMo:
        if not known_number:  # not ours to answer from
            return _decided(mo, MoState.UNROUTED, f"short number {mo.short_number} is not configured")
        if mo.is_test:  # no default reply, and no bare STOP cancels real subscriptions
            return _decided(mo, MoState.UNROUTED, f"test: no active service for {keyword.word!r}")
        stopped = self.stops(mo, keyword.word, now) if keyword.word else 0
        if stopped:  # a bare STOP: the goodbyes answer it, not the default reply
            return _decided(mo, MoState.UNROUTED, f"stop word: {stopped} subscription(s) cancelled")
        self._default_reply(mo, operator)
        return _decided(mo, MoState.UNROUTED, f"no active service for {keyword.word!r}")

    def _lookalikes(self) -> RoutingTable:
        config = self.entities.get(RoutingConfig, "default")
        if config is None or not config.lookalikes:
            return {}
        try:
            fold("", config.lookalikes)  # an invalid table (the admin API should refuse it) is ignored
        except ValueError:
            return {}
        return config.lookalikes

    def _service(self, number: ShortNumber, keyword: Keyword) -> PartnerService | None:
        if not keyword.folded or len(keyword.folded) > PREFIX_CHARS_MAX:
            return None
        claim = self.entities.get(PrefixClaim, prefix_claim_id(number.entity_id, keyword.folded))
        if claim is None:
            return None
        service = self.entities.get(PartnerService, claim.service_id)
        if service is None or service.status is not ServiceStatus.ACTIVE:
            return None
        return service if number.entity_id in service.short_numbers else None

    def _default_reply(self, mo: StoredMo, operator: Operator) -> None:
        if not operator.default_reply or not mo.msisdn or not mo.short_number:
            return
        self.events.publish_mt_requested(
            MtRequested(
                message_id=derived_id("mt", mo.message_id, MtPurpose.DEFAULT_REPLY.value),
                purpose=MtPurpose.DEFAULT_REPLY,
                in_reply_to=mo.message_id,
                operator_id=operator.operator_id,
                link_id=mo.link_id,
                source=mo.short_number,
                destination=mo.msisdn,
                text=operator.default_reply,
                billed=False,
                requested_at=mo.received_at,
            )
        )

    def _charge(self, mo: StoredMo, service: PartnerService, number: ShortNumber) -> StoredMo:
        partner = self.entities.get(Partner, service.partner_id)
        if partner is None:
            raise MoConfigurationError(
                f"partner {service.partner_id} of service {service.service_id} is missing"
            )
        try:
            charged = self.charger.charge(
                message_id=mo.message_id,
                service=service,
                referrer_id=partner.referrer_id,
                operator_id=number.operator_id,
                short_number=number.number,
                at_ms=int(mo.received_at.timestamp() * 1000),
                mt_billing=False,
            )
        except (TariffError, AccountNotFound) as error:
            raise MoConfigurationError(f"cannot charge MO {mo.message_id}: {error}") from error
        except LedgerError:
            raise  # busy / unavailable: the record is retried as it is
        return mo.model_copy(
            update={"charged_amount": charged.split.price, "currency": charged.split.currency}
        )


def _number(destination: str, operator: Operator) -> str:
    """The short number as digits (a long virtual number as E.164); as given if it is neither."""
    try:
        return normalise_address(destination, default_country_code=operator.country_code)
    except MsisdnError:
        return destination.strip()


def _decided(mo: StoredMo, state: MoState, reason: str = "") -> StoredMo:
    return mo.model_copy(update={"state": state, "reason": reason})


def _rejected(mo: StoredMo, reason: str) -> StoredMo:
    return _decided(mo, MoState.REJECTED, reason[:200])


def claim_prefix(entities: EntityStore, service: PartnerService, short_number_entity_id: str) -> PrefixClaim:
    """Lease the service's prefix on one of its short numbers (atomic: EntityExists when taken).

    The claim's key is the folded prefix, so a look-alike of a claimed prefix is taken too. The
    admin's extra look-alikes apply as configured now (re-claim after changing them).
    """
    if short_number_entity_id not in service.short_numbers:
        raise ValueError(f"service {service.service_id} is not on short number {short_number_entity_id}")
    config = entities.get(RoutingConfig, "default")
    folded = fold(service.prefix, config.lookalikes if config is not None else None)
    claim = PrefixClaim(short_number_id=short_number_entity_id, folded=folded, service_id=service.service_id)
    entities.create(claim)
    return claim
