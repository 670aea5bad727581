"""Duplicates on the deployed stack (docs/traffic/duplicates.md), with an operator and a partner outside it.

Partner API sends: the same SMS twice within the window is accepted twice (202) but the second
ends ``rejected`` with a ``duplicate: ...`` reason, never reaches the operator, and its reserved
credit is refunded; with ``allow_repeat`` both go out. MOs: the same MO (source, number, text)
under two operator ids is routed and charged once, the second rejected; the same operator id
again is the same message. Nothing in between is stubbed: the deployed MO and MT processors run
the deployed guard over the counters table.
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

from infra.demo_peers import DemoOperator, DemoPartner
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
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
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import AccountNotFound, StoredTransfer, TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.sms_credits import reservation_id
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

CREDITS = 10
NUMBER = "7072"
PRICE = 150
LINK_TOKEN = "dup-link-token"
MT_TOKEN = "dup-operator-mt-token"
SECRET = "whsec_dup_0123456789abcdef"
TIMEOUT_S = 90.0


@dataclass
class DupWorld:
    stack: Stack
    partner: DemoPartner
    operator: DemoOperator
    partner_id: str
    service: PartnerService
    link_id: str
    key: str
    prefix: str  # the operator's number range

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)

    @property
    def mts(self) -> DynamoMtStore:
        return DynamoMtStore(self._dynamodb, self.stack.outputs["MessagesTableName"])

    def destination(self, n: int) -> str:
        return f"{self.prefix}{n:03d}"

    def send(self, destination: str, text: str, **extra: Any) -> str:
        body = {"service_id": self.service.service_id, "destination": f"+{destination}", "text": text}
        answer = self.stack.api.post(
            "/v1/sms", json=body | extra, headers={"Authorization": f"Bearer {self.key}"}
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def send_mo(self, text: str, *, op_id: str, msisdn: str) -> str:
        answer = self.stack.api.post(
            f"/operator/links/{self.link_id}/mo",
            json={"operator_message_id": op_id, "source": f"+{msisdn}", "destination": NUMBER, "text": text},
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def spendable(self) -> int:
        total = 0
        accounts = [acc.partner(self.partner_id, Book.CREDITS)]
        accounts += [
            acc.credit_block(self.partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)
        ]
        for account in accounts:
            with contextlib.suppress(AccountNotFound):
                total += self.ledger.balance(account).headroom
        return total

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

    def decided(self, message_id: str) -> StoredMo:
        store = DynamoInboundStore(self._dynamodb, self.stack.outputs["MessagesTableName"])
        try:
            mo: StoredMo = wait_for(
                lambda: (m := store.get(message_id)) is not None and m.state.is_final and m, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def mo_charge(self, message_id: str) -> StoredTransfer | None:
        return self.ledger.get_transfer(transfer_id(message_id, str(TransferKind.MO_CHARGE)))

    def operator_got(self) -> set[str]:
        return {json.loads(r.body)["message_id"] for r in self.operator.received}


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[DupWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-dup-{suffix}", f"l-dup-{suffix}", f"p-dup-{suffix}"
    prefix = f"4478{uuid.uuid4().int % 100_000:05d}"
    partner = DemoPartner(secrets=[SECRET])
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
    )
    key = f"sk_dup_{uuid.uuid4().hex}"
    service = PartnerService(
        service_id=f"svc-dup-{suffix}",
        partner_id=partner_id,
        name="Dup service",
        prefix=f"D{suffix[:6].upper()}",
        short_numbers=(f"{operator_id}#{NUMBER}",),
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url=f"{partner.url}/mo",
        status_url=f"{partner.url}/status",
        status=ServiceStatus.ACTIVE,
    )
    now = datetime.now(UTC)
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    for entity in (
        Operator(
            operator_id=operator_id,
            name="Dup Mobile",
            country_code="44",
            currency="GBP",
            default_reply="Unknown keyword.",
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
        Partner(
            partner_id=partner_id,
            name="Dup partner",
            email="dup@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
            callback_secrets=(SECRET,),
        ),
        ApiKey(key_hash=hash_token(key), key_id=f"k-{suffix}", partner_id=partner_id, created_at=now),
        service,
    ):
        entities.put(entity)
    claim_prefix(entities, service, service.short_numbers[0])
    price_numbers(
        stack,
        plan_id=f"plan-dup-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[NUMBER],
        price=PRICE,
    )
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    CreditSpender(ledger, LedgerLimits()).top_up(
        partner_id, f"pay-{suffix}", CREDITS, int(time.time() * 1000)
    )
    try:
        yield DupWorld(stack, partner, operator, partner_id, service, link_id, key, prefix)
    finally:
        partner.close()
        operator.close()


def test_the_same_sms_twice_in_the_window_is_sent_once_and_the_repeat_refunded(world: DupWorld) -> None:
    before = world.spendable()
    destination = world.destination(1)
    first = world.send(destination, "Your parcel 4711 is on its way")
    original = world.final_mt(first)
    assert original.mt.state is MtState.DELIVERED, original

    second = world.send(destination, "your parcel 4711  is on its way")  # the same, lightly varied
    duplicate = world.final_mt(second)
    assert duplicate.mt.state is MtState.REJECTED, duplicate
    assert f"duplicate: repeats MT {first}" in duplicate.mt.reason
    assert "duplicate:same_content:reject" in duplicate.controls
    assert world.settled(first).state is TransferState.POSTED
    assert world.settled(second).state is TransferState.VOIDED  # its credit is back
    assert first in world.operator_got() and second not in world.operator_got()
    assert world.spendable() == before - 1

    callback = world.partner.wait_for(
        lambda r: r.path == "/status" and r.json()["message_id"] == second, timeout_s=TIMEOUT_S
    )
    assert callback.signature_ok and callback.json()["status"] == "rejected"


def test_two_identical_sms_at_once_exactly_one_goes_out(world: DupWorld) -> None:
    """Sent back to back, the MT processor may take them in either order: one wins, never both."""
    before = world.spendable()
    destination = world.destination(3)
    ids = [world.send(destination, "Flash sale: 20% off today") for _ in range(2)]

    records = {message_id: world.final_mt(message_id) for message_id in ids}
    states = sorted(r.mt.state.value for r in records.values())
    assert states == ["delivered", "rejected"], records
    [sent] = [m for m, r in records.items() if r.mt.state is MtState.DELIVERED]
    [refused] = [m for m, r in records.items() if r.mt.state is MtState.REJECTED]
    assert f"duplicate: repeats MT {sent}" in records[refused].mt.reason
    assert world.settled(refused).state is TransferState.VOIDED
    assert sent in world.operator_got() and refused not in world.operator_got()
    assert world.spendable() == before - 1


def test_allow_repeat_sends_both(world: DupWorld) -> None:
    before = world.spendable()
    destination = world.destination(2)
    first = world.send(destination, "Reminder: your appointment is at 10:00")
    second = world.send(destination, "Reminder: your appointment is at 10:00", allow_repeat=True)

    for message_id in (first, second):
        record = world.final_mt(message_id)
        assert record.mt.state is MtState.DELIVERED, record
        assert world.settled(message_id).state is TransferState.POSTED
    assert {first, second} <= world.operator_got()
    assert world.spendable() == before - 2


def test_the_same_mo_under_two_operator_ids_is_charged_once(world: DupWorld) -> None:
    msisdn, text = "447700900881", f"{world.service.prefix} vote 3"
    op_first = uuid.uuid4().hex
    first_id = world.send_mo(text, op_id=op_first, msisdn=msisdn)
    first = world.decided(first_id)
    assert first.state is MoState.ROUTED and first.charged_amount == PRICE, first

    second_id = world.send_mo(text.upper(), op_id=uuid.uuid4().hex, msisdn=msisdn)  # a new id, same MO
    assert second_id != first_id
    second = world.decided(second_id)
    assert second.state is MoState.REJECTED and second.charged_amount is None, second
    assert second.reason.startswith(f"duplicate: repeats MO {first_id}")
    assert world.mo_charge(first_id) is not None and world.mo_charge(second_id) is None

    # The operator repeats the first id: the same message, decided and charged once.
    assert world.send_mo(text, op_id=op_first, msisdn=msisdn) == first_id
    assert world.decided(first_id).state is MoState.ROUTED
    world.partner.wait_for(
        lambda r: r.path == "/mo" and r.json()["message_id"] == first_id, timeout_s=TIMEOUT_S
    )
    time.sleep(2)  # had the repeat or the duplicate gone on, the handler would be called by now
    calls = [r for r in world.partner.received if r.path == "/mo"]
    assert [r.json()["message_id"] for r in calls].count(first_id) == 1
    assert all(r.json()["message_id"] != second_id for r in calls)
    charge = world.mo_charge(first_id)
    assert charge is not None and charge.state is TransferState.POSTED and world.mo_charge(second_id) is None
