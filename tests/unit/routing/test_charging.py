"""logic/charging.py: rate, count once per message, post once; MT-billing confirm and cancel."""

from __future__ import annotations

import pytest

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.ledger import TransferKind, TransferState, transfer_id
from smsbilling.domain.tariff import CommissionScale, CommissionStep, StepBasis, TariffError
from smsbilling.logic.charging import Charger, period_of
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.plans import EntityPlanSource, store_plan
from tests.unit.routing.world import MO_NUMBER, OP, PLAN, SERVICE

AT = 1_795_000_000_000  # 2026-11-18
EARNED = acc.partner("p1", Book.EARNED_PENDING)
REFERRER = acc.partner("r1", Book.EARNED_PENDING)


def setup(
    scale: CommissionScale | None = None, referral_bps: int = 0
) -> tuple[Charger, MemoryLedgerStore, MemoryTallyStore]:
    entities, ledger, tally = MemoryEntityStore(), MemoryLedgerStore(), MemoryTallyStore()
    plan = PLAN
    if scale is not None or referral_bps:
        from dataclasses import replace

        plan = replace(PLAN, scale=scale or PLAN.scale, referral_bps=referral_bps)
    store_plan(entities, plan)
    open_platform(ledger, "GBP")
    open_operator(ledger, OP, "GBP")
    for partner in ("p1", "r1"):
        open_partner(ledger, partner, "GBP")
    return Charger(ledger, EntityPlanSource(entities), tally), ledger, tally


def charge(charger: Charger, message_id: str, *, mt: bool = False, referrer: str | None = None):  # type: ignore[no-untyped-def]
    return charger.charge(
        message_id=message_id,
        service=SERVICE,
        referrer_id=referrer,
        operator_id=OP,
        short_number=MO_NUMBER,
        at_ms=AT,
        mt_billing=mt,
    )


def test_period_is_the_utc_month() -> None:
    assert period_of(AT) == "2026-11"
    assert period_of(1_767_225_599_999) == "2025-12" and period_of(1_767_225_600_000) == "2026-01"


def test_charge_posts_once_and_counts_once() -> None:
    charger, ledger, tally = setup()
    first = charge(charger, "m1")
    again = charge(charger, "m1")
    assert first.result is not None and not first.result.already
    assert again.result is not None and again.result.already and again.split == first.split
    assert ledger.balance(EARNED).net == -53
    counted = tally.get("p1", "2026-11")
    assert counted is not None and counted.count == 1 and counted.lines[75].partner_booked == 53


def test_steps_follow_the_period_traffic() -> None:
    scale = CommissionScale(StepBasis.COUNT, (CommissionStep(0, 3_000), CommissionStep(2, 1_000)))
    charger, ledger, _ = setup(scale)
    shares = [charge(charger, f"m{i}").split.partner for i in range(3)]
    assert shares == [53, 68, 68]  # the 2nd message reaches the threshold: 90 % of 75
    assert ledger.balance(EARNED).net == -189


def test_a_retry_after_the_traffic_moved_reuses_the_first_split() -> None:
    """Counted (tally) but not posted, then other messages move the step: the retry posts the same."""
    scale = CommissionScale(StepBasis.COUNT, (CommissionStep(0, 3_000), CommissionStep(2, 1_000)))
    charger, ledger, tally = setup(scale)
    original_post = ledger.post

    def crash(transfer):  # type: ignore[no-untyped-def]
        raise RuntimeError("died after the tally")

    ledger.post = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        charge(charger, "m1")
    ledger.post = original_post  # type: ignore[method-assign]
    charge(charger, "m2")
    charge(charger, "m3")
    retried = charge(charger, "m1")
    assert retried.split.partner == 53 and retried.result is not None and not retried.result.already
    assert tally.get("p1", "2026-11").count == 3  # type: ignore[union-attr]
    assert ledger.balance(EARNED).net == -(53 + 68 + 68)


def test_referrer_gets_its_commission() -> None:
    charger, ledger, _ = setup(referral_bps=1_000)
    charged = charge(charger, "m1", referrer="r1")
    assert charged.split.referral == 5 and ledger.balance(REFERRER).net == -5


def test_mt_billing_is_pending_then_confirmed() -> None:
    charger, ledger, _ = setup()
    charged = charge(charger, "mt1", mt=True)
    assert charged.result is not None and charged.result.stored.state is TransferState.PENDING
    assert ledger.balance(EARNED).net == 0
    assert charger.confirm_mt("mt1").stored.state is TransferState.POSTED
    assert ledger.balance(EARNED).net == -53


def test_mt_billing_cancel_voids_and_uncounts_once() -> None:
    charger, ledger, tally = setup()
    charge(charger, "mt1", mt=True)
    charge(charger, "mt2", mt=True)
    voided = charger.cancel_mt("mt1", "p1")
    assert voided is not None and voided.stored.state is TransferState.VOIDED
    again = charger.cancel_mt("mt1", "p1")
    assert again is not None and again.already
    assert tally.get("p1", "2026-11").count == 1  # type: ignore[union-attr]
    assert charger.cancel_mt("never-charged", "p1") is None
    assert ledger.get_transfer(transfer_id("mt1", str(TransferKind.MT_CHARGE))) is not None


def test_no_plan_raises_and_writes_nothing() -> None:
    charger = Charger(MemoryLedgerStore(), EntityPlanSource(MemoryEntityStore()), tally := MemoryTallyStore())
    with pytest.raises(TariffError):
        charge(charger, "m1")
    assert tally.tallies == {} and tally.markers == {}


def test_no_tariff_for_the_number_raises_and_writes_nothing() -> None:
    charger, ledger, tally = setup()
    with pytest.raises(TariffError):
        charger.charge(
            message_id="m1",
            service=SERVICE,
            referrer_id=None,
            operator_id=OP,
            short_number="9999",
            at_ms=AT,
            mt_billing=False,
        )
    assert tally.tallies == {} and list(ledger.journal()) == []
