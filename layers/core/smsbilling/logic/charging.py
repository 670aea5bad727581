"""Charging one billed message: rate it, count it in the partner's period, post its charge.

Used by the MO processor (MO-billing: posted at once) and the MT processor (MT-billing: pending
until the DLR). Every step is idempotent on the message id, so a redelivered message, or one
processed again after a crash at any point, charges once:

1. **Rate and count** (:class:`TallyStore`, counters table). The split is computed from the
   partner's period traffic *before* the message and written, in one transaction, as a
   per-message marker beside the period tally it is added to. A second attempt finds the marker
   and reuses the split stored in it, so the transfer it builds is identical to the first even if
   the traffic or the plan changed in between (a re-rated split would be a different transfer
   under the same id: a ``TransferConflict``).
2. **Post** the charge (:mod:`smsbilling.domain.postings`) under the id derived from the message
   id. Posting it again returns "already posted".
3. **Count** it in the partner's statistics (:class:`~smsbilling.logic.statistics.ChargeStatistics`,
   when given): once per message (a marker), pending for MT-billing until :meth:`Charger.confirm_mt`
   or :meth:`Charger.cancel_mt` settles it. After the post, so a crash before counting is
   repaired by the retry (the post answers "already", the count happens then).

Why not :meth:`BillingService.charge`: it rates and posts in one call, from a traffic snapshot
the caller supplies, so a retry after a crash between the post and the tally update could rate
differently. The charger keeps its rating decision durable first; it uses the same pure steps
(:func:`~smsbilling.domain.rating.rate`, :func:`~smsbilling.domain.postings.charge`) and
:class:`BillingService` for the MT-billing resolution.

The step a message is rated at is provisional: concurrent messages of one partner may read the
same traffic. That is by design; the period close re-rates the whole period at its final step
(:meth:`BillingService.close_period`) from the tally's booked amounts, which are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from smsbilling.domain import postings
from smsbilling.domain.entities import PartnerService
from smsbilling.domain.ledger import PostResult, TransferKind, transfer_id
from smsbilling.domain.money import Money
from smsbilling.domain.rating import PeriodTally, PeriodTraffic, RatedMessage, ServiceRef, Split, rate
from smsbilling.domain.sms_credits import consumed_legs, reservation_id
from smsbilling.domain.statistics import ChargeEntry
from smsbilling.domain.tariff import PlanBook, TariffError, TariffPlan
from smsbilling.logic.billing import BillingService, Charged
from smsbilling.logic.statistics import ChargeStatistics
from smsbilling.ports import LedgerStore

__all__ = ["Charged", "Charger", "PlanSource", "TallyStore", "period_of"]


class PlanSource(Protocol):
    def plan_for(self, partner_id: str, at_ms: int) -> TariffPlan:
        """The plan in force for the partner at ``at_ms`` (its own, else the common one).

        Raises :class:`~smsbilling.domain.tariff.TariffError` when there is none.
        """
        ...


class TallyStore(Protocol):
    """The partner's billed traffic per period, counted once per message (counters table)."""

    def get(self, partner_id: str, period: str) -> PeriodTally | None:
        """The period's tally; None before its first message."""
        ...

    def recorded(self, partner_id: str, period: str, message_id: str) -> Split | None:
        """The split counted for ``message_id`` in the period, if it was ever counted (even if removed)."""
        ...

    def record(self, partner_id: str, period: str, message_id: str, split: Split) -> Split:
        """Add ``split`` to the tally and write the message's marker, atomically.

        If the message was counted already, nothing changes and the split counted first is
        returned (so concurrent attempts agree on one split).
        """
        ...

    def remove(self, partner_id: str, period: str, message_id: str) -> bool:
        """Take a counted message out of the tally again (its MT charge was voided).

        True if it was taken out by this call; False if it was never counted or already removed.
        """
        ...


