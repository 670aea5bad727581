"""In-memory fake of the partner message listing, over the in-memory MO and MT stores.

Lists what the DynamoDB index would (domain/message_search.py) with the same keys and boundaries;
it reads everything at once, so its pages are never cut short by a read budget. Same contract
(tests/contract/test_message_search_contract.py).
"""

from __future__ import annotations

from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.domain.cursors import Page, listing_key, time_bound
from smsbilling.domain.inbound import StoredMo
from smsbilling.domain.message_search import (
    Direction,
    MessageFilter,
    mo_key,
    mo_listed_for,
    mo_matches,
    mt_matches,
)
from smsbilling.ports import MtRecord

Listed = StoredMo | MtRecord


class MemoryMessageSearch:
    def __init__(self, mos: MemoryInboundStore, mts: MemoryMtStore) -> None:
        self._mos = mos
        self._mts = mts

    def search(
        self, partner_id: str, query: MessageFilter, *, before: str | None, limit: int, examined_max: int
    ) -> Page[Listed]:
        del examined_max  # everything is at hand
        listed: list[tuple[str, Listed]] = []
        directions = query.directions()
        if Direction.MO in directions:
            listed += [
                (mo_key(mo), mo)
                for mo in list(self._mos.messages.values())
                if mo_listed_for(mo) == partner_id and mo_matches(mo, query)
            ]
        if Direction.MT in directions:
            listed += [
                (listing_key(record.created_at, record.message_id), record)
                for record in list(self._mts.records.values())
                if record.partner_id == partner_id
                and record.mt.is_final
                and mt_matches(
                    destination=record.destination,
                    state=record.mt.state,
                    service_id=record.service_id,
                    query=query,
                )
            ]
        low = time_bound(query.since) if query.since is not None else ""
        high = time_bound(query.until) if query.until is not None else None
        kept = sorted(
            (
                pair
                for pair in listed
                if pair[0] >= low
                and (high is None or pair[0] < high)
                and (before is None or pair[0] < before)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        page = kept[:limit]
        return Page(tuple(item for _, item in page), page[-1][0] if len(kept) > limit else None)
