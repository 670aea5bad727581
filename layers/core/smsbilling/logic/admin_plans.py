"""Tariff plans from the admin: common or individual, in force from one instant to another.

Plans are never changed retroactively (domain/tariff_records.py): a plan is created whole and
never edited; what an admin may do later is *end* it (set ``effective_to``, not in the past), and
start another. So every charge in the ledger can always be explained by the plan that rated it.
A plan may start at most ``plan_start_skew_s`` in the past (clock skew between the admin and us).

Checks beyond the plan's own consistency (:meth:`TariffPlanRecord.to_plan`): an individual plan's
partner exists; every number it prices exists, at an operator billing in the plan's currency
(the charge posts to that operator's books).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsbilling.domain.entities import Operator, Partner, ShortNumber
from smsbilling.domain.tariff import TariffError
from smsbilling.domain.tariff_records import COMMON_OWNER, TariffPlanIndex, TariffPlanRecord, index_with
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Conflict,
    Invalid,
    create_once,
    must_get,
    record,
    update_fields,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(milliseconds=1)


def from_ms(at_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=at_ms)


def create_plan(
    store: AdminStore, call: AdminCall, plan: TariffPlanRecord, *, start_skew_s: int
) -> tuple[TariffPlanRecord, bool]:
    """Store a new plan and list it in its owner's index; ``(stored, created)``.

    The same plan again (a retry) is answered with the stored one and repairs the index; another
    plan under a taken id is a Conflict (plans are immutable).
    """
    existing = store.get(TariffPlanRecord, plan.plan_id)
    if existing is None:
        _check_new(store, call, plan, start_skew_s)
    stored, created = create_once(store, plan)
    store.put(index_with(store.get(TariffPlanIndex, stored.owner), stored))
    if created:
        record(store, call, "tariff_plan.create", stored, plan.model_dump())
    return stored, created


def _check_new(store: AdminStore, call: AdminCall, plan: TariffPlanRecord, start_skew_s: int) -> None:
    if plan.effective_from_ms < to_ms(call.now) - start_skew_s * 1000:
        raise Invalid("effective_from", "a plan cannot start in the past (plans never change retroactively)")
    if plan.partner_id is not None and store.get(Partner, plan.partner_id) is None:
        raise Invalid("partner_id", "no such partner")
    for n, tariff in enumerate(plan.numbers):
        if store.get(ShortNumber, f"{tariff.operator_id}#{tariff.short_number}") is None:
            raise Invalid(f"numbers.{n}", f"no short number {tariff.short_number} at {tariff.operator_id}")
        operator = store.get(Operator, tariff.operator_id)
        if operator is not None and operator.currency != plan.currency:
            raise Invalid(f"numbers.{n}.operator_id", f"{operator.operator_id} bills in {operator.currency}")
    try:
        plan.to_plan()
    except TariffError as error:
        raise Invalid("plan", str(error)) from None


def end_plan(
    store: AdminStore, call: AdminCall, plan_id: str, effective_to: datetime, *, start_skew_s: int
) -> TariffPlanRecord:
    """Set (or move) the end of a plan that has not ended yet; the end may not be in the past."""
    current = must_get(store, TariffPlanRecord, plan_id, "tariff plan")
    now_ms, end_ms = to_ms(call.now), to_ms(effective_to)
    if current.effective_to_ms is not None and current.effective_to_ms <= now_ms:
        raise Conflict("plan_ended", f"plan {plan_id} ended already; start a new one")
    if end_ms < now_ms - start_skew_s * 1000:
        raise Invalid("effective_to", "a plan cannot end in the past (plans never change retroactively)")
    if end_ms <= current.effective_from_ms:
        raise Invalid("effective_to", "must be after effective_from")
    updated = update_fields(store, current, {"effective_to_ms": end_ms}, "tariff plan")
    record(store, call, "tariff_plan.end", updated, {"effective_to": effective_to})
    return updated


def plans_of(store: AdminStore, partner_id: str | None) -> list[TariffPlanRecord]:
    """The common plans (``partner_id`` None) or one partner's individual plans, newest start first."""
    owner = COMMON_OWNER if partner_id is None else partner_id
    index = store.get(TariffPlanIndex, owner)
    found = [store.get(TariffPlanRecord, plan_id) for plan_id in (() if index is None else index.plan_ids)]
    plans = [plan for plan in found if plan is not None and plan.owner == owner]
    return sorted(plans, key=lambda plan: (-plan.effective_from_ms, plan.plan_id))