def period_of(at_ms: int) -> str:
    """The billing period (calendar month, UTC) of an instant: ``YYYY-MM``."""
    return datetime.fromtimestamp(at_ms // 1000, tz=UTC).strftime("%Y-%m")


class Charger:
    def __init__(
        self,
        ledger: LedgerStore,
        plans: PlanSource,
        tally: TallyStore,
        statistics: ChargeStatistics | None = None,
    ) -> None:
        self._ledger = ledger
        self._plans = plans
        self._tally = tally
        self._statistics = statistics
        # Confirm and cancel do not rate: the book of plans is never consulted on that path.
        self._billing = BillingService(ledger, PlanBook(()))

    def charge(
        self,
        *,
        message_id: str,
        service: PartnerService,
        referrer_id: str | None,
        operator_id: str,
        short_number: str,
        at_ms: int,
        mt_billing: bool,
    ) -> Charged:
        """Rate, count and post the charge of one message (pending if ``mt_billing``). Idempotent.

        Raises :class:`~smsbilling.domain.tariff.TariffError` (no plan, or no tariff for the
        number: nothing written) and :class:`~smsbilling.domain.ledger.LedgerError`.
        """
        message = RatedMessage(message_id, operator_id, short_number, at_ms)
        ref = ServiceRef(service.service_id, service.partner_id, referrer_id)
        period = period_of(at_ms)
        split = self._tally.recorded(ref.partner_id, period, message_id)
        if split is None:
            plan = self._plans.plan_for(ref.partner_id, at_ms)
            current = self._tally.get(ref.partner_id, period)
            traffic = current.traffic() if current is not None else PeriodTraffic()
            split = rate(message, ref, plan, traffic)
            if split.price > 0:  # a free message posts nothing and does not count as billed traffic
                split = self._tally.record(ref.partner_id, period, message_id, split)
        transfer = postings.charge(message, ref, split, mt_billing=mt_billing)
        if transfer is None:
            return Charged(split, None)
        result = self._ledger.post(transfer)
        if self._statistics is not None:
            entry = ChargeEntry(
                message_id=message_id,
                partner_id=ref.partner_id,
                service_id=ref.service_id,
                short_number=short_number,
                operator_id=operator_id,
                at_ms=transfer.at_ms,
                currency=split.currency,
                income=split.partner,
            )
            self._statistics.booked(entry, pending=mt_billing)
        return Charged(split, result)

    def price(self, *, partner_id: str, operator_id: str, short_number: str, at_ms: int) -> Money | None:
        """What the subscriber would pay for a message on ``short_number`` (None: no plan or tariff)."""
        try:
            tariff = self._plans.plan_for(partner_id, at_ms).number(operator_id, short_number)
        except TariffError:
            return None
        return Money(tariff.price, tariff.currency)

    def confirm_mt(self, message_id: str) -> PostResult:
        """The billed MT was delivered: post its pending charge (idempotent)."""
        result = self._billing.confirm_mt(message_id)
        if self._statistics is not None:
            self._statistics.settled(message_id, delivered=True)
        return result

    def cancel_mt(self, message_id: str, partner_id: str) -> PostResult | None:
        """The billed MT failed: void its pending charge and take it out of the period tally.

        None if the message was never charged (a free message posts nothing). Idempotent: the
        void repeats as "already", the tally removal at most once.
        """
        stored = self._ledger.get_transfer(transfer_id(message_id, str(TransferKind.MT_CHARGE)))
        if stored is None:
            return None
        result = self._billing.cancel_mt(message_id)
        self._tally.remove(partner_id, period_of(stored.transfer.at_ms), message_id)
        if self._statistics is not None:
            self._statistics.settled(message_id, delivered=False)
        return result

    def settle_credits(self, message_id: str, *, parts: int, accepted: int) -> PostResult | None:
        """An MT sent from credits ended: consume the accepted parts' credits, refund the rest.

        The reservation (domain/sms_credits.py) is posted for the accepted share, or voided when no
        part was accepted. None if nothing was reserved (a free route). Idempotent: the same end
        settles the same way again as "already".
        """
        stored = self._ledger.get_transfer(reservation_id(message_id))
        if stored is None or not stored.transfer.pending:
            return None
        final = consumed_legs(stored.transfer, parts=parts, accepted=accepted)
        if final is None:
            return self._ledger.void_pending(stored.transfer.id)
        return self._ledger.post_pending(stored.transfer.id, final)
