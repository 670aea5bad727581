"""The ledger's partner index (statements): every store lists the transfers that touched a partner,
newest first, in pages; the DynamoDB store writes the index in the posting transaction."""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.domain.ledger import StoredTransfer, TransferState
from smsbilling.logic.statements import PartnerJournal
from smsbilling.ports import LedgerStore
from tests.contract.conftest import CONTRACT_LIMITS
from tests.contract.helpers import CASH, RECEIVABLE, REVENUE, available, earned, open_world, pay_in, xfer


class Journal(LedgerStore, PartnerJournal, Protocol):
    pass


@pytest.fixture
def store(ledger_store: LedgerStore) -> Journal:
    open_world(ledger_store)
    return ledger_store  # type: ignore[return-value]


def listed(
    store: Journal, partner: str, *, limit: int = 2, **bounds: int | None
) -> list[tuple[str, TransferState]]:
    """Every page, following the boundaries; (transfer id, state) newest first."""
    out: list[StoredTransfer] = []
    before = None
    for _ in range(100):
        page = store.partner_transfers(partner, before=before, limit=limit, **bounds)  # type: ignore[arg-type]
        assert len(page.items) <= limit
        out += page.items
        if page.boundary is None:
            return [(s.transfer.id, s.state) for s in out]
        assert before is None or page.boundary < before
        before = page.boundary
    raise AssertionError("never ended")


def _charge(
    tid: str, at_ms: int, *, partner: str = "p1", referrer: str | None = None, pending: bool = False
) -> Any:
    pairs = [(RECEIVABLE, 10), (REVENUE, -4), (earned(partner), -6)]
    if referrer:
        pairs = [(RECEIVABLE, 11), (REVENUE, -4), (earned(partner), -6), (earned(referrer), -1)]
    return xfer(tid, *pairs, at_ms=at_ms, pending=pending)


def test_a_partners_transfers_newest_first_with_their_current_state(store: Journal) -> None:
    store.post(_charge("c1", 1_000))
    store.post(_charge("c2", 3_000, pending=True))
    store.post(_charge("c3", 2_000, partner="p2", referrer="p1"))  # p1 earns a referral on it
    store.post(xfer("platform-only", (CASH, 5), (REVENUE, -5), at_ms=2_500))
    store.post(_charge("c4", 2_000))  # the same instant as c3: told apart by the id
    assert listed(store, "p1") == [
        ("c2", TransferState.PENDING),
        ("c4", TransferState.POSTED),
        ("c3", TransferState.POSTED),
        ("c1", TransferState.POSTED),
    ]
    store.post_pending("c2")
    assert listed(store, "p1", limit=10)[0] == ("c2", TransferState.POSTED)
    assert listed(store, "p2") == [("c3", TransferState.POSTED)]
    assert listed(store, "p3") == []


def test_time_bounds_include_since_and_exclude_until(store: Journal) -> None:
    for n, at in enumerate((1_000, 2_000, 2_000, 3_000, 4_000)):
        store.post(_charge(f"t{n}", at))
    assert [t for t, _ in listed(store, "p1", since_ms=2_000, until_ms=4_000)] == ["t3", "t2", "t1"]
    assert listed(store, "p1", since_ms=4_001) == [] and listed(store, "p1", until_ms=1_000) == []
    assert listed(store, "p1", since_ms=5_000, until_ms=1_000) == []


def test_batches_and_failures_index_exactly_what_was_posted(store: Journal) -> None:
    results = store.post_many([_charge(f"b{n}", 10_000 + n) for n in range(30)] + [_charge("b0", 10_000)])
    assert all(not isinstance(r, Exception) for r in results)
    store.post(pay_in("in1", "p1", 7))
    with pytest.raises(Exception, match="insufficient"):
        store.post(xfer("too-much", (available("p1"), 100), (CASH, -100), at_ms=99_999))
    ids = [t for t, _ in listed(store, "p1", limit=7)]
    assert ids == [*[f"b{n}" for n in range(29, -1, -1)], "in1"]  # the pay-in is at_ms 1: oldest


# --- DynamoDB only: the index items and their write budget --------------------------------------------


@pytest.fixture
def ddb(dynamodb_local_client: Any, request: pytest.FixtureRequest) -> DynamoDbLedgerStore:
    table = f"stmt-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    create_ledger_table(dynamodb_local_client, table)
    limits = CONTRACT_LIMITS.model_copy(update={"partner_index_shards_count": 3})
    store = DynamoDbLedgerStore(table, dynamodb_local_client, limits)
    open_world(store, slots=0)
    return store


@pytest.mark.dynamodb_local
def test_index_items_one_per_partner_spread_over_the_shards(ddb: DynamoDbLedgerStore) -> None:
    for n in range(12):
        ddb.post(_charge(f"s{n}", 1_000 + n, partner="p2", referrer="p1"))
    index = list(ddb._scan("P#"))
    assert len(index) == 24  # one per partner per transfer
    assert {item["pk"]["S"].rsplit("#", 1)[0] for item in index} == {"P#p1", "P#p2"}
    assert len({item["pk"]["S"] for item in index}) > 2  # spread over shards
    assert all(item["sk"]["S"] == f"{int(item['sk']['S'][:13]):013d}#{item['tid']['S']}" for item in index)
    assert len(list(ddb._scan("T#"))) == 12 and len(list(ddb.journal())) == 12


@pytest.mark.dynamodb_local
def test_a_batch_of_many_partner_legs_still_fits_its_transactions(ddb: DynamoDbLedgerStore) -> None:
    """25 transfers x 3 partners: the index entries count toward DynamoDB's 100 items per transaction."""
    legs = [(RECEIVABLE, 12), (REVENUE, -3), (earned("p1"), -3), (earned("p2"), -3), (earned("p3"), -3)]
    results = ddb.post_many([xfer(f"m{n}", *legs, at_ms=5_000 + n) for n in range(25)])
    assert all(not isinstance(r, Exception) for r in results), results
    assert len(list(ddb._scan("P#"))) == 75
    assert len(listed(ddb, "p3", limit=25)) == 25
