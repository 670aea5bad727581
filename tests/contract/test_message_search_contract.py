"""One contract for the partner message listing: the in-memory fake over the memory stores, and the
DynamoDB search over the messages table's gsi1 (written by the inbound and MT stores themselves)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_message_search import DynamoMessageSearch
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_message_search import MemoryMessageSearch
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.contracts import MtPurpose
from smsbilling.domain import mt as lifecycle
from smsbilling.domain.cursors import Page
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.message_search import Direction, MessageFilter
from smsbilling.logic.message_queries import MessageSearch
from smsbilling.logic.mo_intake import InboundStore
from smsbilling.ports import MtOrigin, MtRecord, MtStore
from tests.contract.stores import KINDS, dynamodb_client

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def table_with_gsi1(client: Any, prefix: str) -> str:
    """A table as the template declares the messages table (pk/sk and gsi1, projecting all)."""
    table = f"{prefix}-{uuid.uuid4().hex[:12]}"
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": f"gsi1{name}", "KeyType": kind} for name, kind in keys],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table)
    return table


@dataclass
class Listing:
    mos: InboundStore
    mts: MtStore
    search: MessageSearch

    def mo(self, n: int, *, partner: str | None = "p1", minutes: float = 0, **fields: Any) -> StoredMo:
        mo = StoredMo(
            message_id=f"mo{n}",
            link_id="l1",
            operator_id="op1",
            operator_message_id=f"x{n}",
            source="+447700900123",
            destination="4444",
            text=f"ABC {n}",
            state=MoState.RECEIVED,
            received_at=T0 + timedelta(minutes=minutes),
        )
        self.mos.put_if_absent(mo)
        decided = mo.model_copy(
            update={
                "state": MoState.ROUTED if partner else MoState.UNROUTED,
                "msisdn": "447700900123",
                "full_text": f"ABC {n}",
                "short_number": "4444",
                "prefix": "ABC",
                "service_id": "s1" if partner == "p1" else ("s2" if partner else None),
                "partner_id": partner,
            }
            | fields
        )
        assert self.mos.decide(decided)
        return decided

    def mt(
        self,
        n: int,
        *,
        partner: str = "p1",
        minutes: float = 0,
        final: DlrStatus | None = DlrStatus.DELIVERED,
    ) -> MtRecord:
        at = T0 + timedelta(minutes=minutes)
        at_ms = int(at.timestamp() * 1000)
        record = MtRecord(
            mt=lifecycle.new_mt(f"mt{n}", 1, now_ms=at_ms, final_wait_ms=60_000),
            origin=MtOrigin.REQUESTED,
            purpose=MtPurpose.REPLY,
            partner_id=partner,
            service_id="s1" if partner == "p1" else "s2",
            operator_id="op1",
            link_id="l1",
            source="4444",
            destination="447700900123" if n % 2 else "447700900999",
            text=f"reply {n}",
            created_at=at,
        )
        self.mts.create(record)
        if final is None:
            return record
        mt = record.mt
        for event in (
            lifecycle.HandedToLink(at_ms),
            lifecycle.SubmitAccepted(0, f"OP{n}", f"k{n}", at_ms),
            lifecycle.ReceiptReceived(f"k{n}", final, "", at_ms + 1),
        ):
            mt = lifecycle.apply(mt, event).mt
        done = record.model_copy(update={"mt": mt, "version": 1})
        assert self.mts.replace(done)
        return done

    def ids(
        self, query: MessageFilter | None = None, *, limit: int = 3, examined_max: int = 1000
    ) -> list[str]:
        """Every listed id, following the pages' boundaries (each page checked)."""
        out: list[str] = []
        before = None
        for _ in range(200):
            page: Page[StoredMo | MtRecord] = self.search.search(
                "p1", query or MessageFilter(), before=before, limit=limit, examined_max=examined_max
            )
            assert len(page.items) <= limit
            out += [record.message_id for record in page.items]
            if page.boundary is None:
                return out
            assert before is None or page.boundary < before
            before = page.boundary
        raise AssertionError("never ended")


