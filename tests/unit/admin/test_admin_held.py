"""Held messages through the admin API: listed by status, released or rejected, re-queued."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsbilling.contracts import MoReceived, MtPurpose, MtRequested
from smsbilling.domain.traffic import Direction, HeldMessage, HeldStatus

from .world import PARTNER_KEY, T0, AdminWorld


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def hold_mo(world: AdminWorld, message_id: str = "mo1") -> MoReceived:
    event = MoReceived(message_id=message_id, link_id="l1", received_at=T0)
    world.entities.put(
        HeldMessage(
            message_id=message_id,
            direction=Direction.MO,
            reason="fraud_limit: over 10 per minute for range 4477009001",
            labels=("fraud_limit:fl1:hold",),
            risk_score=40,
            partner_id="p1",
            operator_id="op1",
            msisdn="447700900123",
            text="ABC 1",
            held_at=T0,
            command_json=event.model_dump_json(),
        )
    )
    return event


def test_held_messages_are_listed_by_status_without_their_queue_message(world: AdminWorld) -> None:
    hold_mo(world, "mo1")
    hold_mo(world, "mo2")
    page = world.get("/admin/held?limit=1")
    assert page.status == 200, page
    [first] = page.json["items"]
    assert first["message_id"] == "mo1" and first["status"] == "held" and "command_json" not in first
    assert first["findings"] == ["fraud_limit:fl1:hold"] and first["risk_score"] == 40
    rest = world.get(f"/admin/held?limit=1&cursor={page.json['next_cursor']}")
    assert [h["message_id"] for h in rest.json["items"]] == ["mo2"]
    assert world.get("/admin/held?status=released").json["items"] == []
    assert world.get("/admin/held?status=bogus").status == 422


def test_release_stores_the_decision_requeues_the_message_and_is_audited(world: AdminWorld) -> None:
    event = hold_mo(world)
    answer = world.post("/admin/held/mo1/release", {"note": "a known promotion"})
    assert answer.status == 200, answer
    assert answer.json["status"] == "released" and answer.json["decided_by"] == "ops-1"
    assert world.events.mo == [event]
    stored = world.entities.get(HeldMessage, "mo1")
    assert stored is not None and stored.status is HeldStatus.RELEASED
    assert [h["message_id"] for h in world.get("/admin/held?status=released").json["items"]] == ["mo1"]
    assert world.get("/admin/held").json["items"] == []
    assert [(e["action"], e["changes"]["note"]) for e in world.audit()] == [
        ("held.release", "a known promotion")
    ]

    assert world.post("/admin/held/mo1/release").status == 200  # again: published again, audited once
    assert len(world.events.mo) == 2 and len(world.audit()) == 1
    conflict = world.post("/admin/held/mo1/reject", {"note": "too late"})
    assert conflict.status == 409 and conflict.code == "already_decided"


def test_reject_requeues_an_mt_command_on_the_mt_queue(world: AdminWorld) -> None:
    command = MtRequested(
        message_id="mt1",
        purpose=MtPurpose.API,
        partner_id="p1",
        operator_id="op1",
        source="4444",
        destination="447700900123",
        text="WIN",
        requested_at=T0,
    )
    world.entities.put(
        HeldMessage(
            message_id="mt1",
            direction=Direction.MT,
            reason="spam: word rule",
            msisdn="447700900123",
            held_at=T0,
            command_json=command.model_dump_json(),
        )
    )
    answer = world.post("/admin/held/mt1/reject", {"note": "spam run"})
    assert answer.status == 200 and answer.json["decision_note"] == "spam run"
    assert world.events.mt == [command] and world.events.mo == []


def test_unknown_held_message_and_bad_bodies_change_nothing(world: AdminWorld) -> None:
    assert world.get("/admin/held/nope").status == 404
    assert world.post("/admin/held/nope/release").status == 404
    hold_mo(world)
    assert world.post("/admin/held/mo1/release", {"note": "x", "status": "released"}).status == 422
    assert world.post("/admin/held/mo1/reject", {"note": "x" * 201}).status == 422
    stored = world.entities.get(HeldMessage, "mo1")
    assert stored is not None and stored.status is HeldStatus.HELD and world.events.mo == []


def test_a_partner_key_cannot_see_or_decide_held_messages(world: AdminWorld) -> None:
    hold_mo(world)
    assert world.get("/admin/held", key=PARTNER_KEY).status == 403
    assert world.post("/admin/held/mo1/release", key=PARTNER_KEY).status == 403
    assert world.events.mo == []
