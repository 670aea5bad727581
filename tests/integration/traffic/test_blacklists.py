"""Blacklists on the deployed stack (docs/traffic/blacklists.md), with an operator and a partner outside it.

CSV lists are imported through the admin API (the partner's list) and the partner API (one
service's list); then an MO from a listed subscriber is dropped unbilled and never reaches the
handler, and an API send to a subscriber on the service's list ends ``rejected`` with the list's
reason, never reaches the operator, and its credit is refunded. A subscriber who sends
``<keyword> STOP`` to a subscription service lands on the partner's list (``opted_out``, seen
through ``GET /v1/blacklist``), the partner's sends to them stop and the partner cannot lift it.
Nothing in between is stubbed: the deployed MO and MT processors read the entities table.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.demo_peers import DemoOperator, DemoPartner
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
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
    SubscriptionTerms,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import StoredTransfer, TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.sms_credits import reservation_id
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

NUMBER = "7073"
PRICE = 150
CREDITS = 10
LINK_TOKEN = "bl-link-token"
MT_TOKEN = "bl-operator-mt-token"
SECRET = "whsec_bl_0123456789abcdef"
TIMEOUT_S = 90.0


@dataclass
class BlWorld:
    stack: Stack
    partner: DemoPartner
    operator: DemoOperator
    partner_id: str
    service: PartnerService  # MO-billed, plain
    subscription: PartnerService  # an MT-subscription on the same number
    link_id: str
    key: str
    admin_key: str
    prefix: str  # the operator's number range

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)

    def subscriber(self, n: int) -> str:
        return f"{self.prefix}{n:03d}"

    def partner_api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} | kw.pop("headers", {})
        return self.stack.api.request(method, path, headers=headers, **kw)

    def admin_api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"} | kw.pop("headers", {})
        return self.stack.api.request(method, path, headers=headers, **kw)

    def send_mo(self, text: str, msisdn: str) -> str:
        answer = self.stack.api.post(
            f"/operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": uuid.uuid4().hex,
                "source": f"+{msisdn}",
                "destination": NUMBER,
                "text": text,
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def decided(self, message_id: str) -> StoredMo:
        store = DynamoInboundStore(self._dynamodb, self.stack.outputs["MessagesTableName"])
        try:
            mo: StoredMo = wait_for(
                lambda: (m := store.get(message_id)) is not None and m.state.is_final and m, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def send(self, destination: str, text: str) -> str:
        body = {"service_id": self.service.service_id, "destination": f"+{destination}", "text": text}
        answer = self.partner_api("POST", "/v1/sms", json=body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def final_mt(self, message_id: str) -> MtRecord:
        mts = DynamoMtStore(self._dynamodb, self.stack.outputs["MessagesTableName"])
        try:
            record: MtRecord = wait_for(
                lambda: (r := mts.get(message_id)) is not None and r.mt.state.is_final and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MT {message_id} not final: {mts.get(message_id)!r}") from error
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


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[BlWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-bl-{suffix}", f"l-bl-{suffix}", f"p-bl-{suffix}"
    prefix = f"4479{uuid.uuid4().int % 100_000:05d}"
    partner = DemoPartner(secrets=[SECRET])
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
    )
    key = f"sk_bl_{uuid.uuid4().hex}"
    numbers = (f"{operator_id}#{NUMBER}",)
    service = PartnerService(
        service_id=f"svc-bl-{suffix}",
        partner_id=partner_id,
        name="Blacklist service",
        prefix=f"B{suffix[:6].upper()}",
        short_numbers=numbers,
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url=f"{partner.url}/mo",
        status_url=f"{partner.url}/status",
        status=ServiceStatus.ACTIVE,
    )
    subscription = service.model_copy(
        update={
            "service_id": f"svc-bls-{suffix}",
            "name": "Blacklist subscription",
            "prefix": f"S{suffix[:6].upper()}",
            "subscription": SubscriptionTerms(),
        }
    )
    now = datetime.now(UTC)
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    admin, admin_key = new_admin_key(f"it-bl-admin-{suffix}", "Blacklist admin", now)
    entities.create(admin)
    for entity in (
        Operator(
            operator_id=operator_id,
            name="Blacklist Mobile",
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
            name="Blacklist partner",
            email="bl@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
            callback_secrets=(SECRET,),
        ),
        ApiKey(key_hash=hash_token(key), key_id=f"k-{suffix}", partner_id=partner_id, created_at=now),
        service,
        subscription,
    ):
        entities.put(entity)
    for each in (service, subscription):
        claim_prefix(entities, each, numbers[0])
    price_numbers(
        stack,
        plan_id=f"plan-bl-{suffix}",
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
        yield BlWorld(
            stack, partner, operator, partner_id, service, subscription, link_id, key, admin_key, prefix
        )
    finally:
        for peer in (partner, operator):
            with contextlib.suppress(Exception):
                peer.close()


def test_imported_lists_drop_mos_unbilled_and_reject_mts_with_the_reason(world: BlWorld) -> None:
    complained, service_only, free = world.subscriber(1), world.subscriber(2), world.subscriber(3)
    by_admin = world.admin_api(
        "POST",
        f"/admin/blacklist/import?partner_id={world.partner_id}",
        content=f"msisdn,reason\n+{complained},complained to the regulator\n",
        headers={"Content-Type": "text/csv"},
    )
    assert by_admin.status_code == 200, by_admin.text
    assert (by_admin.json()["added"], by_admin.json()["errors"]) == (1, [])
    service_id = world.service.service_id
    by_partner = world.partner_api(
        "POST",
        f"/v1/blacklist/import?service_id={service_id}",
        content=f"00{service_only[:2]} {service_only[2:]};asked by phone\nnot a number\n",
        headers={"Content-Type": "text/csv"},
    )
    assert by_partner.status_code == 200, by_partner.text
    assert by_partner.json()["added"] == 1 and [e["line"] for e in by_partner.json()["errors"]] == [2]
    listed = world.partner_api("GET", "/v1/blacklist", params={"service_id": service_id}).json()["items"]
    assert [(item["msisdn"], item["reason"]) for item in listed] == [(service_only, "asked by phone")]
    other_partner = world.partner_api("GET", "/v1/blacklist", params={"service_id": "svc-nobody"})
    assert other_partner.status_code == 404

    # an MO from the partner-listed subscriber: dropped, never charged, never handed to the partner
    dropped = world.decided(world.send_mo(f"{world.service.prefix} vote 1", complained))
    assert dropped.state is MoState.BLACKLISTED and dropped.charged_amount is None, dropped
    assert (
        dropped.reason == f"the subscriber is blacklisted by {world.partner_id}: complained to the regulator"
    )
    assert world.ledger.get_transfer(transfer_id(dropped.message_id, str(TransferKind.MO_CHARGE))) is None
    served = world.decided(world.send_mo(f"{world.service.prefix} vote 2", free))
    assert served.state is MoState.ROUTED and served.charged_amount == PRICE, served
    world.partner.wait_for(lambda r: r.path == "/mo" and r.json()["message_id"] == served.message_id)
    assert all(
        r.json().get("message_id") != dropped.message_id for r in world.partner.received if r.path == "/mo"
    )

    # an API send to the service-listed subscriber: rejected with the reason, refunded, never sent
    refused = world.final_mt(world.send(service_only, "Your weekly offer"))
    assert refused.mt.state is MtState.REJECTED, refused
    assert f"blacklisted by {world.partner_id} for service {service_id}: asked by phone" in refused.mt.reason
    assert world.settled(refused.message_id).state is TransferState.VOIDED
    assert refused.message_id not in {r.json()["message_id"] for r in world.operator.received}


def test_stop_puts_the_subscriber_on_the_partners_list(world: BlWorld) -> None:
    subscriber = world.subscriber(4)
    keyword = world.subscription.prefix
    assert world.decided(world.send_mo(keyword, subscriber)).state is MoState.ROUTED
    assert world.decided(world.send_mo(f"{keyword} STOP", subscriber)).state is MoState.ROUTED
    entry = world.partner_api("GET", f"/v1/blacklist/{subscriber}")
    assert entry.status_code == 200, entry.text
    assert entry.json()["opted_out"] is True and entry.json()["reason"].startswith("STOP from subscriber at ")
    listed = world.partner_api("GET", "/v1/blacklist", params={"limit": 200}).json()["items"]
    assert subscriber in {item["msisdn"] for item in listed}
    lift = world.partner_api("DELETE", f"/v1/blacklist/{subscriber}")
    assert (lift.status_code, lift.json()["code"]) == (409, "opted_out")

    # the goodbye went out; the partner's own sends to them do not
    world.operator.wait_for(
        lambda r: r.json()["destination"] == subscriber and "unsubscribed" in r.json()["text"]
    )
    refused = world.final_mt(world.send(subscriber, "We miss you"))
    assert refused.mt.state is MtState.REJECTED and "STOP from subscriber" in refused.mt.reason, refused
    assert world.settled(refused.message_id).state is TransferState.VOIDED
