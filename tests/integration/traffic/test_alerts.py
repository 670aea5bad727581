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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from smsbilling.domain.inbound import MoState, StoredMo
from tests.conftest import Stack
from tests.integration.billing_world import TIMEOUT_S, PartnerWorld, partner_world
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

NUMBER = "7373"
HOUR_MARGIN_S = 150  # the test's findings must fall in one UTC hour (one alert key)


@dataclass
class AlertWorld(PartnerWorld):
    queue_url: str = ""  # subscribed to AlarmTopic

    def vote(self, n: int) -> StoredMo:
        """A vote MO from subscriber ``n``, once decided."""
        return self.decided(self.send_mo(f"{self.service.prefix} vote {n}", f"4477009{n:05d}"))

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
    """A partner's MO service on an operator's HTTP link (delivery not under test), and an SQS queue
    subscribed to the stack's AlarmTopic."""
    with partner_world(
        stack, AlertWorld, tag="al", numbers=[NUMBER], range_head=None, demo_operator=False, api_key=False
    ) as world:
        world.add_service()
        sqs, sns = stack.client("sqs"), stack.client("sns")
        world.queue_url = sqs.create_queue(QueueName=f"staff-alerts-{world.suffix}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=stack.outputs["AlarmTopicArn"], Protocol="sqs", Endpoint=queue_arn)
        yield world


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
        mo = world.vote(n)
        assert mo.state is MoState.ROUTED, mo  # alert only: the message goes on
        findings += label in mo.controls
    for _ in range(2):
        n += 1
        mo = world.vote(n)
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
    assert label in world.vote(n).controls  # another finding after the acknowledgement
    after = wait_for(
        lambda: (a := world.admin("GET", f"/admin/alerts/{alert_id}").json())["count"] == 4 and a, TIMEOUT_S
    )
    assert after["status"] == "acknowledged" and after["acknowledged_by"] == world.admin_key_id
    assert world.my_alerts("open") == []
    assert [a["alert_id"] for a in world.my_alerts("acknowledged")] == [alert_id]
    assert world.notices(alert_id, wait_s=3) == []  # counted silently
