"""Anti-spam rules through the admin API, in the form the MT processors read them."""
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smsbilling.domain.entities import PartnerStatus
from smsbilling.domain.spam import SpamRule
from smsbilling.domain.traffic import Action, Direction, MessageFacts
from smsbilling.logic.spam import SpamControl
from smsbilling.web.admin import deps as admin_deps

from .world import PARTNER_KEY, AdminWorld


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def mt(text: str, partner_id: str = "p1") -> MessageFacts:
    return MessageFacts(
        direction=Direction.MT,
        message_id="m1",
        at=datetime(2026, 11, 22, tzinfo=UTC),
        msisdn="447700900123",
        text=text,
        partner_id=partner_id,
    )


def test_a_global_rule_is_created_read_and_acts_on_mts(world: AdminWorld) -> None:
    body = {
        "rule_id": "r12",
        "kind": "phrase",
        "pattern": "free prize",
        "action": "reject",
        "reason": "prizes",
    }
    created = world.post("/admin/spam-rules", body)
    assert created.status == 201, created
    view = dict(created.json)
    assert datetime.fromisoformat(view.pop("created_at")) == world.clock.now
    assert view == {
        "rule_id": "r12",
        "kind": "phrase",
        "pattern": "free prize",
        "partner_id": None,
        "action": "reject",
        "reason": "prizes",
        "enabled": True,
        "updated_at": None,
    }
    stored = world.entities.get(SpamRule, "r12")
    assert stored is not None and stored.scope == "*"
    assert world.post("/admin/spam-rules", body).status == 200  # a retried create
    assert world.post("/admin/spam-rules", body | {"pattern": "big prize"}).code == "already_exists"
    assert world.get("/admin/spam-rules/r12").json["pattern"] == "free prize"
    assert world.get("/admin/spam-rules/nope").status == 404

    findings = SpamControl(world.entities, cache_s=0).check(mt("Get your FR3E PR1ZE")).findings
    assert [(f.rule_id, f.action, f.reason) for f in findings] == [
        ("r12", Action.REJECT, 'matched phrase rule r12 "free prize" (as "FR3E PR1ZE"): prizes')
    ]
    assert [(e["action"], e["target"]) for e in world.audit()] == [("spam_rule.create", "SPAMRULE#r12")]


