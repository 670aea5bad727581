"""Demo data for `make run`: what a new aggregator sets up first, and one partner ready to go.

Idempotent (puts by fixed ids), so every `make run` gives the same demo with the same credentials
printed. These are published local-only demo credentials: never used on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
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
    SmppAccount,
)
from smsbilling.domain.secrets import hash_password, hash_token

# Local-only demo credentials, printed by `make run`.
HTTP_LINK_TOKEN = "demo-link-token"  # noqa: S105
PARTNER_API_KEY = "demo-partner-key"
PARTNER_SMPP_SYSTEM_ID = "demopartner"
PARTNER_SMPP_PASSWORD = "demopass"  # noqa: S105 - SMPP 3.4 passwords are at most 8 characters


@dataclass(frozen=True)
class Demo:
    operator: Operator
    http_link: OperatorLink
    short_number: ShortNumber
    partner: Partner
    service: PartnerService
    http_link_token: str = HTTP_LINK_TOKEN
    partner_api_key: str = PARTNER_API_KEY
    smpp_system_id: str = PARTNER_SMPP_SYSTEM_ID
    smpp_password: str = PARTNER_SMPP_PASSWORD


def build(partner_handler_url: str | None = None) -> tuple[Demo, list[Any]]:
    """The demo entities (and the ones that only hold credentials), without storing them."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    operator = Operator(
        operator_id="demo-operator",
        name="Demo Mobile",
        country_code="44",
        currency="GBP",
        default_reply="Unknown request. Text HELP to 4444 for the list of services.",
    )
    http_link = OperatorLink(
        link_id="demo-http",
        operator_id=operator.operator_id,
        protocol=Protocol.HTTP,
        http_token_hash=hash_token(HTTP_LINK_TOKEN),
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
    )
    service = PartnerService(
        service_id="demo-service",
        partner_id=partner.partner_id,
        name="Demo quiz",
        prefix="ABC",
        short_numbers=(short_number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url=partner_handler_url,
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
    demo = Demo(operator, http_link, short_number, partner, service)
    return demo, [operator, http_link, short_number, partner, service, api_key, smpp]


def load(dynamodb: Any, entities_table: str, partner_handler_url: str | None = None) -> Demo:
    demo, entities = build(partner_handler_url)
    store = DynamoEntityStore(dynamodb, entities_table)
    for entity in entities:
        store.put(entity)
    return demo
