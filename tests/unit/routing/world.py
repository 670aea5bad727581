"""A small premium world over in-memory fakes: one operator, two short numbers, one partner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher as IntakeEvents
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_reassembly import MemoryReassemblyStore
from smsbilling.adapters.memory_subscriptions import MemorySubscriptionStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import MoReceived
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
from smsbilling.domain.inbound import InboundMo, StoredMo
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.charging import Charger
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mo_intake import accept_mo
from smsbilling.logic.mo_processing import MoProcessor, claim_prefix
from smsbilling.logic.plans import EntityPlanSource, store_plan
from smsbilling.logic.subscriptions import on_mo, on_stop
from smsbilling.logic.traffic_control import NO_GUARD, TrafficGuard
from smsbilling.settings import MessageLimits

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GBP = "GBP"
OP = "op1"
MO_NUMBER, MT_NUMBER = "4444", "5555"
PRICE = 150  # 1.50 GBP incl. 20 % VAT
MSISDN = "447700900123"

OPERATOR = Operator(
    operator_id=OP, name="Op", country_code="44", currency=GBP, default_reply="Unknown keyword. Text HELP."
)
LINK = OperatorLink(link_id="l1", operator_id=OP, protocol=Protocol.HTTP)
PARTNER = Partner(
    partner_id="p1", name="P1", email="p1@example.com", status=PartnerStatus.ACTIVE, created_at=T0
)
SERVICE = PartnerService(
    service_id="s1",
    partner_id="p1",
    name="Quiz",
    prefix="ABC",
    short_numbers=(f"{OP}#{MO_NUMBER}", f"{OP}#{MT_NUMBER}"),
    handler_kind=HandlerKind.HTTP_POST_SYNC,
    handler_url="https://partner.example/mo",
    status=ServiceStatus.ACTIVE,
)
PLAN = TariffPlan(
    plan_id="plan-1",
    currency=GBP,
    effective_from_ms=0,
    numbers={
        (OP, n): NumberTariff(OP, n, GBP, price=PRICE, vat_bps=2_000, operator_share_bps=4_000)
        for n in (MO_NUMBER, MT_NUMBER)
    },
    scale=CommissionScale.flat(3_000),
)


@dataclass
class Subscriptions:
    """The real subscription logic (logic/subscriptions.py) over its in-memory store, calls recorded."""

    store: MemorySubscriptionStore
    events: MemoryEventPublisher
    entities: MemoryEntityStore
    calls: list[tuple[str, StoredMo, str]] = field(default_factory=list)

    def __call__(self, service: PartnerService, mo: StoredMo, keyword_rest: str, now: datetime) -> None:
        self.calls.append((service.service_id, mo, keyword_rest))
        on_mo(service, mo=mo, keyword_rest=keyword_rest, now=now, store=self.store, events=self.events)

    def stop(self, mo: StoredMo, word: str, now: datetime) -> int:
        return on_stop(
            mo,
            word=word,
            now=now,
            store=self.store,
            events=self.events,
            services=lambda service_id: self.entities.get(PartnerService, service_id),
        )


@dataclass
class World:
    entities: MemoryEntityStore = field(default_factory=MemoryEntityStore)
    store: MemoryInboundStore = field(default_factory=MemoryInboundStore)
    intake: IntakeEvents = field(default_factory=IntakeEvents)
    events: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)
    ledger: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    tally: MemoryTallyStore = field(default_factory=MemoryTallyStore)
    reassembly: MemoryReassemblyStore = field(default_factory=MemoryReassemblyStore)
    subscription_store: MemorySubscriptionStore = field(default_factory=MemorySubscriptionStore)
    limits: MessageLimits = field(default_factory=MessageLimits)
    guard: TrafficGuard = NO_GUARD

    def __post_init__(self) -> None:
        self.subscriptions = Subscriptions(self.subscription_store, self.events, self.entities)
        for entity in (OPERATOR, LINK, PARTNER, SERVICE):
            self.entities.put(entity)
        self.entities.put(ShortNumber(operator_id=OP, number=MO_NUMBER, tariff_plan_id="plan-1"))
        self.entities.put(
            ShortNumber(
                operator_id=OP, number=MT_NUMBER, billing_model=BillingModel.MT, tariff_plan_id="plan-1"
            )
        )
        for number_id in SERVICE.short_numbers:
            claim_prefix(self.entities, SERVICE, number_id)
        store_plan(self.entities, PLAN)
        open_platform(self.ledger, GBP)
        open_operator(self.ledger, OP, GBP)
        open_partner(self.ledger, PARTNER.partner_id, GBP)
        self.charger = Charger(self.ledger, EntityPlanSource(self.entities), self.tally)

    def processor(self) -> MoProcessor:
        return MoProcessor(
            store=self.store,
            entities=self.entities,
            reassembly=self.reassembly,
            events=self.events,
            charger=self.charger,
            subscriptions=self.subscriptions,
            stops=self.subscriptions.stop,
            limits=self.limits,
            guard=self.guard,
        )

    def receive(self, op_id: str = "m1", *, at: datetime = T0, **fields: object) -> MoReceived:
        """Accept an MO on the link (as operator_http does) and return its queued event."""
        values: dict[str, object] = {"source": MSISDN, "destination": MO_NUMBER, "text": "ABC 1"} | fields
        accept_mo(
            LINK, InboundMo(operator_message_id=op_id, **values), now=at, store=self.store, events=self.intake
        )  # type: ignore[arg-type]
        return self.intake.published[-1]

    def process(self, event: MoReceived) -> StoredMo:
        return self.processor().process(event, now=T0)
