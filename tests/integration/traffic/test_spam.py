# ruff: noqa: RUF001
"""Anti-spam on the deployed stack (docs/traffic/anti-spam.md), with an operator and a partner outside it.

The admin API sets a platform-wide reject rule and a hold rule for this module's partner; the
partner sends through ``POST /v1/sms``. An obfuscated spam text ends ``rejected`` with its
``spam: matched ...`` reason, never reaches the operator, and its reserved credit is refunded; a
text the partner's hold rule matches waits ``held`` for an admin (nothing sent, nothing charged);
a clean text goes out. Nothing in between is stubbed: the deployed MT processor runs the deployed
guard over the entities table.
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

import httpx
import pytest

from infra.demo_peers import DemoOperator
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
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
from smsbilling.domain.traffic import HeldMessage, HeldStatus
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.credits import CreditSpender
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

CREDITS = 10
NUMBER = "7073"
LINK_TOKEN = "spam-link-token"
MT_TOKEN = "spam-operator-mt-token"
TIMEOUT_S = 90.0


@dataclass
class SpamWorld:
    stack: Stack
    operator: DemoOperator
    partner_id: str
    service_id: str
    key: str
    admin_key: str
    prefix: str  # the operator's number range
    suffix: str  # of this module's ids

    @property
    def tag(self) -> str:
        """A word in this run's global rule, so that it matches this run's texts only (letters
        only: no digit a skeleton would read as a letter)."""
        return "".join(chr(ord("a") + int(digit, 16)) for digit in self.suffix)

    @property
    def global_rule(self) -> str:
        return f"g-{self.suffix}"

    @property
    def partner_rule(self) -> str:
        return f"p-{self.suffix}"

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
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self._dynamodb, self.stack.outputs["EntitiesTableName"])

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.stack.api.request(method, path.lstrip("/"), json=body, headers=headers)

    def send(self, n: int, text: str) -> str:
        body = {"service_id": self.service_id, "destination": f"+{self.prefix}{n:03d}", "text": text}
        answer = self.stack.api.post("/v1/sms", json=body, headers={"Authorization": f"Bearer {self.key}"})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def message(self, message_id: str) -> dict[str, Any]:
        answer = self.stack.api.get(
            f"/v1/messages/{message_id}", headers={"Authorization": f"Bearer {self.key}"}
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

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

    def held_mt(self, message_id: str) -> MtRecord:
        try:
            record: MtRecord = wait_for(
                lambda: (r := self.mts.get(message_id)) is not None and bool(r.held_reason) and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MT {message_id} not held: {self.mts.get(message_id)!r}") from error
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

    def operator_got(self) -> set[str]:
        return {json.loads(r.body)["message_id"] for r in self.operator.received}


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[SpamWorld]:
    """An operator with an HTTP link, a partner with credits, an API key and a service, an admin key,
    and this module's spam rules (set through the admin API, then given time to reach the MT
    processors' rule caches)."""
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-spam-{suffix}", f"l-spam-{suffix}", f"p-spam-{suffix}"
    prefix = f"4479{uuid.uuid4().int % 100_000:05d}"
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
    )
    key = f"sk_spam_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    admin, admin_key = new_admin_key(f"it-spam-{suffix}", "Anti-spam tests", now)
    service = PartnerService(
        service_id=f"svc-spam-{suffix}",
        partner_id=partner_id,
        name="Spam-test service",
        prefix=f"S{suffix[:6].upper()}",
        short_numbers=(f"{operator_id}#{NUMBER}",),
        handler_kind=HandlerKind.SMPP,
        smpp_system_id=f"sp{suffix[:6]}",
        status=ServiceStatus.ACTIVE,
    )
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    for entity in (
        admin,
        Operator(
            operator_id=operator_id,
            name="Spam Mobile",
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
        Partner(
            partner_id=partner_id,
            name="Spam-test partner",
            email="spam@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        ),
        ApiKey(key_hash=hash_token(key), key_id=f"k-{suffix}", partner_id=partner_id, created_at=now),
        service,
    ):
        entities.put(entity)
    # The books (platform, operator, partner) the credits and their refunds post to.
    price_numbers(
        stack,
        plan_id=f"plan-spam-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[NUMBER],
        price=150,
    )
    CreditSpender(
        DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb")), LedgerLimits()
    ).top_up(partner_id, f"pay-{suffix}", CREDITS, int(time.time() * 1000))
    world = SpamWorld(stack, operator, partner_id, service.service_id, key, admin_key, prefix, suffix)
    rules = [
        # Platform-wide: every partner's MTs; the tag keeps other modules' texts out of it.
        {
            "rule_id": world.global_rule,
            "kind": "phrase",
            "pattern": f"free prize {world.tag}",
            "action": "reject",
        },
        # This partner's only.
        {
            "rule_id": world.partner_rule,
            "kind": "word",
            "pattern": "казино",
            "action": "hold",
            "partner_id": partner_id,
        },
    ]
    for body in rules:
        created = world.admin("POST", "/admin/spam-rules", body)
        assert created.status_code == 201, created.text
    time.sleep(STACK_RULES_CACHE_S + 3)  # every warm MT processor reads the rules again
    try:
        yield world
    finally:
        for body in rules:
            world.admin("DELETE", f"/admin/spam-rules/{body['rule_id']}")
        operator.close()


def test_obfuscated_spam_is_rejected_with_its_reason_and_refunded(world: SpamWorld) -> None:
    rule_id = world.global_rule
    listed = world.admin("GET", f"/admin/spam-rules/{rule_id}")
    assert listed.status_code == 200 and listed.json()["partner_id"] is None, listed.text
    before = world.spendable()

    spam = world.send(1, f"Claim your FR3E  PR\u200b1ZE {world.tag.upper()} now!")
    record = world.final_mt(spam)
    assert record.mt.state is MtState.REJECTED, record
    shown_as = f'(as "FR3E PR1ZE {world.tag.upper()}")'  # as written, invisible characters dropped
    expected = f'spam: matched phrase rule {rule_id} "free prize {world.tag}" {shown_as}'
    assert expected in record.mt.reason, record  # the pipeline may say what refused it first
    assert f"spam:{rule_id}:reject" in record.controls
    shown = world.message(spam)
    assert shown["status"] == "rejected" and shown["reason"] == record.mt.reason
    assert world.settled(spam).state is TransferState.VOIDED  # its credit is back
    assert world.spendable() == before

    clean = world.send(2, f"Your prize draw ticket {world.tag} is confirmed, good luck")
    sent = world.final_mt(clean)
    assert sent.mt.state is MtState.DELIVERED, sent
    assert not any(label.startswith("spam:") for label in sent.controls)
    assert world.settled(clean).state is TransferState.POSTED
    assert clean in world.operator_got() and spam not in world.operator_got()
    assert world.spendable() == before - 1


def test_the_partners_hold_rule_keeps_the_mt_for_an_admin(world: SpamWorld) -> None:
    rule_id = world.partner_rule
    assert [
        r["rule_id"]
        for r in world.admin("GET", f"/admin/spam-rules?partner_id={world.partner_id}").json()["items"]
    ] == [rule_id]
    before = world.spendable()

    held = world.send(3, "Онлайн КАЗИН0: бонус 200% на первый депозит")
    record = world.held_mt(held)
    assert record.mt.state is MtState.QUEUED, record
    assert record.held_reason.startswith(f'spam: matched word rule {rule_id} "казино" (as "КАЗИН0")'), record
    review = world.entities.get(HeldMessage, held)
    assert review is not None and review.status is HeldStatus.HELD and f"spam:{rule_id}:hold" in review.labels
    shown = world.message(held)
    assert shown["status"] == "held" and shown["reason"] == record.held_reason
    time.sleep(3)  # had it gone on, the operator would have it by now
    assert held not in world.operator_got()
    assert world.mts.get(held).mt.state is MtState.QUEUED  # type: ignore[union-attr]

    # The admin refuses it: it ends rejected, never sent, its credit back.
    decided = world.admin("POST", f"/admin/held/{held}/reject", {"note": "casino spam"})
    assert decided.status_code == 200, decided.text
    final = world.final_mt(held)
    assert final.mt.state is MtState.REJECTED, final
    assert world.settled(held).state is TransferState.VOIDED
    assert held not in world.operator_got()
    assert world.spendable() == before
