"""Two partners' traffic over in-memory stores, driven through the real MO processor and charger.

p1 owns service s1 (prefix ABC on MO-billed 4444 and MT-billed 5555); p2 owns s2 (prefix XYZ on
4444) and was referred by p3. Every charge is counted in :class:`MemoryStatisticsStore` through
the :class:`Charger`, as the deployed functions do.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher as IntakeEvents
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_message_search import MemoryMessageSearch
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.adapters.memory_reassembly import MemoryReassemblyStore
from smsbilling.adapters.memory_statistics import MemoryStatisticsStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import MtPurpose
from smsbilling.domain import mt as lifecycle
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
from smsbilling.domain.inbound import InboundMo, StoredMo
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.charging import Charger
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mo_intake import accept_mo
from smsbilling.logic.mo_processing import MoProcessor, claim_prefix
from smsbilling.logic.plans import EntityPlanSource, store_plan
from smsbilling.ports import MtOrigin, MtRecord
from smsbilling.settings import ApiLimits, MessageLimits, ReportLimits
from smsbilling.web import balance as balance_web
from smsbilling.web import messages as messages_web
from smsbilling.web import statistics as statistics_web
from smsbilling.web.conventions import ConventionDeps, partner_caller

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GBP = "GBP"
OP = "op1"
MO_NUMBER, MT_NUMBER = "4444", "5555"
PRICE = 150  # 20 % VAT, operator 40 % of net, platform 30 %: partner share 53
SHARE = 53
KEYS = {
    "p1": "sk_live_partner_one_0123456789",
    "p2": "sk_live_partner_two_0123456789",
    "p1-messages": "sk_live_p1_messages_only_0123",
}
CURSOR_KEY = b"unit-test-cursor-key-0123456789"

partner_api = importlib.import_module("functions.partner_api.app")


def _service(service_id: str, partner_id: str, prefix: str, numbers: tuple[str, ...]) -> PartnerService:
    return PartnerService(
        service_id=service_id,
        partner_id=partner_id,
        name=service_id,
        prefix=prefix,
        short_numbers=numbers,
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="https://partner.example/mo",
        status=ServiceStatus.ACTIVE,
    )


S1 = _service("s1", "p1", "ABC", (f"{OP}#{MO_NUMBER}", f"{OP}#{MT_NUMBER}"))
S2 = _service("s2", "p2", "XYZ", (f"{OP}#{MO_NUMBER}",))
LINK = OperatorLink(link_id="l1", operator_id=OP, protocol=Protocol.HTTP)


class Context:
    function_name = "partner-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:partner-api"
    aws_request_id = "req-1"


@dataclass
class World:
    entities: MemoryEntityStore = field(default_factory=MemoryEntityStore)
    mos: MemoryInboundStore = field(default_factory=MemoryInboundStore)
    mts: MemoryMtStore = field(default_factory=MemoryMtStore)
    ledger: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    statistics: MemoryStatisticsStore = field(default_factory=MemoryStatisticsStore)
    tally: MemoryTallyStore = field(default_factory=MemoryTallyStore)
    intake: IntakeEvents = field(default_factory=IntakeEvents)
    events: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)
    limits: ReportLimits = field(default_factory=lambda: ReportLimits(page_size_default=3))
    page_size_max: int = 5

    def __post_init__(self) -> None:
        self.entities.put(Operator(operator_id=OP, name="Op", country_code="44", currency=GBP))
        self.entities.put(LINK)
        for partner_id, referrer in (("p1", None), ("p2", "p3"), ("p3", None)):
            self.entities.put(
                Partner(
                    partner_id=partner_id,
                    name=partner_id,
                    email=f"{partner_id}@example.com",
                    status=PartnerStatus.ACTIVE,
                    created_at=T0,
                    referrer_id=referrer,
                )
            )
            open_partner(self.ledger, partner_id, GBP, block_slots=2)
        for name, key in KEYS.items():
            partner_id = name.split("-")[0]
            scopes = ("messages:read",) if name.endswith("messages") else ()
            self.entities.put(
                ApiKey(
                    key_hash=hash_token(key),
                    key_id=f"k-{name}",
                    partner_id=partner_id,
                    scopes=scopes,
                    created_at=T0,
                )
            )
        self.entities.put(ShortNumber(operator_id=OP, number=MO_NUMBER, tariff_plan_id="plan"))
        self.entities.put(
            ShortNumber(
                operator_id=OP, number=MT_NUMBER, billing_model=BillingModel.MT, tariff_plan_id="plan"
            )
        )
        for service in (S1, S2):
            self.entities.put(service)
            for number_id in service.short_numbers:
                claim_prefix(self.entities, service, number_id)
        store_plan(
            self.entities,
            TariffPlan(
                plan_id="plan",
                currency=GBP,
                effective_from_ms=0,
                numbers={
                    (OP, n): NumberTariff(OP, n, GBP, price=PRICE, vat_bps=2_000, operator_share_bps=4_000)
                    for n in (MO_NUMBER, MT_NUMBER)
                },
                scale=CommissionScale.flat(3_000),
                referral_bps=1_000,
            ),
        )
        open_platform(self.ledger, GBP)
        open_operator(self.ledger, OP, GBP)
        self.charger = Charger(self.ledger, EntityPlanSource(self.entities), self.tally, self.statistics)
        self.search = MemoryMessageSearch(self.mos, self.mts)
        self._sent = 0

    # --- traffic ----------------------------------------------------------------------------------

    def mo(
        self, text: str, *, at: datetime, msisdn: str = "447700900123", number: str = MO_NUMBER
    ) -> StoredMo:
        """An MO through intake and the real MO processor (routed and, on 4444, charged)."""
        self._sent += 1
        inbound = InboundMo(
            operator_message_id=f"op-{self._sent}", source=f"+{msisdn}", destination=number, text=text
        )
        accept_mo(LINK, inbound, now=at, store=self.mos, events=self.intake)
        return self.processor().process(self.intake.published[-1], now=at)

    def processor(self) -> MoProcessor:
        return MoProcessor(
            store=self.mos,
            entities=self.entities,
            reassembly=MemoryReassemblyStore(),
            events=self.events,
            charger=self.charger,
            subscriptions=lambda *_: None,
            stops=lambda *_: 0,
            limits=MessageLimits(),
        )

    def mt(
        self,
        message_id: str,
        *,
        partner_id: str = "p1",
        at: datetime,
        final: DlrStatus | None = DlrStatus.DELIVERED,
        billed: bool = False,
        msisdn: str = "447700900123",
        test: bool = False,
    ) -> MtRecord:
        """An MT record (reply to a subscriber), final with ``final`` unless None; billed ones charged."""
        at_ms = int(at.timestamp() * 1000)
        mt = lifecycle.new_mt(message_id, 1, now_ms=at_ms, final_wait_ms=3_600_000)
        if final is not None:
            mt = lifecycle.apply(mt, lifecycle.HandedToLink(at_ms)).mt
            mt = lifecycle.apply(
                mt, lifecycle.SubmitAccepted(0, f"x-{message_id}", f"x-{message_id}", at_ms)
            ).mt
            mt = lifecycle.apply(mt, lifecycle.ReceiptReceived(f"x-{message_id}", final, "", at_ms + 500)).mt
        record = MtRecord(
            mt=mt,
            origin=MtOrigin.REQUESTED,
            purpose=MtPurpose.REPLY,
            partner_id=partner_id,
            service_id="s1" if partner_id == "p1" else "s2",
            operator_id=OP,
            link_id="l1",
            source=MT_NUMBER if billed else MO_NUMBER,
            destination=msisdn,
            text=f"reply {message_id}",
            billed=billed,
            is_test=test,
            created_at=at,
        )
        self.mts.create(record)
        if billed:
            service = S1 if partner_id == "p1" else S2
            self.charger.charge(
                message_id=message_id,
                service=service,
                referrer_id=None,
                operator_id=OP,
                short_number=MT_NUMBER,
                at_ms=at_ms,
                mt_billing=True,
            )
            if final is DlrStatus.DELIVERED:
                self.charger.confirm_mt(message_id)
            elif final is not None:
                self.charger.cancel_mt(message_id, partner_id)
        return record

    # --- the API ----------------------------------------------------------------------------------

    def install(self) -> None:
        messages_web.use(
            messages_web.MessagesDeps(
                entities=self.entities,
                search=self.search,
                mos=self.mos,
                mts=self.mts,
                limits=self.limits,
                page_size_max=self.page_size_max,
                cursor_key=CURSOR_KEY,
            )
        )
        statistics_web.use(
            statistics_web.StatisticsDeps(
                entities=self.entities,
                reader=self.statistics,
                limits=self.limits,
                clock=lambda: T0 + timedelta(days=1),
            )
        )
        balance_web.use(
            balance_web.BalanceDeps(
                entities=self.entities,
                ledger=self.ledger,
                limits=self.limits,
                page_size_max=self.page_size_max,
                block_slots_max=2,
                cursor_key=CURSOR_KEY,
            )
        )
        partner_api.conventions.use(
            ConventionDeps(
                idempotency=MemoryIdempotencyStore(),
                counter=MemoryRateCounter(),
                limits=ApiLimits(api_key_requests_per_s_max=10_000, api_key_requests_per_min_max=10_000),
            ),
            caller=partner_caller(lambda: self.entities),
        )

    @staticmethod
    def uninstall() -> None:
        messages_web.use(None)
        statistics_web.use(None)
        balance_web.use(None)
        partner_api.conventions.use(None)


def get(path: str, params: dict[str, str] | None = None, *, key: str | None = KEYS["p1"]) -> tuple[int, Any]:
    """``GET path`` through the partner API function, as API Gateway calls it."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    event = {
        "resource": "/v1/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} if params else None,
        "pathParameters": {"proxy": path.removeprefix("/v1/")},
        "stageVariables": None,
        "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": "GET", "path": path},
        "body": None,
        "isBase64Encoded": False,
    }
    answer = partner_api.app.resolve(event, Context())
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


def all_pages(
    path: str, params: dict[str, str] | None = None, *, key: str = KEYS["p1"]
) -> list[dict[str, Any]]:
    """Every item of a cursor listing, following ``next_cursor`` (each page checked 200)."""
    items: list[dict[str, Any]] = []
    query = dict(params or {})
    for _ in range(100):
        status, body = get(path, query, key=key)
        assert status == 200, body
        items += body["items"]
        if body["next_cursor"] is None:
            return items
        query["cursor"] = body["next_cursor"]
    raise AssertionError("the listing never ended")
