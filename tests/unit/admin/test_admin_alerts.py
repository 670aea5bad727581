"""Traffic-control alerts in the admin API: listed by status, read, acknowledged once, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.memory_alerts import MemoryAlertSink
from smsbilling.domain.alerts import Alert, AlertStatus, alert_id_of
from smsbilling.domain.traffic import Action, AlertEvent, ControlName, Direction, Finding, MessageFacts
from smsbilling.logic.admin_alerts import acknowledge
from smsbilling.logic.admin_common import AdminCall
from tests.unit.admin.world import PARTNER_KEY, T0, AdminWorld

LIMIT = Finding(ControlName.FRAUD_LIMIT, "op1-hourly", Action.HOLD, "over 100 MOs an hour on op1")
SPAM = Finding(ControlName.SPAM, "urls", Action.REJECT, "a listed URL")


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    with AdminWorld().serving() as serving:
        yield serving


def raise_alert(world: AdminWorld, finding: Finding, message_id: str, at: datetime) -> str:
    facts = MessageFacts(
        direction=Direction.MO,
        message_id=message_id,
        at=at,
        msisdn="447700900123",
        text="secret prize text",
        operator_id="op1",
        partner_id="p1",
    )
    event = AlertEvent.of(finding, facts)
    MemoryAlertSink(world.entities).raise_alert(event)
    return alert_id_of(event.key)


def test_open_alerts_are_listed_oldest_first_with_their_counts(world: AdminWorld) -> None:
    spam_id = raise_alert(world, SPAM, "m1", T0 + timedelta(minutes=5))
    limit_id = raise_alert(world, LIMIT, "m2", T0 + timedelta(minutes=1))
    for n in range(3, 6):
        raise_alert(world, LIMIT, f"m{n}", T0 + timedelta(minutes=n))
    answer = world.get("/admin/alerts")
    assert answer.status == 200, answer
    items = answer.json["items"]
    assert [i["alert_id"] for i in items] == [limit_id, spam_id]  # by first raise
    limit = items[0]
    assert limit["status"] == "open" and limit["count"] == 4
    assert (limit["control"], limit["rule_id"], limit["action"]) == ("fraud_limit", "op1-hourly", "hold")
    assert limit["sample_message_id"] == "m2" and limit["partner_id"] == "p1"
    assert limit["hour"] == "2026-11-22T12:00:00Z"
    assert limit["first_at"] == "2026-11-22T12:01:00Z" and limit["last_at"] == "2026-11-22T12:05:00Z"
    assert "secret prize text" not in answer.text and "447700900123" not in answer.text
    assert world.get("/admin/alerts?status=acknowledged").json["items"] == []


def test_alerts_are_paged(world: AdminWorld) -> None:
    ids = [
        raise_alert(world, Finding(ControlName.SPAM, f"r{n}", Action.ALERT, "x"), f"m{n}", T0)
        for n in range(3)
    ]
    first = world.get("/admin/alerts?limit=2").json
    second = world.get(f"/admin/alerts?limit=2&cursor={first['next_cursor']}").json
    assert sorted(i["alert_id"] for i in first["items"] + second["items"]) == sorted(ids)
    assert second["next_cursor"] is None


def test_an_alert_is_read_by_id(world: AdminWorld) -> None:
    alert_id = raise_alert(world, SPAM, "m1", T0)
    answer = world.get(f"/admin/alerts/{alert_id}")
    assert answer.status == 200 and answer.json["reason"] == "a listed URL"
    missing = world.get(f"/admin/alerts/{'0' * 32}")
    assert (missing.status, missing.code) == (404, "not_found")
    assert world.get("/admin/alerts/not-an-id").status == 422


def test_acknowledging_records_the_admin_once_and_survives_repeats(world: AdminWorld) -> None:
    alert_id = raise_alert(world, LIMIT, "m1", T0)
    raise_alert(world, LIMIT, "m2", T0 + timedelta(seconds=30))
    acked = world.post(f"/admin/alerts/{alert_id}/acknowledge", {"note": "pumping on op1, limit raised"})
    assert acked.status == 200, acked
    body = acked.json
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "ops-1"
    assert body["note"] == "pumping on op1, limit raised" and body["count_at_acknowledgement"] == 2
    acked_at = body["acknowledged_at"]

    again = world.post(f"/admin/alerts/{alert_id}/acknowledge", {"note": "another note"})
    assert again.status == 200 and again.json == body  # the first acknowledgement stands

    raise_alert(world, LIMIT, "m3", T0 + timedelta(minutes=1))
    after = world.get(f"/admin/alerts/{alert_id}").json
    assert (after["status"], after["acknowledged_at"], after["count"]) == ("acknowledged", acked_at, 3)
    assert world.get("/admin/alerts").json["items"] == []
    assert [i["alert_id"] for i in world.get("/admin/alerts?status=acknowledged").json["items"]] == [alert_id]

    audit = [e for e in world.audit() if e["action"] == "alert.acknowledge"]
    assert len(audit) == 1
    assert audit[0]["admin_key_id"] == "ops-1" and audit[0]["target"] == f"ALERT#{alert_id}"
    assert audit[0]["changes"]["note"] == "pumping on op1, limit raised"


def test_acknowledging_without_a_note_and_unknown_fields(world: AdminWorld) -> None:
    alert_id = raise_alert(world, SPAM, "m1", T0)
    assert world.post(f"/admin/alerts/{alert_id}/acknowledge", {"status": "open"}).status == 422
    assert world.post(f"/admin/alerts/{alert_id}/acknowledge").json["note"] == ""
    missing = world.post(f"/admin/alerts/{'a' * 32}/acknowledge")
    assert (missing.status, missing.code) == (404, "not_found")


def test_partner_keys_cannot_see_or_acknowledge_alerts(world: AdminWorld) -> None:
    alert_id = raise_alert(world, SPAM, "m1", T0)
    assert world.get("/admin/alerts", key=PARTNER_KEY).status == 403
    assert world.post(f"/admin/alerts/{alert_id}/acknowledge", key=PARTNER_KEY).status == 403
    assert world.get(f"/admin/alerts/{alert_id}").json["status"] == "open"


def test_of_two_admins_acknowledging_at_once_the_first_stands(world: AdminWorld) -> None:
    alert_id = raise_alert(world, LIMIT, "m1", T0)
    first = AdminCall(admin_key_id="ops-1", now=T0 + timedelta(minutes=1))
    second = AdminCall(admin_key_id="ops-2", now=T0 + timedelta(minutes=1))

    class FirstAdminBetweenReadAndWrite:
        """The store as the second admin sees it: the first acknowledges after its read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(world.entities, name)

        def get(self, model: type[Alert], entity_id: str) -> Alert | None:
            found = world.entities.get(model, entity_id)
            if found is not None and found.status is AlertStatus.OPEN:
                acknowledge(world.entities, first, entity_id, "first")
            return found  # still open, as the second admin read it

    stored, changed = acknowledge(FirstAdminBetweenReadAndWrite(), second, alert_id, "second")

    assert changed is False
    assert (stored.acknowledged_by, stored.note) == ("ops-1", "first")
    assert [e["admin_key_id"] for e in world.audit() if e["action"] == "alert.acknowledge"] == ["ops-1"]
