"""The HLR check on the deployed stack: the simulated provider of the local stage (docs/traffic/hlr.md).

Two partners send through ``POST /v1/sms`` to one operator (an HTTP SMSC outside the stack,
DemoOperator); an admin sets each partner's HLR switch through ``PUT /admin/partners/{id}/traffic``.
Partner "on" has the switch on: its MT to a number the simulated provider calls
unreachable (ending ``0404``) ends rejected with the HLR reason, never reaches the operator, and
its credits are refunded; its MT to a reachable number is sent and settled. Partner "off" has the
switch explicitly off: its MT to a number ending ``0404`` is sent, and nothing was looked up (no
``HLR#`` answer in the counters table). Nothing in between is stubbed.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.demo_peers import DemoOperator
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_hlr_cache import DynamoHlrCache
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
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
from smsbilling.domain.ledger import AccountNotFound, StoredTransfer, TransferState
from smsbilling.domain.mt import MtState
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.sms_credits import reservation_id
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.hlr import HlrStatus
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

CREDITS = 5
NUMBER = "7072"
LINK_TOKEN = "hlr-link-token"
MT_TOKEN = "hlr-operator-mt-token"
TIMEOUT_S = 90.0
UNREACHABLE_SUFFIX = "0404"  # the simulated provider's default (traffic.hlr_simulated_unreachable_suffixes)


@dataclass
class Sender:
    partner_id: str
    service_id: str
    key: str


@dataclass
class HlrWorld:
    stack: Stack
    operator: DemoOperator
    prefix: str  # the operator's number range
    on: Sender
    off: Sender

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)

    @property
    def mts(self) -> DynamoMtStore:
        return DynamoMtStore(self._dynamodb, self.stack.outputs["MessagesTableName"])

    @property
    def hlr_cache(self) -> DynamoHlrCache:
        return DynamoHlrCache(self._dynamodb, self.stack.outputs["CountersTableName"])

    def send(self, sender: Sender, destination: str, text: str) -> str:
        answer = self.stack.api.post(
            "/v1/sms",
            json={"service_id": sender.service_id, "destination": f"+{destination}", "text": text},
            headers={"Authorization": f"Bearer {sender.key}"},
        )
        assert answer.status_code == 202, answer.text
        message_id: str = answer.json()["message_id"]
        return message_id

    def final_mt(self, message_id: str) -> MtRecord:
        try:
            record: MtRecord = wait_for(
                lambda: (r := self.mts.get(message_id)) is not None and r.mt.state.is_final and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MT {message_id} not final: {self.mts.get(message_id)!r}") from error
        return record

    def settled(self, message_id: str) -> StoredTransfer:
        stored: StoredTransfer = wait_for(
            lambda: (
                (t := self.ledger.get_transfer(reservation_id(message_id))) is not None
                and t.state is not TransferState.PENDING
                and t
            ),
            TIMEOUT_S,
        )
        return stored

    def spendable(self, partner_id: str) -> int:
        total = 0
        accounts = [acc.partner(partner_id, Book.CREDITS)]
        accounts += [acc.credit_block(partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)]
        for account in accounts:
            with contextlib.suppress(AccountNotFound):
                total += self.ledger.balance(account).headroom
        return total

    def sent_to_operator(self) -> set[str]:
        return {json.loads(r.body)["message_id"] for r in self.operator.received}


def switch_hlr(stack: Stack, admin_key: str, partner_id: str, *, on: bool) -> None:
    """The partner's HLR switch, set as an admin does: ``PUT /admin/partners/{id}/traffic``."""
    answer = stack.api.put(
        f"/admin/partners/{partner_id}/traffic",
        json={"hlr_check": on},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["hlr_check"] is on
    got = stack.api.get(
        f"/admin/partners/{partner_id}/traffic", headers={"Authorization": f"Bearer {admin_key}"}
    )
    assert got.status_code == 200 and got.json()["hlr_check"] is on, got.text


def _sender(
    stack: Stack, entities: DynamoEntityStore, operator_id: str, name: str, suffix: str, now: datetime
) -> Sender:
    partner_id, key = f"p-hlr{name}-{suffix}", f"sk_hlr{name}_{uuid.uuid4().hex}"
    service = PartnerService(
        service_id=f"svc-hlr{name}-{suffix}",
        partner_id=partner_id,
        name=f"HLR {name} service",
        prefix=f"H{name.upper()}{suffix[:5].upper()}",
        short_numbers=(f"{operator_id}#{NUMBER}",),
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url="https://partner.invalid/mo",
        status=ServiceStatus.ACTIVE,
    )
    entities.put(
        Partner(
            partner_id=partner_id,
            name=f"HLR partner {name}",
            email=f"hlr-{name}@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        )
    )
    entities.put(
        ApiKey(key_hash=hash_token(key), key_id=f"k-{name}-{suffix}", partner_id=partner_id, created_at=now)
    )
    entities.put(service)
    claim_prefix(entities, service, service.short_numbers[0])
    price_numbers(
        stack,
        plan_id=f"plan-hlr{name}-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[NUMBER],
        price=100,
    )
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    CreditSpender(ledger, LedgerLimits()).top_up(
        partner_id, f"pay-hlr{name}-{suffix}", CREDITS, int(time.time() * 1000)
    )
    return Sender(partner_id, service.service_id, key)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[HlrWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id = f"op-hlr-{suffix}", f"l-hlr-{suffix}"
    prefix = f"4478{uuid.uuid4().int % 100_000:05d}"
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
    )
    now = datetime.now(UTC)
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    for entity in (
        Operator(
            operator_id=operator_id,
            name="HLR Mobile",
            country_code="44",
            currency="GBP",
            msisdn_prefixes=(prefix,),
        ),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
            mt_url=f"{operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        ShortNumber(
            operator_id=operator_id, number=NUMBER, billing_model=BillingModel.MO, tariff_plan_id="x"
        ),
    ):
        entities.put(entity)
    on = _sender(stack, entities, operator_id, "on", suffix, now)
    off = _sender(stack, entities, operator_id, "off", suffix, now)
    admin, admin_key = new_admin_key(f"it-admin-hlr-{suffix}", "HLR integration admin", now)
    entities.create(admin)
    switch_hlr(stack, admin_key, on.partner_id, on=True)
    switch_hlr(stack, admin_key, off.partner_id, on=False)
    try:
        yield HlrWorld(stack, operator, prefix, on, off)
    finally:
        operator.close()


def test_unreachable_is_rejected_unsent_and_refunded_reachable_is_sent(world: HlrWorld) -> None:
    unreachable, reachable = f"{world.prefix}{UNREACHABLE_SUFFIX}", f"{world.prefix}0123"
    refused_id = world.send(world.on, unreachable, "Your code is 1234")
    sent_id = world.send(world.on, reachable, "Your code is 5678")

    refused = world.final_mt(refused_id)
    assert refused.mt.state is MtState.REJECTED
    assert "hlr: subscriber unreachable (simulated: unknown subscriber)" in refused.mt.reason
    assert "hlr:unreachable:reject" in refused.controls
    assert world.settled(refused_id).state is TransferState.VOIDED  # the credits came back

    sent = world.final_mt(sent_id)
    assert sent.mt.state is MtState.DELIVERED and sent.controls == ()
    assert world.settled(sent_id).state is TransferState.POSTED
    got = world.sent_to_operator()
    assert sent_id in got and refused_id not in got
    assert world.spendable(world.on.partner_id) == CREDITS - 1

    now_s = int(time.time())  # both answers are cached for the next MTs to these numbers
    kept_unreachable = world.hlr_cache.get(unreachable, now_s=now_s)
    kept_reachable = world.hlr_cache.get(reachable, now_s=now_s)
    assert kept_unreachable is not None and kept_unreachable.status is HlrStatus.UNREACHABLE
    assert kept_reachable is not None and kept_reachable.status is HlrStatus.REACHABLE


def test_with_the_switch_off_nothing_is_looked_up(world: HlrWorld) -> None:
    unreachable = f"{world.prefix}1{UNREACHABLE_SUFFIX}"  # a number nobody else sent to
    message_id = world.send(world.off, unreachable, "Hello from a partner without HLR")

    record = world.final_mt(message_id)
    assert record.mt.state is MtState.DELIVERED and not any(c.startswith("hlr:") for c in record.controls)
    assert world.settled(message_id).state is TransferState.POSTED
    assert message_id in world.sent_to_operator()
    assert world.hlr_cache.get(unreachable, now_s=int(time.time())) is None  # never looked up
