"""Manual ledger adjustments: one transfer per admin-given id, the reason in the journal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import PartnerStatus
from smsbilling.domain.ledger import TransferKind, TransferState, replay
from smsbilling.domain.money import CREDITS
from smsbilling.logic.ledger_setup import open_partner, open_platform

from .world import AdminWorld

AVAILABLE = acc.partner("p1", Book.AVAILABLE)
CREDITS_BOOK = acc.partner("p1", Book.CREDITS)


@pytest.fixture
def world() -> Iterator[AdminWorld]:
    w = AdminWorld()
    with w.serving():
        yield w


def goodwill(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "adjustment_id": "adj-1",
        "book": "available",
        "amount": 500,
        "currency": "GBP",
        "reason": "Refund for the outage on 2026-11-20",
    }
    return body | changes


def test_an_adjustment_posts_once_and_a_retry_answers_the_same(world: AdminWorld) -> None:
    created = world.post("/admin/partners/p1/adjustments", goodwill())
    assert created.status == 201, created
    view = created.json
    assert (view["partner_id"], view["book"], view["amount"], view["currency"]) == (
        "p1",
        "available",
        500,
        "GBP",
    )
    assert view["reason"] == "Refund for the outage on 2026-11-20"
    assert world.ledger.balance(AVAILABLE).posted == 500  # the books were opened on demand
    assert world.ledger.balance(acc.platform(Book.REVENUE)).posted == -500

    world.clock.advance(3600)  # retried an hour later: still the same adjustment
    retried = world.post("/admin/partners/p1/adjustments", goodwill())
    assert retried.status == 200 and retried.json == view
    assert world.ledger.balance(AVAILABLE).posted == 500
    stored = world.ledger.get_transfer(view["transfer_id"])
    assert stored is not None and stored.state is TransferState.POSTED
    assert stored.transfer.kind is TransferKind.ADJUSTMENT and stored.transfer.ref == goodwill()["reason"]
    assert world.get("/admin/adjustments/adj-1").json == view
    assert world.get("/admin/adjustments/adj-2").status == 404
    entries = [e for e in world.audit() if e["action"] == "ledger.adjust"]
    assert len(entries) == 1 and entries[0]["changes"]["amount"] == 500
    assert entries[0]["target"] == "ADJUSTMENT#adj-1" and entries[0]["admin_key_id"] == "ops-1"


@pytest.mark.parametrize(
    "change",
    [{"amount": 501}, {"reason": "another reason"}, {"book": "earned_pending"}],
)
def test_the_same_id_for_another_adjustment_is_a_conflict(world: AdminWorld, change: dict[str, Any]) -> None:
    assert world.post("/admin/partners/p1/adjustments", goodwill()).status == 201
    answer = world.post("/admin/partners/p1/adjustments", goodwill(**change))
    assert answer.status == 409 and answer.code == "adjustment_conflict"
    assert world.ledger.balance(AVAILABLE).posted == 500


def test_the_same_id_for_another_partner_is_a_conflict(world: AdminWorld) -> None:
    world.add_partner("p2", PartnerStatus.ACTIVE)
    assert world.post("/admin/partners/p1/adjustments", goodwill()).status == 201
    assert world.post("/admin/partners/p2/adjustments", goodwill()).code == "adjustment_conflict"


def test_a_debit_cannot_take_a_balance_below_zero(world: AdminWorld) -> None:
    world.post("/admin/partners/p1/adjustments", goodwill())
    too_much = world.post("/admin/partners/p1/adjustments", goodwill(adjustment_id="adj-2", amount=-501))
    assert too_much.status == 409 and too_much.code == "insufficient_funds"
    taken = world.post("/admin/partners/p1/adjustments", goodwill(adjustment_id="adj-3", amount=-200))
    assert taken.status == 201 and world.ledger.balance(AVAILABLE).posted == 300
    assert world.get("/admin/adjustments/adj-2").status == 404  # nothing was posted under it


def test_credits_are_adjusted_in_xcr_and_the_ledger_still_balances(world: AdminWorld) -> None:
    open_platform(world.ledger, "GBP")
    open_partner(world.ledger, "p1", "GBP", credit_limit=50)  # opened before, with a credit limit
    bonus = world.post(
        "/admin/partners/p1/adjustments",
        goodwill(
            adjustment_id="bonus-1", book="credits", amount=1000, currency=CREDITS, reason="welcome bonus"
        ),
    )
    assert bonus.status == 201, bonus
    assert world.ledger.balance(CREDITS_BOOK).posted == 1000
    assert world.ledger.balance(CREDITS_BOOK).headroom == 1050
    world.post("/admin/partners/p1/adjustments", goodwill(adjustment_id="adj-x", amount=70))
    for currency, total in _sums(world).items():
        assert total == 0, currency
    stored = {b.account: b for b in world.ledger.balances()}
    replayed = replay(list(world.ledger.journal()))
    assert {account: r.net for account, r in replayed.items()} == {
        a: b.net for a, b in stored.items() if b.net
    }


def _sums(world: AdminWorld) -> dict[str, int]:
    sums: dict[str, int] = {}
    for balance in world.ledger.balances():
        sums[balance.currency] = sums.get(balance.currency, 0) + balance.net
    return sums


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 100_000_001}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"currency": "XCR"}, "currency"),  # a money book in credits
        ({"book": "credits"}, "currency"),  # the credits book in money
        ({"book": "payouts"}, "book"),
        ({"reason": ""}, "reason"),
        ({"adjustment_id": "a b"}, "adjustment_id"),
        ({"partner_id": "p2"}, "partner_id"),  # from the path only
        ({"transfer_id": "x"}, "transfer_id"),  # server-owned
    ],
)
def test_bad_adjustments_are_refused_and_post_nothing(
    world: AdminWorld, change: dict[str, Any], field: str
) -> None:
    answer = world.post("/admin/partners/p1/adjustments", goodwill(**change))
    assert answer.status == 422, answer
    assert field in [e["field"] for e in answer.json["errors"]]
    assert list(world.ledger.journal()) == []


def test_a_partner_with_books_in_another_currency_and_an_unknown_partner(world: AdminWorld) -> None:
    open_partner(world.ledger, "p1", "EUR")
    answer = world.post("/admin/partners/p1/adjustments", goodwill())
    assert answer.status == 422 and answer.json["errors"][0]["field"] == "currency"
    assert world.post("/admin/partners/nobody/adjustments", goodwill()).status == 404
    assert list(world.ledger.journal()) == []
