"""A partner world for sending from credits and the test tool: the real logic over in-memory adapters.

Two operators (UK ``op1`` with an HTTP link, PT ``op2``), partner ``p1`` with services on both and
topped-up credits, partner ``p2`` with a service of its own. What leaves the platform (the
operator's SMSC, the partner's handler and status endpoint) is scripted; the MO processor, partner
delivery, the MT processor and the MT-events processor are the real ones, driven by hand from the
queues the fakes record.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smsbilling.adapters.memory_delivery_log import MemoryDeadLetters, MemoryDeliveryLog
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_handler_test_log import MemoryHandlerTestLog
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher as IntakeEvents
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.adapters.memory_reassembly import MemoryReassemblyStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import DlrReceived
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import (
    ApiKey,
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
from smsbilling.domain.handler_protocol import RawResponse
from smsbilling.domain.ids import derived_id
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.api_send import SendLimits
from smsbilling.logic.charging import Charger
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mo_processing import MoProcessor, claim_prefix
from smsbilling.logic.mt_events import MtEventsProcessor
from smsbilling.logic.mt_sending import MtSender
from smsbilling.logic.partner_dispatch import PartnerDispatcher
from smsbilling.logic.plans import EntityPlanSource, store_plan
from smsbilling.settings import (
    ApiLimits,
    HandlerTestLimits,
    LedgerLimits,
    MessageLimits,
    OperatorMtLimits,
    PartnerDeliveryLimits,
    SmsSendLimits,
)
from smsbilling.web import sms as sms_web
from smsbilling.web import test_tool as test_tool_web
from smsbilling.web.conventions import ConventionDeps, partner_caller
from tests.unit.delivery.helpers import FakeHandlerClient
from tests.unit.mt.world import FakeOperator, FakePartnerEndpoint

partner_api = importlib.import_module("functions.partner_api.app")

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GBP = "GBP"
SECRET = "whsec_send_0123456789abcdef0123"
KEYS = {"p1": "sk_send_partner_one", "p2": "sk_send_partner_two", "p1-read": "sk_send_read_only"}
UK, PT = "447700900123", "351912345678"
CREDITS_TOPPED_UP = 10
LEDGER_LIMITS = LedgerLimits(credit_block_size_credits=4, credit_block_slots_max=4)
SMS_LIMITS = SmsSendLimits(batch_messages_max=5, credit_slots_count=2)
CURSOR_KEY = b"test-cursor-key-0123456789"
PRICE = 150

OPERATORS = (
    Operator(operator_id="op1", name="UK Mobile", country_code="44", currency=GBP, msisdn_prefixes=("447",)),
    Operator(operator_id="op2", name="PT Movel", country_code="351", currency=GBP, msisdn_prefixes=("3519",)),
)
LINK = OperatorLink(
    link_id="l-op1", operator_id="op1", protocol=Protocol.HTTP, mt_url="https://smsc.example/mt", mt_token="t"
)
LINK2 = OperatorLink(
    link_id="l-op2",
    operator_id="op2",
    protocol=Protocol.HTTP,
    mt_url="https://smsc2.example/mt",
    mt_token="t",
)


class Context:
    function_name = "partner-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:partner-api"
    aws_request_id = "req-1"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def service(
    service_id: str, partner_id: str, prefix: str, numbers: tuple[str, ...], **extra: Any
) -> PartnerService:
    fields: dict[str, Any] = {
        "service_id": service_id,
        "partner_id": partner_id,
        "name": f"{prefix} service",
        "prefix": prefix,
        "short_numbers": numbers,
        "handler_kind": HandlerKind.HTTP_POST_SYNC,
        "handler_url": "https://partner.example/mo",
        "status_url": "https://partner.example/status",
        "status": ServiceStatus.ACTIVE,
    } | extra
    return PartnerService.model_validate(fields)


@dataclass
class World:
    entities: MemoryEntityStore = field(default_factory=MemoryEntityStore)
    ledger: MemoryLedgerStore = field(default_factory=lambda: MemoryLedgerStore(LEDGER_LIMITS))
    tally: MemoryTallyStore = field(default_factory=MemoryTallyStore)
    events: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)
    intake: IntakeEvents = field(default_factory=IntakeEvents)
    mos: MemoryInboundStore = field(default_factory=MemoryInboundStore)
    mts: MemoryMtStore = field(default_factory=MemoryMtStore)
    test_log: MemoryHandlerTestLog = field(default_factory=MemoryHandlerTestLog)
    deliveries: MemoryDeliveryLog = field(default_factory=MemoryDeliveryLog)
    dead: MemoryDeadLetters = field(default_factory=MemoryDeadLetters)
    outbox: MemoryOutboxStore = field(default_factory=MemoryOutboxStore)
    reassembly: MemoryReassemblyStore = field(default_factory=MemoryReassemblyStore)
    operator: FakeOperator = field(default_factory=FakeOperator)
    status_endpoint: FakePartnerEndpoint = field(default_factory=FakePartnerEndpoint)
    handler: FakeHandlerClient = field(default_factory=FakeHandlerClient)
    clock: Clock = field(default_factory=Clock)
    messages: MessageLimits = field(default_factory=MessageLimits)
    handler_limits: HandlerTestLimits = field(default_factory=HandlerTestLimits)

    def __post_init__(self) -> None:
        for entity in (*OPERATORS, LINK, LINK2):
            self.entities.put(entity)
        numbers = {
            "op1#4444": ShortNumber(operator_id="op1", number="4444", tariff_plan_id="plan-1"),
            "op1#5555": ShortNumber(
                operator_id="op1", number="5555", billing_model=BillingModel.MT, tariff_plan_id="plan-1"
            ),
            "op2#6060": ShortNumber(operator_id="op2", number="6060", tariff_plan_id="plan-1"),
        }
        for number in numbers.values():
            self.entities.put(number)
        for partner_id in ("p1", "p2"):
            self.entities.put(
                Partner(
                    partner_id=partner_id,
                    name=partner_id,
                    email=f"{partner_id}@example.com",
                    status=PartnerStatus.ACTIVE,
                    created_at=T0,
                    callback_secrets=(SECRET,),
                )
            )
        for name, key in KEYS.items():
            partner_id = name.split("-")[0]
            scopes = ("messages:read",) if name.endswith("read") else ()
            self.entities.put(
                ApiKey(
                    key_hash=hash_token(key),
                    key_id=f"k-{name}",
                    partner_id=partner_id,
                    scopes=scopes,
                    created_at=T0,
                )
            )
        self.services = {
            "s1": service("s1", "p1", "ABC", ("op1#4444", "op2#6060")),
            "s-mt": service("s-mt", "p1", "GAME", ("op1#5555",)),
            "s2": service("s2", "p2", "XYZ", ("op1#4444",)),
            "s-off": service("s-off", "p1", "OFF", ("op1#4444",), status=ServiceStatus.SUSPENDED),
        }
        for svc in self.services.values():
            self.entities.put(svc)
            if svc.status is ServiceStatus.ACTIVE:
                for number_id in svc.short_numbers:
                    claim_prefix(self.entities, svc, number_id)
        store_plan(
            self.entities,
            TariffPlan(
                plan_id="plan-1",
                currency=GBP,
                effective_from_ms=0,
                numbers={
                    (n.operator_id, n.number): NumberTariff(
                        n.operator_id, n.number, GBP, price=PRICE, vat_bps=2_000, operator_share_bps=4_000
                    )
                    for n in numbers.values()
                },
                scale=CommissionScale.flat(3_000),
            ),
        )
        open_platform(self.ledger, GBP)
        for operator in OPERATORS:
            open_operator(self.ledger, operator.operator_id, GBP)
        for partner_id in ("p1", "p2"):
            open_partner(self.ledger, partner_id, GBP)
        CreditSpender(self.ledger, LEDGER_LIMITS).top_up("p1", "pay-1", CREDITS_TOPPED_UP, 0)
        self.charger = Charger(self.ledger, EntityPlanSource(self.entities), self.tally)

    # --- the API ---------------------------------------------------------------------------------

    def install(self) -> None:
        sms_web.use(
            sms_web.SmsDeps(
                entities=self.entities,
                ledger=self.ledger,
                events=self.events,
                limits=SendLimits(messages=self.messages, sms=SMS_LIMITS, ledger=LEDGER_LIMITS),
                clock=self.clock,
            )
        )
        test_tool_web.use(
            test_tool_web.HandlerTestDeps(
                entities=self.entities,
                mos=self.mos,
                log=self.test_log,
                deliveries=self.deliveries,
                mts=self.mts,
                events=self.intake,
                limits=self.handler_limits,
                cursor_key=CURSOR_KEY,
                clock=self.clock,
            )
        )
        partner_api.conventions.use(
            ConventionDeps(
                idempotency=MemoryIdempotencyStore(),
                counter=MemoryRateCounter(),
                limits=ApiLimits(),
                clock=self.clock,
            ),
            caller=partner_caller(lambda: self.entities),
        )

    @staticmethod
    def uninstall() -> None:
        sms_web.use(None)
        test_tool_web.use(None)
        partner_api.conventions.use(None)

    # --- balances --------------------------------------------------------------------------------

    def spendable(self, partner_id: str = "p1") -> int:
        total = self.ledger.balance(acc.partner(partner_id, Book.CREDITS)).headroom
        for slot in range(LEDGER_LIMITS.credit_block_slots_max):
            try:
                total += self.ledger.balance(acc.credit_block(partner_id, slot)).headroom
            except Exception:  # never opened
                continue
        return total

    def consumed(self) -> int:
        """Credits the platform has consumed (posted), over every partner."""
        return -self.ledger.balance(acc.platform(Book.CREDITS_CONSUMED)).net

    # --- the pipeline, driven by hand -------------------------------------------------------------

    def mo_processor(self) -> MoProcessor:
        return MoProcessor(
            store=self.mos,
            entities=self.entities,
            reassembly=self.reassembly,
            events=self.events,
            charger=self.charger,
            subscriptions=_must_not_subscribe,
            stops=_must_not_stop,
            limits=self.messages,
        )

    def dispatcher(self) -> PartnerDispatcher:
        return PartnerDispatcher(
            mos=self.mos,
            entities=self.entities,
            log=self.deliveries,
            outbox=self.outbox,
            events=self.events,
            dead_letters=self.dead,
            client=self.handler,
            limits=PartnerDeliveryLimits(attempts_max=3),
            random=lambda: 0.5,
        )

    def sender(self) -> MtSender:
        return MtSender(
            store=self.mts,
            entities=self.entities,
            events=self.events,
            charger=self.charger,
            operators=self.operator,
            limits=self.messages,
            http=OperatorMtLimits(),
        )

    def mt_events(self) -> MtEventsProcessor:
        return MtEventsProcessor(
            store=self.mts,
            entities=self.entities,
            billing=self.charger,
            callbacks=self.status_endpoint,
            outbox=self.outbox,
            events=self.events,
            limits=self.messages,
            delivery=PartnerDeliveryLimits(),
            random=lambda: 0.5,
        )

    def run_mos(self) -> None:
        """Every queued test MO through the MO processor, then its first delivery attempt.

        Retries the dispatcher schedules stay on the delivery queue (they would wait their delay).
        """
        while self.intake.published:
            self.mo_processor().process(self.intake.published.pop(0), now=self.clock())
        first = [(c, d) for c, d in self.events.delivery if c.attempt == 1]
        self.events.delivery[:] = [(c, d) for c, d in self.events.delivery if c.attempt > 1]
        for command, _ in first:
            self.dispatcher().dispatch(command, now=self.clock())

    def run_mts(self) -> None:
        """Every queued MT command through the MT processor, then its submit results and notices."""
        while self.events.mt:
            self.sender().process(self.events.mt.pop(0), now=self.clock())
        self.drain_dlr()

    def drain_dlr(self) -> None:
        while self.events.dlr or self.events.notify:
            if self.events.dlr:
                self.mt_events().handle(self.events.dlr.pop(0), now=self.clock())
            else:
                command, _ = self.events.notify.pop(0)
                self.mt_events().handle(command, now=self.clock())

    def receipt(self, operator_message_id: str, status: DlrStatus, link_id: str = LINK.link_id) -> None:
        event = DlrReceived(
            receipt_id=derived_id("dlr", link_id, operator_message_id, status.value),
            link_id=link_id,
            operator_message_id=operator_message_id,
            status=status,
            received_at=self.clock(),
        )
        self.mt_events().handle(event, now=self.clock())


def _must_not_subscribe(*args: object) -> None:
    raise AssertionError(f"subscriptions called: {args!r}")


def _must_not_stop(*args: object) -> int:
    raise AssertionError(f"stops called: {args!r}")


def handler_reply(text: str, status: int = 200) -> RawResponse:
    return RawResponse(status, {"content-type": "text/plain"}, text.encode())


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = KEYS["p1"],
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request to the partner API's Lambda handler, as API Gateway would pass it."""
    all_headers = {"Content-Type": "application/json"} | (headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    event = {
        "resource": "/v1/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.removeprefix("/v1/")},
        "stageVariables": None,
        "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": method, "path": path},
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    answer = partner_api.app.resolve(event, Context())
    text = answer["body"]
    out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    out |= {k.lower(): v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    return answer["statusCode"], out, json.loads(text) if text else None
