"""In-memory fake of the period tally (passes tests/contract/test_tally_contract.py)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from smsbilling.domain.rating import PeriodTally, Split, TallyLine
from smsbilling.domain.tariff import TariffError


def _shift(tally: PeriodTally, split: Split, sign: int) -> PeriodTally:
    line = tally.lines.get(split.gross, TallyLine())
    moved = TallyLine(
        line.count + sign,
        line.partner_booked + sign * split.partner,
        line.referral_booked + sign * split.referral,
    )
    return PeriodTally(tally.currency, MappingProxyType({**tally.lines, split.gross: moved}))


class MemoryTallyStore:
    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str], PeriodTally] = {}
        self.markers: dict[tuple[str, str, str], tuple[Split, bool]] = {}  # (split, counted)

    def get(self, partner_id: str, period: str) -> PeriodTally | None:
        return self.tallies.get((partner_id, period))

    def recorded(self, partner_id: str, period: str, message_id: str) -> Split | None:
        marker = self.markers.get((partner_id, period, message_id))
        return marker[0] if marker is not None else None

    def record(self, partner_id: str, period: str, message_id: str, split: Split) -> Split:
        marker = self.markers.get((partner_id, period, message_id))
        if marker is not None:
            return marker[0]
        tally = self.tallies.get((partner_id, period), PeriodTally(split.currency))
        if tally.currency != split.currency:
            raise TariffError(f"tally is in {tally.currency}, split in {split.currency}")
        self.tallies[partner_id, period] = _shift(tally, split, +1)
        self.markers[partner_id, period, message_id] = (replace(split), True)
        return split

    def remove(self, partner_id: str, period: str, message_id: str) -> bool:
        marker = self.markers.get((partner_id, period, message_id))
        if marker is None or not marker[1]:
            return False
        self.tallies[partner_id, period] = _shift(self.tallies[partner_id, period], marker[0], -1)
        self.markers[partner_id, period, message_id] = (marker[0], False)
        return True
