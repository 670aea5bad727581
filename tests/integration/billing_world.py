"""What every billed integration test sets up first: a partner's plan for some numbers, and the books."""

from __future__ import annotations

from collections.abc import Iterable

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.plans import store_plan
from tests.conftest import Stack

GBP = "GBP"


def price_numbers(
    stack: Stack, *, plan_id: str, partner_id: str, operator_id: str, numbers: Iterable[str], price: int
) -> None:
    """An individual GBP plan for ``partner_id`` on ``numbers`` and the ledger accounts it posts to.

    Each number costs ``price`` (minor units) with 20 % VAT included; the operator keeps 40 % of the
    net, the platform 30 % of the rest (flat): at 150, VAT 25, operator 50, platform 22, partner 53.
    The ledger is the whole session's, so every test bills in GBP.
    """
    tariffs = {
        (operator_id, n): NumberTariff(
            operator_id, n, GBP, price=price, vat_bps=2_000, operator_share_bps=4_000
        )
        for n in numbers
    }
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    store_plan(
        entities,
        TariffPlan(
            plan_id=plan_id,
            currency=GBP,
            effective_from_ms=0,
            numbers=tariffs,
            scale=CommissionScale.flat(3_000),
            partner_id=partner_id,
        ),
    )
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    open_platform(ledger, GBP)
    open_operator(ledger, operator_id, GBP)
    open_partner(ledger, partner_id, GBP)
