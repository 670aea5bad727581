"""Alerts on the deployed stack (docs/traffic/monitoring.md): a finding becomes one counted alert record,
staff are told once through the SNS topic, and an admin acknowledges it through the admin API.

An admin sets a fraud limit with action ``alert`` and threshold 1 on one partner's MOs; MOs over it
go on (routed, charged) and raise alerts. The deployed MO processor runs the deployed guard and alert
sink: one ``ALERT#`` record counting the findings, one SNS publish to ``AlarmTopic`` (read here
through an SQS queue subscribed to it). Acknowledged, the alert shows the admin key; a later finding
counts on it silently. Nothing in between is stubbed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.domain.entities import (
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
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.mo_processing import claim_prefix
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

NUMBER = "7373"
LINK_TOKEN = "alerts-link-token-0123456789"
TIMEOUT_S = 90.0
HOUR_MARGIN_S = 150  # the test's findings must fall in one UTC hour (one alert key)


@dataclass
class AlertWorld:
    stack: Stack
    suffix: str
    admin_key: str
    admin_key_id: str
    partner_id: str
    link_id: str
    prefix: str
    queue_url: str  # subscribed to AlarmTopic

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.stack.api.request(method, path.lstrip("/"), json=body, headers=headers)

    def send_mo(self, n: int) -> StoredMo:
        answer = self.stack.api.post(
            f"operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": uuid.uuid4().hex,
                "source": f"+4477009{n:05d}",
                "destination": NUMBER,
                "text": f"{self.prefix} vote {n}",
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        message_id = answer.json()["message_id"]
        store = DynamoInboundStore(self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"])
        try:
            mo: StoredMo = wait_for(
                lambda: (m := store.get(message_id)) is not None and m.state.is_final and m, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def my_alerts(self, status: str) -> list[dict[str, Any]]:
        """This partner's alerts of one status (every page: other tests raise alerts too)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = f"status={status}&limit=200" + (f"&cursor={cursor}" if cursor else "")
            answer = self.admin("GET", f"/admin/alerts?{query}")
            assert answer.status_code == 200, answer.text
            found += [a for a in answer.json()["items"] if a["partner_id"] == self.partner_id]
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                return found

    def notices(self, alert_id: str, wait_s: float) -> list[dict[str, Any]]:
        """SNS messages about ``alert_id`` that reach the subscribed queue within ``wait_s``."""
        sqs = self.stack.client("sqs")
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in got.get("Messages", []):
                envelope = json.loads(message["Body"])
                if alert_id in envelope.get("Message", ""):
                    seen.append(envelope)
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return seen


def _clear_of_the_hour_end() -> None:
    now = time.time()
    left = 3600 - now % 3600
    if left < HOUR_MARGIN_S:
        time.sleep(left + 2)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[AlertWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-al-{suffix}", f"l-al-{suffix}", f"p-al-{suffix}"
    now = datetime.now(UTC)
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    admin, admin_key = new_admin_key(f"it-alerts-{suffix}", "Alerts admin", now)
    entities.create(admin)
    service = PartnerService(
        service_id=f"svc-al-{suffix}",
        partner_id=partner_id,
        name="Alerted service",
        prefix=f"A{suffix[:6].upper()}",
        short_numbers=(f"{operator_id}#{NUMBER}",),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="http://127.0.0.1:9/mo",  # delivery is not under test here
        status=ServiceStatus.ACTIVE,
    )
    for entity in (
        Operator(operator_id=operator_id, name="Alert Mobile", country_code="44", currency="GBP"),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
        ),
        ShortNumber(
            operator_id=operator_id, number=NUMBER, billing_model=BillingModel.MO, tariff_plan_id="x"
        ),
        Partner(
            partner_id=partner_id,
            name="Alerted partner",
            email="alerts@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        ),
        service,
    ):
        entities.put(entity)
    claim_prefix(entities, service, service.short_numbers[0])
    price_numbers(
        stack,
        plan_id=f"plan-al-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[NUMBER],
        price=150,
    )
    sqs, sns = stack.client("sqs"), stack.client("sns")
    queue_url = sqs.create_queue(QueueName=f"staff-alerts-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=stack.outputs["AlarmTopicArn"], Protocol="sqs", Endpoint=queue_arn)
    yield AlertWorld(stack, suffix, admin_key, admin.key_id, partner_id, link_id, service.prefix, queue_url)


def test_a_finding_is_one_counted_alert_told_once_and_acknowledged_by_the_admin(world: AlertWorld) -> None:
    limit_id = f"fl-alerts-{world.suffix}"
    created = world.admin(
        "POST",
        "/admin/fraud-limits",
        {
            "limit_id": limit_id,
            "direction": "mo",
            "scope": "partner",
            "scope_value": world.partner_id,
            "window": "hour",
            "threshold": 1,
            "action": "alert",
        },
    )
    assert created.status_code == 201, created.text
    label = f"fraud_limit:{limit_id}:alert"
    _clear_of_the_hour_end()

    # Processors cache the limits for up to rules_cache_s: send MOs until the limit speaks.
    findings, n, deadline = 0, 0, time.monotonic() + TIMEOUT_S
    while findings == 0:
        assert time.monotonic() < deadline, "the fraud limit never acted"
        n += 1
        mo = world.send_mo(n)
        assert mo.state is MoState.ROUTED, mo  # alert only: the message goes on
        findings += label in mo.controls
    for _ in range(2):
        n += 1
        mo = world.send_mo(n)
        assert mo.state is MoState.ROUTED and label in mo.controls, mo
        findings += 1

    [alert] = wait_for(lambda: world.my_alerts("open"), TIMEOUT_S)
    assert (alert["control"], alert["rule_id"], alert["action"]) == ("fraud_limit", limit_id, "alert")
    assert alert["count"] == findings == 3
    assert alert["direction"] == "mo" and alert["status"] == "open"
    assert alert["reason"].startswith("over 1 MOs per hour for partner")
    alert_id = alert["alert_id"]

    [notice] = world.notices(alert_id, wait_s=10)  # one notice, however many findings
    assert "fraud_limit" in notice["Subject"] and limit_id in notice["Subject"]
    assert f"/admin/alerts/{alert_id}/acknowledge" in notice["Message"]
    assert "4477009" not in notice["Message"]  # no subscriber numbers

    acked = world.admin("POST", f"/admin/alerts/{alert_id}/acknowledge", {"note": "known quiz traffic"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == world.admin_key_id
    assert acked.json()["count_at_acknowledgement"] == 3

    n += 1
    assert label in world.send_mo(n).controls  # another finding after the acknowledgement
    after = wait_for(
        lambda: (a := world.admin("GET", f"/admin/alerts/{alert_id}").json())["count"] == 4 and a, TIMEOUT_S
    )
    assert after["status"] == "acknowledged" and after["acknowledged_by"] == world.admin_key_id
    assert world.my_alerts("open") == []
    assert [a["alert_id"] for a in world.my_alerts("acknowledged")] == [alert_id]
    assert world.notices(alert_id, wait_s=3) == []  # counted silently
