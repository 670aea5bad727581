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

import time
from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.domain.ledger import TransferState
from smsbilling.domain.mt import MtState
from smsbilling.domain.traffic import HeldMessage, HeldStatus
from tests.conftest import Stack
from tests.integration.billing_world import PartnerWorld, partner_world
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

CREDITS = 10
NUMBER = "7073"


class SpamWorld(PartnerWorld):
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

    def send(self, n: int, text: str) -> str:
        return self.send_sms(self.subscriber(n), text)

    def message(self, message_id: str) -> dict[str, Any]:
        answer = self.partner_api("GET", f"/v1/messages/{message_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[SpamWorld]:
    """An operator with an HTTP link, a partner with credits, an API key and a service, an admin key,
    and this module's spam rules (set through the admin API, then given time to reach the MT
    processors' rule caches)."""
    with partner_world(stack, SpamWorld, tag="spam", numbers=[NUMBER], credits=CREDITS) as world:
        world.add_service(smpp=True)
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
                "partner_id": world.partner_id,
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