@pytest.fixture(params=KINDS)
def listing(request: pytest.FixtureRequest) -> Listing:
    if request.param == "memory":
        mos, mts = MemoryInboundStore(), MemoryMtStore()
        return Listing(mos, mts, MemoryMessageSearch(mos, mts))
    client = dynamodb_client(request, request.param)
    table = table_with_gsi1(client, "messages")
    return Listing(
        DynamoInboundStore(client, table),
        DynamoMtStore(client, table, shards=2),
        DynamoMessageSearch(client, table),
    )


def _world(listing: Listing) -> None:
    """p1: mo0..mo3 and mt1..mt3 (mt4 still on its way); p2: mo9, mt9; mo8 unrouted."""
    for n in range(4):
        listing.mo(n, minutes=n)
    listing.mt(1, minutes=0.5)
    listing.mt(2, minutes=2.5, final=DlrStatus.UNDELIVERED)
    listing.mt(3, minutes=10)
    listing.mt(4, minutes=11, final=None)
    listing.mo(9, partner="p2", minutes=1.5)
    listing.mt(9, partner="p2", minutes=1.7)
    listing.mo(8, partner=None, minutes=5)


def test_a_partners_decided_mos_and_final_mts_newest_first(listing: Listing) -> None:
    _world(listing)
    assert listing.ids() == ["mt3", "mo3", "mt2", "mo2", "mo1", "mt1", "mo0"]
    assert listing.ids(limit=1) == listing.ids(limit=100)


def test_listed_records_are_the_stored_ones(listing: Listing) -> None:
    mo = listing.mo(1, minutes=1)
    mt = listing.mt(1, minutes=2)
    page = listing.search.search("p1", MessageFilter(), before=None, limit=10, examined_max=100)
    assert page.items == (mt, mo) and page.boundary is None


def test_an_mt_is_listed_once_final(listing: Listing) -> None:
    record = listing.mt(5, final=None)
    assert listing.ids() == []
    mt = lifecycle.apply(record.mt, lifecycle.SubmitRejected(0, "0x45", 2_000)).mt
    assert listing.mts.replace(record.model_copy(update={"mt": mt, "version": 1}))
    assert listing.ids() == ["mt5"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (MessageFilter(direction=Direction.MO), ["mo3", "mo2", "mo1", "mo0"]),
        (MessageFilter(direction=Direction.MT), ["mt3", "mt2", "mt1"]),
        (MessageFilter(msisdn="447700900999"), ["mt2"]),
        (MessageFilter(msisdn="447700900123", direction=Direction.MT), ["mt3", "mt1"]),
        (MessageFilter(status="undelivered"), ["mt2"]),
        (MessageFilter(status="routed"), ["mo3", "mo2", "mo1", "mo0"]),
        (MessageFilter(service_id="s2"), []),
        (
            MessageFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)),
            ["mt2", "mo2", "mo1"],
        ),
        (MessageFilter(since=T0 + timedelta(minutes=30)), []),
        (MessageFilter(until=T0), []),
        (MessageFilter(since=T0, until=T0 + timedelta(seconds=30)), ["mo0"]),
    ],
)
def test_filters(listing: Listing, query: MessageFilter, expected: list[str]) -> None:
    _world(listing)
    assert listing.ids(query) == expected


def test_a_small_read_budget_shortens_pages_but_loses_nothing(listing: Listing) -> None:
    for n in range(12):
        listing.mo(n, minutes=n, msisdn="447700900555" if n % 4 == 0 else "447700900123")
    rare = MessageFilter(msisdn="447700900555")
    assert listing.ids(rare, limit=2, examined_max=10) == ["mo8", "mo4", "mo0"]
    assert listing.ids(limit=2, examined_max=10) == [f"mo{n}" for n in range(11, -1, -1)]


def test_a_time_on_the_boundary_is_counted_once(listing: Listing) -> None:
    for n in range(3):
        listing.mo(n, minutes=0)  # the same instant: told apart by the id
    listing.mt(1, minutes=0)
    assert listing.ids(limit=1) == ["mt1", "mo2", "mo1", "mo0"]
    assert listing.ids(MessageFilter(since=T0, until=T0 + timedelta(microseconds=1)), limit=2) == [
        "mt1",
        "mo2",
        "mo1",
        "mo0",
    ]
