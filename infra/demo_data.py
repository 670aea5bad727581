"""Demo data for `make run`: what a new aggregator sets up first, and one partner ready to go.

Idempotent (puts by fixed ids), so every `make run` gives the same demo with the same credentials
printed. These are published local-only demo credentials: never used on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore, EntityExists
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.domain.entities import (
    AdminKey,
    ApiKey,
    BillingModel,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    PrefixClaim,
    Protocol,
    ServiceStatus,
    ShortNumber,
    SmppAccount,
)
from smsbilling.domain.fraud_limits import FraudLimit, LimitDirection, LimitScope
from smsbilling.domain.routing import fold
from smsbilling.domain.secrets import hash_password, hash_token
from smsbilling.domain.spam import SpamKind, SpamRule
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.domain.traffic import Action, Window
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.plans import store_plan
from smsbilling.settings import LedgerLimits

# Local-only demo credentials, printed by `make run`.
HTTP_LINK_ID = "demo-http"
HTTP_LINK_TOKEN = "demo-link-token"  # noqa: S105
PARTNER_API_KEY = "demo-partner-key"
ADMIN_API_KEY = "demo-admin-key"  # the admin API's credential kind (not a partner key)
PARTNER_SMPP_SYSTEM_ID = "demopartner"
PARTNER_SMPP_PASSWORD = "demopass"  # noqa: S105 - SMPP 3.4 passwords are at most 8 characters
PARTNER_CALLBACK_SECRET = "whsec_demo_partner_0123456789abcdef"  # noqa: S105
OPERATOR_MT_TOKEN = "demo-operator-mt-token"  # noqa: S105 - what the platform shows the demo operator


# The demo tariff (common plan "demo-plan", the short number's tariff_plan_id): 1.50 GBP incl. 20 % VAT,
# the operator keeps 40 % of the net, the platform 30 % of the rest. Per MO: VAT 0.25, operator 0.50,
# partner 0.53, platform 0.22.
DEMO_PRICE_MINOR = 150
DEMO_CREDITS = 1_000  # prepaid SMS credits of the demo partner, so POST /v1/sms works out of the box
DEMO_CREDITS_PAYMENT_ID = "demo-credits"  # one top-up, however often the demo is stored:
DEMO_CREDITS_AT_MS = 1_767_225_600_000  # same id, same time (2026-01-01), so a repeat is the same post


def demo_plan(operator_id: str, number: str) -> TariffPlan:
    return TariffPlan(
        plan_id="demo-plan",
        currency="GBP",
        effective_from_ms=0,
        numbers={
            (operator_id, number): NumberTariff(
                operator_id, number, "GBP", price=DEMO_PRICE_MINOR, vat_bps=2_000, operator_share_bps=4_000
            )
        },
        scale=CommissionScale.flat(3_000),
    )


@dataclass(frozen=True)
class Demo:
    operator: Operator
    http_link: OperatorLink
    short_number: ShortNumber
    partner: Partner
    service: PartnerService
    plan: TariffPlan
    http_link_token: str = HTTP_LINK_TOKEN
    operator_mt_token: str = OPERATOR_MT_TOKEN
    partner_callback_secret: str = PARTNER_CALLBACK_SECRET
    partner_api_key: str = PARTNER_API_KEY
    admin_api_key: str = ADMIN_API_KEY
    smpp_system_id: str = PARTNER_SMPP_SYSTEM_ID
    smpp_password: str = PARTNER_SMPP_PASSWORD


def build(partner_url: str | None = None, operator_mt_url: str | None = None) -> tuple[Demo, list[Any]]:
    """The demo entities (and the ones that only hold credentials), without storing them.

    ``partner_url`` is the demo partner's server (infra.demo_peers.DemoPartner): the service's
    handler is its ``/mo`` and MT status callbacks go to its ``/status``. ``operator_mt_url`` is
    where the demo operator (DemoOperator) takes MTs for the HTTP link.
    """
    now = datetime(2026, 1, 1, tzinfo=UTC)
    operator = Operator(
        operator_id="demo-operator",
        name="Demo Mobile",
        country_code="44",
        currency="GBP",
        default_reply="Unknown request. Text HELP to 4444 for the list of services.",
        msisdn_prefixes=("447",),  # UK mobiles: where the partner's API sends are routed
    )
    http_link = OperatorLink(
        link_id=HTTP_LINK_ID,
        operator_id=operator.operator_id,
        protocol=Protocol.HTTP,
        http_token_hash=hash_token(HTTP_LINK_TOKEN),
        mt_url=operator_mt_url,
        mt_token=OPERATOR_MT_TOKEN if operator_mt_url else None,
    )
    short_number = ShortNumber(
        operator_id=operator.operator_id,
        number="4444",
        billing_model=BillingModel.MO,
        tariff_plan_id="demo-plan",
    )
    partner = Partner(
        partner_id="demo-partner",
        name="Demo Partner Ltd",
        email="partner@example.com",
        status=PartnerStatus.ACTIVE,
        created_at=now,
        callback_secrets=(PARTNER_CALLBACK_SECRET,),
    )
    service = PartnerService(
        service_id="demo-service",
        partner_id=partner.partner_id,
        name="Demo quiz",
        prefix="ABC",
        short_numbers=(short_number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url=f"{partner_url}/mo" if partner_url else None,
        status_url=f"{partner_url}/status" if partner_url else None,
        status=ServiceStatus.ACTIVE,
    )
    api_key = ApiKey(
        key_hash=hash_token(PARTNER_API_KEY),
        key_id="demo-key",
        partner_id=partner.partner_id,
        scopes=("partner",),
        created_at=now,
    )
    smpp = SmppAccount(
        system_id=PARTNER_SMPP_SYSTEM_ID,
        password_hash=hash_password(PARTNER_SMPP_PASSWORD),
        owner_kind="partner",
        owner_id=partner.partner_id,
        allowed_cidrs=("127.0.0.0/8",),
    )
    admin_key = AdminKey(
        key_hash=hash_token(ADMIN_API_KEY), key_id="demo-admin", name="Demo admin", created_at=now
    )
    # Traffic control to look at (GET /admin/fraud-limits, /admin/spam-rules; docs/traffic-control.md).
    subscriber_limit = FraudLimit(
        limit_id="demo-subscriber-hourly",
        direction=LimitDirection.MO,
        scope=LimitScope.SUBSCRIBER,
        window=Window.HOUR,
        threshold=30,
        action=Action.HOLD,
        note="demo: a subscriber paying for more than 30 MOs an hour waits for review",
        created_at=now,
    )
    spam_rule = SpamRule(
        rule_id="demo-prize",
        kind=SpamKind.PHRASE,
        pattern="free prize",
        action=Action.REJECT,
        reason="demo: lottery spam",
        created_at=now,
    )
    plan = demo_plan(operator.operator_id, short_number.number)
    demo = Demo(operator, http_link, short_number, partner, service, plan)
    return demo, [
        operator,
        http_link,
        short_number,
        partner,
        service,
        api_key,
        smpp,
        admin_key,
        subscriber_limit,
        spam_rule,
    ]


def load(
    dynamodb: Any,
    entities_table: str,
    partner_url: str | None = None,
    operator_mt_url: str | None = None,
    *,
    ledger_table: str | None = None,
) -> Demo:
    """Store the demo; with ``ledger_table`` also open the ledger accounts its charges post to."""
    demo, entities = build(partner_url, operator_mt_url)
    store = DynamoEntityStore(dynamodb, entities_table)
    for entity in entities:
        store.put(entity)
    store_plan(store, demo.plan)
    try:
        claim_prefix(store, demo.service, demo.short_number.entity_id)  # "ABC" on 4444
    except EntityExists:  # by an earlier run; anything else holding the demo prefix is a mistake
        held = store.get(PrefixClaim, f"{demo.short_number.entity_id}#{fold(demo.service.prefix)}")
        if held is None or held.service_id != demo.service.service_id:
            raise
    if ledger_table is not None:
        ledger = DynamoDbLedgerStore(ledger_table, dynamodb)
        open_platform(ledger, demo.plan.currency)
        open_operator(ledger, demo.operator.operator_id, demo.plan.currency)
        open_partner(ledger, demo.partner.partner_id, demo.plan.currency)
        CreditSpender(ledger, LedgerLimits()).top_up(
            demo.partner.partner_id,
            DEMO_CREDITS_PAYMENT_ID,
            DEMO_CREDITS,
            DEMO_CREDITS_AT_MS,
        )
    return demo