def test_a_partners_rules_and_the_listing_filters(world: AdminWorld) -> None:
    world.add_partner("p2", PartnerStatus.ACTIVE)
    rules = [
        {"rule_id": "g1", "kind": "word", "pattern": "lottery", "action": "reject"},
        {"rule_id": "a1", "kind": "url", "pattern": "bit.ly", "action": "hold", "partner_id": "p1"},
        {"rule_id": "b1", "kind": "regex", "pattern": r"\d{16}", "action": "alert", "partner_id": "p1"},
        {"rule_id": "c1", "kind": "word", "pattern": "pizza", "action": "alert", "partner_id": "p2"},
    ]
    for body in rules:
        assert world.post("/admin/spam-rules", body).status == 201
    everything = world.get("/admin/spam-rules").json["items"]
    assert [r["rule_id"] for r in everything] == ["g1", "a1", "b1", "c1"]  # global first, then by partner
    first = world.get("/admin/spam-rules?partner_id=p1&limit=1")
    rest = world.get(f"/admin/spam-rules?partner_id=p1&cursor={first.json['next_cursor']}")
    assert [r["rule_id"] for r in first.json["items"] + rest.json["items"]] == ["a1", "b1"]
    assert rest.json["next_cursor"] is None
    assert [r["rule_id"] for r in world.get("/admin/spam-rules?partner_id=*").json["items"]] == ["g1"]
    assert world.get("/admin/spam-rules?partner_id=nobody").status == 404
    unknown = world.post("/admin/spam-rules", rules[0] | {"rule_id": "x", "partner_id": "nobody"})
    assert unknown.status == 422 and unknown.json["errors"][0]["field"] == "partner_id"

    control = SpamControl(world.entities, cache_s=0)
    found = control.check(mt("lottery at bit.ly/x card 4111111111111111 pizza")).findings
    assert [(f.rule_id, f.action) for f in found] == [
        ("g1", Action.REJECT),
        ("a1", Action.HOLD),
        ("b1", Action.ALERT),
    ]
    assert [f.rule_id for f in control.check(mt("lottery bit.ly pizza", "p2")).findings] == ["g1", "c1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "regex", "pattern": "(unclosed"}, "pattern"),
        ({"kind": "regex", "pattern": r"(a+)\1"}, "pattern"),
        ({"kind": "regex", "pattern": r"(?=free)"}, "pattern"),
        ({"kind": "regex", "pattern": ".*"}, "pattern"),
        ({"kind": "regex", "pattern": "a" * 201}, "pattern"),
        ({"kind": "word", "pattern": "free prize"}, "pattern"),
        ({"kind": "url", "pattern": "not a domain"}, "pattern"),
        ({"kind": "spam", "pattern": "x"}, "kind"),
        ({"kind": "word", "pattern": "free", "action": "drop"}, "action"),
        ({"kind": "word", "pattern": "free", "scope": "*"}, "scope"),  # the stored form is not input
        ({"kind": "word", "pattern": "free", "rule_id": "bad id"}, "rule_id"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(world: AdminWorld, body: dict, field: str) -> None:
    answer = world.post("/admin/spam-rules", {"rule_id": "r1", "action": "reject"} | body)
    assert answer.status == 422, answer
    assert answer.json["code"] == "validation_failed"
    assert any(field in error["field"] for error in answer.json["errors"]), answer.json
    assert world.entities.get(SpamRule, "r1") is None


def test_a_rule_is_changed_and_deleted_with_audit(world: AdminWorld) -> None:
    world.post("/admin/spam-rules", {"rule_id": "r1", "kind": "word", "pattern": "casino", "action": "alert"})
    control = SpamControl(world.entities, cache_s=0)
    assert [f.action for f in control.check(mt("CAS1NO")).findings] == [Action.ALERT]

    changed = world.patch("/admin/spam-rules/r1", {"action": "reject", "pattern": "казино"})
    assert changed.status == 200, changed
    assert changed.json["action"] == "reject" and changed.json["updated_at"] is not None
    assert control.check(mt("CAS1NO")).findings == ()
    assert [f.action for f in control.check(mt("КАЗИН0")).findings] == [Action.REJECT]

    assert world.patch("/admin/spam-rules/r1", {"enabled": False}).json["enabled"] is False
    assert control.check(mt("казино")).findings == ()

    bad = world.patch("/admin/spam-rules/r1", {"kind": "url"})  # "казино" is no domain
    assert bad.status == 422 and bad.json["errors"][0]["field"] == "pattern"
    assert world.patch("/admin/spam-rules/r1", {"action": None}).status == 422
    assert world.patch("/admin/spam-rules/r1", {"partner_id": "p1"}).status == 422  # scope is fixed
    assert world.patch("/admin/spam-rules/nope", {"enabled": True}).status == 404

    assert world.delete("/admin/spam-rules/r1").status == 200
    assert world.entities.get(SpamRule, "r1") is None
    assert world.delete("/admin/spam-rules/r1").status == 404
    actions = [(e["action"], e["changes"]) for e in world.audit()]
    assert actions == [
        (
            "spam_rule.create",
            {
                "rule_id": "r1",
                "kind": "word",
                "pattern": "casino",
                "scope": "*",
                "action": "alert",
                "reason": "",
                "enabled": True,
            },
        ),
        ("spam_rule.update", {"action": "reject", "pattern": "казино"}),
        ("spam_rule.update", {"enabled": False}),
        ("spam_rule.delete", {"rule_id": "r1", "scope": "*"}),
    ]


def test_partner_keys_cannot_touch_spam_rules(world: AdminWorld) -> None:
    assert world.get("/admin/spam-rules", key=PARTNER_KEY).status == 403
    body = {"rule_id": "r1", "kind": "word", "pattern": "free", "action": "reject"}
    assert world.post("/admin/spam-rules", body, key=PARTNER_KEY).status == 403
    assert world.post("/admin/spam-rules", body, key=None).status == 401
    assert world.entities.get(SpamRule, "r1") is None


def test_rules_per_scope_are_capped(world: AdminWorld) -> None:
    current = admin_deps.deps()  # the cap is the deps' traffic limits (settings.traffic)
    admin_deps.use(replace(current, traffic=current.traffic.model_copy(update={"spam_rules_max": 2})))
    for n in range(2):
        assert (
            world.post(
                "/admin/spam-rules",
                {"rule_id": f"r{n}", "kind": "word", "pattern": f"w{n}x", "action": "alert"},
            ).status
            == 201
        )
    third = world.post(
        "/admin/spam-rules", {"rule_id": "r2", "kind": "word", "pattern": "w2x", "action": "alert"}
    )
    assert third.status == 409 and third.code == "too_many_rules"
    other = {"rule_id": "p", "kind": "word", "pattern": "w3x", "action": "alert", "partner_id": "p1"}
    assert world.post("/admin/spam-rules", other).status == 201  # another scope
