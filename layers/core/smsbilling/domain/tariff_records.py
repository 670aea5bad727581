"""Tariff plans as the entities table stores them, and how a partner's plans are found.

A :class:`~smsbilling.domain.tariff.TariffPlan` is a frozen dataclass keyed by tuples; its stored
form is :class:`TariffPlanRecord` (``TARIFF#<plan id>`` / ``META``): the same fields as lists of
plain records, integers only (prices in minor units, rates in bps, outgoing costs in micro-units).

Finding the plans of a partner without a scan: :class:`TariffPlanIndex` (``TARIFFS#<owner>`` /
``META``) lists the plan ids an owner has, the owner being a partner id for individual plans or
``*`` for the common ones. A reader loads the partner's index and the common index, then those
plans, and :class:`~smsbilling.domain.tariff.PlanBook` picks the one in force. The index is
written with the plan (:func:`index_with`); plans are never deleted, only ended
(``effective_to_ms``), so the ledger can always be explained by the plan that rated it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import Entity
from smsbilling.domain.money import MicroMoney
from smsbilling.domain.tariff import (
    CommissionScale,
    CommissionStep,
    NumberTariff,
    StepBasis,
    TariffPlan,
)

COMMON_OWNER = "*"


AMOUNT_MAX = 10**15
"""The largest price, threshold or cost a plan holds: far above any real one, and well inside the 38
digits a DynamoDB number keeps (a larger one would be refused by the store, not by validation)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberTariffRecord(_Record):
    operator_id: str = Field(min_length=1, max_length=64)
    short_number: str = Field(pattern=r"^[0-9]{3,15}$")
    price: int = Field(ge=0, le=AMOUNT_MAX, description="minor units, VAT included")
    vat_bps: int = Field(ge=0, le=10_000)
    operator_share_bps: int = Field(ge=0, le=10_000)


class StepRecord(_Record):
    threshold: int = Field(ge=0, le=AMOUNT_MAX)
    commission_bps: int = Field(ge=0, le=10_000)


class OutgoingCostRecord(_Record):
    operator_id: str = Field(min_length=1, max_length=64)
    route: str = Field(min_length=1, max_length=64)
    micros: int = Field(ge=0, le=AMOUNT_MAX, description="cost of one outgoing part, micro-units")


class TariffPlanRecord(Entity):
    type_name: ClassVar[str] = "TARIFF"
    id_fields: ClassVar[tuple[str, ...]] = ("plan_id",)
    plan_id: str = Field(min_length=1, max_length=64)
    partner_id: str | None = Field(default=None, max_length=64, description="None: a common plan")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    effective_from_ms: int = Field(ge=0)
    effective_to_ms: int | None = Field(default=None, ge=0)
    numbers: tuple[NumberTariffRecord, ...] = Field(default=(), max_length=1000)
    step_basis: StepBasis = StepBasis.COUNT
    steps: tuple[StepRecord, ...] = Field(min_length=1, max_length=100)
    referral_bps: int = Field(default=0, ge=0, le=10_000)
    outgoing: tuple[OutgoingCostRecord, ...] = Field(default=(), max_length=1000)

    @property
    def owner(self) -> str:
        return self.partner_id if self.partner_id is not None else COMMON_OWNER

    def to_plan(self) -> TariffPlan:
        """The plan (raises :class:`~smsbilling.domain.tariff.TariffError` if it is inconsistent)."""
        return TariffPlan(
            plan_id=self.plan_id,
            currency=self.currency,
            effective_from_ms=self.effective_from_ms,
            effective_to_ms=self.effective_to_ms,
            partner_id=self.partner_id,
            numbers={
                (n.operator_id, n.short_number): NumberTariff(
                    n.operator_id, n.short_number, self.currency, n.price, n.vat_bps, n.operator_share_bps
                )
                for n in self.numbers
            },
            scale=CommissionScale(
                self.step_basis, tuple(CommissionStep(s.threshold, s.commission_bps) for s in self.steps)
            ),
            referral_bps=self.referral_bps,
            outgoing={(o.operator_id, o.route): MicroMoney(o.micros, self.currency) for o in self.outgoing},
        )

    @classmethod
    def from_plan(cls, plan: TariffPlan) -> TariffPlanRecord:
        return cls(
            plan_id=plan.plan_id,
            partner_id=plan.partner_id,
            currency=plan.currency,
            effective_from_ms=plan.effective_from_ms,
            effective_to_ms=plan.effective_to_ms,
            numbers=tuple(
                NumberTariffRecord(
                    operator_id=t.operator,
                    short_number=t.short_number,
                    price=t.price,
                    vat_bps=t.vat_bps,
                    operator_share_bps=t.operator_share_bps,
                )
                for t in plan.numbers.values()
            ),
            step_basis=plan.scale.basis,
            steps=tuple(
                StepRecord(threshold=s.threshold, commission_bps=s.commission_bps) for s in plan.scale.steps
            ),
            referral_bps=plan.referral_bps,
            outgoing=tuple(
                OutgoingCostRecord(operator_id=operator, route=route, micros=cost.micros)
                for (operator, route), cost in plan.outgoing.items()
            ),
        )


class TariffPlanIndex(Entity):
    """The plan ids of one owner (a partner id, or ``*`` for the common plans)."""

    type_name: ClassVar[str] = "TARIFFS"
    id_fields: ClassVar[tuple[str, ...]] = ("owner",)
    owner: str = Field(min_length=1, max_length=64)
    plan_ids: tuple[str, ...] = Field(default=(), max_length=500)


def index_with(index: TariffPlanIndex | None, record: TariffPlanRecord) -> TariffPlanIndex:
    """The owner's index with ``record``'s plan in it (unchanged if it is there already)."""
    ids = () if index is None else index.plan_ids
    if record.plan_id in ids:
        return index if index is not None else TariffPlanIndex(owner=record.owner, plan_ids=ids)
    return TariffPlanIndex(owner=record.owner, plan_ids=(*ids, record.plan_id))
