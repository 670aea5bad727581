"""An MT world over in-memory fakes: one operator with an HTTP and an SMPP link, one partner, a plan.

Fakes of what leaves the platform (the operator's HTTP answer, the partner's status endpoint) are
scripted here; everything else is the real logic over the real in-memory adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import DlrReceived, MtPurpose, MtRequested, SendMt, SubmitResult
from smsbilling.domain.dlr import DlrStatus, IdFormat
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.handler_protocol import RawResponse, TransportError
from smsbilling.domain.ids import derived_id
from smsbilling.domain.ledger import TransferKind, transfer_id
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.charging import Charger
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mt_events import MtEventsProcessor
from smsbilling.logic.mt_sending import MtSender
from smsbilling.logic.plans import EntityPlanSource, store_plan
from smsbilling.logic.traffic_control import NO_GUARD, TrafficGuard
from smsbilling.ports import OperatorAnswer, OperatorPart
from smsbilling.settings import MessageLimits, OperatorMtLimits, PartnerDeliveryLimits

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GBP = "GBP"
OP = "op1"
NUMBER = "5555"
PRICE = 150
MSISDN = "447700900123"
SECRET = "s" * 32
HTTP_LINK = OperatorLink(
    link_id="l-http",
    operator_id=OP,
    protocol=Protocol.HTTP,
    mt_url="https://smsc.example/mt",
    mt_token="op-token",
)
SMPP_LINK = OperatorLink(link_id="l-smpp", operator_id=OP, protocol=Protocol.SMPP, smpp_host="127.0.0.1")
OPERATOR = Operator(operator_id=OP, name="Op", country_code="44", currency=GBP, msisdn_prefixes=("447",))
PARTNER = Partner(
    partner_id="p1",
    name="P1",
    email="p1@example.com",
    status=PartnerStatus.ACTIVE,
    created_at=T0,
    callback_secrets=(SECRET,),
)
SERVICE = PartnerService(
    service_id="s1",
    partner_id="p1",
    name="Quiz",
    prefix="ABC",
    short_numbers=(f"{OP}#{NUMBER}",),
    handler_kind=HandlerKind.HTTP_POST_SYNC,
    handler_url="https://partner.example/mo",
    status_url="https://partner.example/status",
    status=ServiceStatus.ACTIVE,
)
PLAN = TariffPlan(
    plan_id="plan-1",
    currency=GBP,
    effective_from_ms=0,
    numbers={
        (OP, NUMBER): NumberTariff(OP, NUMBER, GBP, price=PRICE, vat_bps=2_000, operator_share_bps=4_000)
    },
    scale=CommissionScale.flat(3_000),
)


@dataclass
class FakeOperator:
    """The operator's HTTP SMSC: answers each part by the script (default: accepted, ids op1, op2...)."""

    script: list[OperatorAnswer] = field(default_factory=list)
    received: list[tuple[str, str | None, OperatorPart]] = field(default_factory=list)

    def submit(self, url: str, token: str | None, part: OperatorPart) -> OperatorAnswer:
        self.received.append((url, token, part))
        if self.script:
            return self.script.pop(0)
        return OperatorAnswer(accepted=True, operator_message_id=f"op{len(self.received)}")


@dataclass
class FakePartnerEndpoint:
    """The partner's status_url: answers by the script (status codes, or a TransportError)."""

    script: list[int | TransportError] = field(default_factory=list)
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout_s: float,
        body_bytes_max: int,
    ) -> RawResponse:
        self.received.append((method, url, dict(headers), body))
        answer = self.script.pop(0) if self.script else 204
        if isinstance(answer, TransportError):
            raise answer
        return RawResponse(status=answer, headers={}, body=b"")


