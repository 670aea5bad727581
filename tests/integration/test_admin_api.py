"""The admin API over real HTTP on the deployed stack: an admin sets the platform up and it works.

The admin creates an operator, its HTTP link (with the token the operator will present), a short
number and an individual tariff plan, approves a partner's service, blacklists a subscriber and
adjusts the partner's balance. Then the operator sends MOs through that link: the one from the
blacklisted subscriber is dropped, the other is routed to the approved service and charged by the
admin's plan. A partner key gets 403 on admin operations and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import smpplib.client
import smpplib.exceptions

from infra import run_local
from infra.localcloud import free_port
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import (
    AdminKey,
    ApiKey,
    HandlerKind,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.secrets import hash_token, token_matches
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.ledger_setup import open_partner
from smsbilling.logic.mo_processing import claim_prefix
from tests.conftest import Stack
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

GBP = "GBP"
NUMBER = "6101"
LINK_TOKEN = "admin-made-link-token-0123456789"
TIMEOUT_S = 90.0


@dataclass
class World:
    stack: Stack
    suffix: str
    admin_key: str
    admin_key_id: str
    partner_key: str
    partner_id: str
    service_id: str

    @property
    def operator_id(self) -> str:
        return f"op-adm-{self.suffix}"

    @property
    def link_id(self) -> str:
        return f"l-adm-{self.suffix}"

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self.stack.client("dynamodb"), self.stack.outputs["EntitiesTableName"])

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self.stack.client("dynamodb"))

    def admin(self, method: str, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return self.stack.api.request(method, path.lstrip("/"), json=body, headers=headers)

    def send_mo(self, text: str, msisdn: str) -> StoredMo:
        answer = self.stack.api.post(
            f"operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": uuid.uuid4().hex,
                "source": f"+{msisdn}",
                "destination": NUMBER,
                "text": text,
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        message_id = answer.json()["message_id"]
        store = DynamoInboundStore(self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"])
        mo: StoredMo = wait_for(
            lambda: (m := store.get(message_id)) is not None and m.state.is_final and m, TIMEOUT_S
        )
        return mo


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    """An admin key (put as docs/admin-api.md says), and a partner with a key and a pending service."""
    suffix = uuid.uuid4().hex[:8]
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    now = datetime.now(UTC)
    admin, admin_key = new_admin_key(f"it-admin-{suffix}", "Integration admin", now)
    entities.create(admin)
    partner_id, service_id = f"p-adm-{suffix}", f"svc-adm-{suffix}"
    partner_key = f"sk_adm_{uuid.uuid4().hex}"
    entities.put(
        Partner(
            partner_id=partner_id,
            name="Admin-moderated partner",
            email="moderated@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        )
    )
    entities.put(
        ApiKey(key_hash=hash_token(partner_key), key_id=f"k-{suffix}", partner_id=partner_id, created_at=now)
    )
    open_partner(
        DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb")), partner_id, GBP
    )
    yield World(stack, suffix, admin_key, admin.key_id, partner_key, partner_id, service_id)


def _service(world: World) -> PartnerService:
    """What the partner API makes when the partner adds a service: pending moderation, prefix claimed."""
    service = PartnerService(
        service_id=world.service_id,
        partner_id=world.partner_id,
        name="Quiz",
        prefix=f"Q{world.suffix}",
        short_numbers=(f"{world.operator_id}#{NUMBER}",),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="http://127.0.0.1:9/mo",
        status=ServiceStatus.PENDING_MODERATION,
    )
    world.entities.put(service)
    claim_prefix(world.entities, service, f"{world.operator_id}#{NUMBER}")
    return service


def test_an_admin_sets_up_the_platform_and_traffic_follows(world: World) -> None:
    operator = {
        "operator_id": world.operator_id,
        "name": "Admin Mobile",
        "country_code": "44",
        "currency": GBP,
    }
    assert world.admin("POST", "/admin/operators", operator).status_code == 201
    assert world.admin("POST", "/admin/operators", operator).status_code == 200  # a retry: already done

    link = {"link_id": world.link_id, "protocol": "http", "http_token": LINK_TOKEN}
    created_link = world.admin("POST", f"/admin/operators/{world.operator_id}/links", link)
    assert created_link.status_code == 201, created_link.text
    assert created_link.json()["has_http_token"] is True and LINK_TOKEN not in created_link.text
    stored_link = world.entities.get(OperatorLink, world.link_id)
    assert stored_link is not None and token_matches(LINK_TOKEN, stored_link.http_token_hash or "")

    number = {"number": NUMBER, "billing_model": "mo", "tariff_plan_id": f"plan-adm-{world.suffix}"}
    assert (
        world.admin("POST", f"/admin/operators/{world.operator_id}/short-numbers", number).status_code == 201
    )

    plan = {
        "plan_id": f"plan-adm-{world.suffix}",
        "partner_id": world.partner_id,
        "currency": GBP,
        "numbers": [
            {
                "operator_id": world.operator_id,
                "short_number": NUMBER,
                "price": 300,
                "vat_bps": 2000,
                "operator_share_bps": 4000,
            }
        ],
        "steps": [{"threshold": 0, "commission_bps": 3000}],
    }
    created_plan = world.admin("POST", "/admin/tariff-plans", plan)
    assert created_plan.status_code == 201, created_plan.text
    listed = world.admin("GET", f"/admin/tariff-plans?partner_id={world.partner_id}").json()["items"]
    assert [p["plan_id"] for p in listed] == [plan["plan_id"]]

    service = _service(world)
    text = f"{service.prefix} 1"
    unrouted = world.send_mo(text, "447700900551")
    assert unrouted.state is MoState.UNROUTED  # pending moderation: no MO is routed to it yet

    queue = world.admin("GET", f"/admin/services?status=pending_moderation&partner_id={world.partner_id}")
    assert [s["service_id"] for s in queue.json()["items"]] == [world.service_id]
    approved = world.admin("POST", f"/admin/services/{world.service_id}/approve", {"reason": "checked"})
    assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
    assert approved.json()["moderation"]["decided_by"] == world.admin_key_id

    blacklisted = {"msisdn": "+44 7700 900552", "partner_id": world.partner_id, "reason": "asked to stop"}
    assert world.admin("POST", "/admin/blacklist", blacklisted).status_code == 201
    assert world.send_mo(text, "447700900552").state is MoState.BLACKLISTED

    routed = world.send_mo(text, "447700900553")
    assert routed.state is MoState.ROUTED, routed.reason
    assert (routed.service_id, routed.charged_amount, routed.currency) == (world.service_id, 300, GBP)

    removed = world.admin("DELETE", f"/admin/blacklist/447700900552?partner_id={world.partner_id}")
    assert removed.status_code == 200
    assert world.send_mo(text, "447700900552").state is MoState.ROUTED


def test_an_admin_adjusts_a_balance_once_with_a_reason(world: World) -> None:
    available = accounts.partner(world.partner_id, Book.AVAILABLE)
    before = world.ledger.balance(available).posted
    body = {
        "adjustment_id": f"adj-{world.suffix}",
        "book": "available",
        "amount": 1250,
        "currency": GBP,
        "reason": "Goodwill credit after the outage",
    }
    posted = world.admin("POST", f"/admin/partners/{world.partner_id}/adjustments", body)
    assert posted.status_code == 201, posted.text
    assert posted.json()["reason"] == body["reason"] and posted.json()["amount"] == 1250
    retried = world.admin("POST", f"/admin/partners/{world.partner_id}/adjustments", body)
    assert retried.status_code == 200 and retried.json() == posted.json()
    assert world.ledger.balance(available).posted == before + 1250
    conflict = world.admin("POST", f"/admin/partners/{world.partner_id}/adjustments", body | {"amount": 1})
    assert conflict.status_code == 409 and conflict.json()["code"] == "adjustment_conflict"
    assert world.admin("GET", f"/admin/adjustments/adj-{world.suffix}").json() == posted.json()
    transfer = world.ledger.get_transfer(posted.json()["transfer_id"])
    assert transfer is not None and transfer.transfer.ref == body["reason"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/admin/operators", None),
        (
            "POST",
            "/admin/operators",
            {"operator_id": "sneaky", "name": "x", "country_code": "1", "currency": GBP},
        ),
        ("POST", "/admin/services/{service}/suspend", {"reason": "mine now"}),
        ("POST", "/admin/partners/{partner}/adjustments", {"adjustment_id": "steal", "amount": 10**6}),
        ("POST", "/admin/blacklist", {}),
        ("DELETE", "/admin/reserved-prefixes/stop", None),
        ("GET", "/admin/audit", None),
    ],
)
def test_a_partner_key_gets_403_on_admin_operations(world: World, method: str, path: str, body: Any) -> None:
    concrete = path.format(service=world.service_id, partner=world.partner_id)
    answer = world.admin(method, concrete, body, key=world.partner_key)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "forbidden"
    assert world.admin(method, concrete, body, key="no-such-key").status_code == 401


def test_an_admin_made_smpp_account_binds_at_the_bridge_and_a_new_password_replaces_the_old(
    world: World,
) -> None:
    system_id = f"it-{world.suffix}"
    made = world.admin(
        "POST",
        "/admin/smpp-accounts",
        {
            "system_id": system_id,
            "owner_kind": "partner",
            "owner_id": world.partner_id,
            "allowed_cidrs": ["127.0.0.1"],
        },
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    first = made.json()["password"]
    assert (
        made.json()["allowed_cidrs"] == ["127.0.0.1/32"]
        and "password" not in world.admin("GET", f"/admin/smpp-accounts/{system_id}").json()
    )
    smpp_port = free_port()
    bridge = run_local.start_bridge(world.stack.cloud, smpp_port, free_port())
    try:
        assert bind_status(smpp_port, system_id, first) == 0

        renewed = world.admin("POST", f"/admin/smpp-accounts/{system_id}/password")
        assert renewed.status_code == 200, renewed.text
        second = renewed.json()["password"]
        assert second != first
        assert bind_status(smpp_port, system_id, first) == 0x0D  # ESME_RBINDFAIL: the old one is refused
        assert bind_status(smpp_port, system_id, second) == 0
    finally:
        run_local.stop_processes([bridge], timeout_s=15)
    day = datetime.now(UTC).date().isoformat()
    entries = world.admin("GET", f"/admin/audit?day={day}&limit=200").json()["items"]
    mine = [(e["action"], e["target"]) for e in entries if e["admin_key_id"] == world.admin_key_id]
    assert ("smpp_account.create", f"SMPPACCT#{system_id}") in mine
    assert ("smpp_account.password", f"SMPPACCT#{system_id}") in mine
    assert first not in str(entries) and second not in str(entries)


def bind_status(port: int, system_id: str, password: str) -> int:
    """The bridge's answer to a bind_transceiver with these credentials (0: bound, then unbound)."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=10)
    client.connect()
    try:
        client.bind_transceiver(system_id=system_id, password=password)
    except smpplib.exceptions.PDUError as refused:
        client.disconnect()
        return int(refused.args[1])
    client.unbind()
    client.disconnect()
    return 0


def test_admin_changes_are_audited_and_the_docs_are_served(world: World) -> None:
    day = datetime.now(UTC).date().isoformat()
    entries = world.admin("GET", f"/admin/audit?day={day}&limit=200").json()["items"]
    mine = [(e["action"], e["target"]) for e in entries if e["admin_key_id"] == world.admin_key_id]
    assert ("operator.create", f"OPERATOR#{world.operator_id}") in mine
    assert ("service.approve", f"SERVICE#{world.service_id}") in mine
    assert ("ledger.adjust", f"ADJUSTMENT#adj-{world.suffix}") in mine
    assert LINK_TOKEN not in str(entries)
    service = world.entities.get(PartnerService, world.service_id)
    assert (
        service is not None and service.status is ServiceStatus.ACTIVE
    )  # the partner's 403s changed nothing
    docs = world.stack.api.get("admin/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    assert world.entities.get(AdminKey, hash_token(world.admin_key)) is not None
