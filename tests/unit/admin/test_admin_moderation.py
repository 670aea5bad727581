"""Moderation of partners and services: approve, reject with a reason, suspend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsbilling.domain.entities import Partner, PartnerService, PartnerStatus, ServiceStatus
from smsbilling.logic.api_auth import NotAuthenticated, authenticate

from .world import PARTNER_KEY, AdminWorld


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def status_of(world: AdminWorld, service_id: str) -> ServiceStatus:
    service = world.entities.get(PartnerService, service_id)
    assert service is not None
    return service.status


def test_a_pending_service_is_approved_and_the_decision_is_kept(world: AdminWorld) -> None:
    queue = world.get("/admin/services?status=pending_moderation")
    assert [s["service_id"] for s in queue.json["items"]] == ["svc1"]
    assert queue.json["items"][0]["moderation"] is None

    approved = world.post("/admin/services/svc1/approve", {"reason": "looks fine"})
    assert approved.status == 200, approved
    assert approved.json["status"] == "active"
    assert approved.json["moderation"] == {
        "decision": "approve",
        "status": "active",
        "reason": "looks fine",
        "decided_by": "ops-1",
        "decided_at": approved.json["moderation"]["decided_at"],
    }
    assert status_of(world, "svc1") is ServiceStatus.ACTIVE
    assert world.get("/admin/services?status=pending_moderation").json["items"] == []
    assert world.get("/admin/services/svc1").json["moderation"]["reason"] == "looks fine"
    again = world.post("/admin/services/svc1/approve", {})  # already active: nothing changes
    assert again.status == 200 and again.json["moderation"]["reason"] == "looks fine"
    entry = world.audit()[-1]
    assert (entry["action"], entry["target"], entry["admin_key_id"]) == (
        "service.approve",
        "SERVICE#svc1",
        "ops-1",
    )
    assert entry["changes"] == {"status": "active", "reason": "looks fine"}
    assert len(world.audit()) == 1


def test_a_rejection_needs_a_reason_and_only_pending_services_are_rejected(world: AdminWorld) -> None:
    no_reason = world.post("/admin/services/svc1/reject", {"reason": "  "})
    assert no_reason.status == 422 and no_reason.json["errors"][0]["field"] == "reason"
    assert status_of(world, "svc1") is ServiceStatus.PENDING_MODERATION
    rejected = world.post("/admin/services/svc1/reject", {"reason": "adult content"})
    assert rejected.json["status"] == "rejected" and rejected.json["moderation"]["reason"] == "adult content"
    world.add_service("svc2", "p1", ServiceStatus.ACTIVE)
    wrong = world.post("/admin/services/svc2/reject", {"reason": "no"})
    assert wrong.status == 409 and wrong.code == "invalid_transition"
    assert status_of(world, "svc2") is ServiceStatus.ACTIVE
    assert world.post("/admin/services/svc1/approve", {}).json["status"] == "active"  # changed its mind


def test_suspending_a_service_keeps_what_the_partner_changed_meanwhile(world: AdminWorld) -> None:
    world.add_service("svc2", "p1", ServiceStatus.ACTIVE)
    stale = world.entities.get(PartnerService, "svc2")
    assert stale is not None
    world.entities.put(stale.model_copy(update={"handler_url": "https://partner.example.com/v2"}))
    suspended = world.post("/admin/services/svc2/suspend", {"reason": "complaints"})
    assert suspended.json["status"] == "suspended"
    assert suspended.json["handler_url"] == "https://partner.example.com/v2"
    assert world.post("/admin/services/nope/suspend", {}).status == 404
    assert world.post("/admin/services/svc2/suspend", {"status": "active"}).status == 422


def test_services_are_listed_per_partner_and_otp_is_switched_by_the_admin(world: AdminWorld) -> None:
    world.add_partner("p2", PartnerStatus.ACTIVE)
    world.add_service("svc3", "p2")
    assert [s["service_id"] for s in world.get("/admin/services?partner_id=p2").json["items"]] == ["svc3"]
    assert [s["service_id"] for s in world.get("/admin/services?limit=1").json["items"]] == ["svc1"]
    assert world.get("/admin/services?status=nonsense").status == 422
    enabled = world.patch("/admin/services/svc3", {"otp_enabled": True})
    assert enabled.status == 200 and enabled.json["otp_enabled"] is True
    assert world.patch("/admin/services/svc3", {"status": "active"}).status == 422  # moderation only
    assert world.patch("/admin/services/svc3", {"name": "mine"}).status == 422  # the partner's field
    assert world.get("/admin/services/nope").status == 404


def test_partners_are_moderated_and_a_suspended_partner_loses_its_api(world: AdminWorld) -> None:
    world.add_partner("p2", PartnerStatus.PENDING_CONFIRMATION)
    listed = world.get("/admin/partners").json["items"]
    assert [(p["partner_id"], p["status"]) for p in listed] == [
        ("p1", "active"),
        ("p2", "pending_confirmation"),
    ]
    assert all("callback_secrets" not in p for p in listed)
    assert "whsec_" not in world.get("/admin/partners/p1").text

    assert authenticate(world.entities, PARTNER_KEY).partner_id == "p1"
    suspended = world.post("/admin/partners/p1/suspend", {"reason": "unpaid invoices"})
    assert suspended.status == 200 and suspended.json["status"] == "suspended"
    with pytest.raises(NotAuthenticated):
        authenticate(world.entities, PARTNER_KEY)
    assert world.post("/admin/partners/p1/reject", {"reason": "x"}).code == "invalid_transition"
    assert world.post("/admin/partners/p1/approve", {}).json["status"] == "active"
    assert authenticate(world.entities, PARTNER_KEY).partner_id == "p1"

    rejected = world.post("/admin/partners/p2/reject", {"reason": "fake company"})
    assert rejected.json["status"] == "rejected"
    partner = world.entities.get(Partner, "p2")
    assert partner is not None and partner.status is PartnerStatus.REJECTED
    assert partner.callback_secrets == ("whsec_secret_of_p2",)  # only the status was written
    assert world.get("/admin/partners/p2").json["moderation"]["reason"] == "fake company"
    assert world.get("/admin/partners/nope").status == 404
    assert world.post("/admin/partners/nope/approve", {}).status == 404
    assert [e["action"] for e in world.audit()] == ["partner.suspend", "partner.approve", "partner.reject"]


def test_a_rejected_partners_key_does_not_authenticate(world: AdminWorld) -> None:
    world.entities.put(world.add_partner("p1", PartnerStatus.PENDING_CONFIRMATION))
    assert world.post("/admin/partners/p1/reject", {"reason": "no"}).status == 200
    with pytest.raises(NotAuthenticated):
        authenticate(world.entities, PARTNER_KEY)
    assert world.get("/admin/operators", key=PARTNER_KEY).status == 403  # still not an admin key