@dataclass
class World:
    entities: MemoryEntityStore = field(default_factory=MemoryEntityStore)
    store: MemoryMtStore = field(default_factory=MemoryMtStore)
    events: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)
    ledger: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    tally: MemoryTallyStore = field(default_factory=MemoryTallyStore)
    outbox: MemoryOutboxStore = field(default_factory=MemoryOutboxStore)
    operator: FakeOperator = field(default_factory=FakeOperator)
    partner: FakePartnerEndpoint = field(default_factory=FakePartnerEndpoint)
    limits: MessageLimits = field(default_factory=MessageLimits)
    delivery: PartnerDeliveryLimits = field(default_factory=PartnerDeliveryLimits)
    http: OperatorMtLimits = field(default_factory=OperatorMtLimits)
    links: tuple[OperatorLink, ...] = (HTTP_LINK,)
    guard: TrafficGuard = NO_GUARD

    def __post_init__(self) -> None:
        for entity in (OPERATOR, PARTNER, SERVICE, *self.links):
            self.entities.put(entity)
        self.entities.put(
            ShortNumber(operator_id=OP, number=NUMBER, billing_model=BillingModel.MT, tariff_plan_id="plan-1")
        )
        store_plan(self.entities, PLAN)
        open_platform(self.ledger, GBP)
        open_operator(self.ledger, OP, GBP)
        open_partner(self.ledger, PARTNER.partner_id, GBP)
        self.charger = Charger(self.ledger, EntityPlanSource(self.entities), self.tally)

    def sender(self) -> MtSender:
        return MtSender(
            store=self.store,
            entities=self.entities,
            events=self.events,
            charger=self.charger,
            operators=self.operator,
            limits=self.limits,
            http=self.http,
            guard=self.guard,
        )

    def processor(self) -> MtEventsProcessor:
        return MtEventsProcessor(
            store=self.store,
            entities=self.entities,
            billing=self.charger,
            callbacks=self.partner,
            outbox=self.outbox,
            events=self.events,
            limits=self.limits,
            delivery=self.delivery,
            random=lambda: 0.5,
        )

    # --- driving it ------------------------------------------------------------------------------

    def drain_dlr(self, at: datetime = T0) -> list[str]:
        """Feed every queued DLR-queue event (submit results first, as published) to the processor."""
        outcomes: list[str] = []
        while self.events.dlr:
            event = self.events.dlr.pop(0)
            outcomes.extend(self.processor().handle(event, now=at).outcomes)
        return outcomes

    def receipt(
        self,
        operator_message_id: str,
        status: DlrStatus = DlrStatus.DELIVERED,
        *,
        link_id: str = HTTP_LINK.link_id,
        at: datetime = T0 + timedelta(seconds=5),
    ) -> tuple[str, ...]:
        event = DlrReceived(
            receipt_id=derived_id("dlr", link_id, operator_message_id, status.value),
            link_id=link_id,
            operator_message_id=operator_message_id,
            status=status,
            received_at=at,
        )
        return self.processor().handle(event, now=at).outcomes

    def pending_charge_state(self, message_id: str) -> str | None:
        stored = self.ledger.get_transfer(transfer_id(message_id, str(TransferKind.MT_CHARGE)))
        return None if stored is None else stored.state.value


def requested(
    text: str = "Your answer is 42",
    *,
    message_id: str = "mt1",
    billed: bool = False,
    link_id: str | None = HTTP_LINK.link_id,
    destination: str = MSISDN,
    partner: bool = True,
) -> MtRequested:
    return MtRequested(
        message_id=message_id,
        purpose=MtPurpose.REPLY,
        partner_id=PARTNER.partner_id if partner else None,
        service_id=SERVICE.service_id if partner else None,
        in_reply_to="mo1",
        operator_id=OP,
        link_id=link_id,
        source=NUMBER,
        destination=destination,
        text=text,
        billed=billed,
        requested_at=T0,
    )


def send_mt(
    short_message: bytes,
    *,
    data_coding: int = 0,
    esm_class: int = 0,
    registered_delivery: int = 1,
    destination: str = MSISDN,
    message_id: str = "smpp1",
) -> SendMt:
    return SendMt(
        message_id=message_id,
        tenant=PARTNER.partner_id,
        channel="smpp:p1bind",
        source="INFO",
        source_ton=5,
        source_npi=0,
        destination=destination,
        esm_class=esm_class,
        data_coding=data_coding,
        registered_delivery=registered_delivery,
        short_message_hex=short_message.hex(),
        received_at=T0,
    )


def accepted(message_id: str, part: int, operator_id: str, link_id: str = HTTP_LINK.link_id) -> SubmitResult:
    return SubmitResult(
        message_id=message_id,
        part_index=part,
        link_id=link_id,
        accepted=True,
        operator_message_id=operator_id,
        at=T0,
    )


def hex_link() -> OperatorLink:
    """An SMPP link whose SMSC answers submits in hex and writes receipts in decimal."""
    return SMPP_LINK.model_copy(update={"link_id": "l-hex", "dlr_id_format": IdFormat.HEX_TO_DEC})
