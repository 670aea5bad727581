"""One contract for every TallyStore: counted once per message, removals once, currency kept."""

from __future__ import annotations

import threading

import pytest

from smsbilling.adapters.dynamodb_tally import DynamoTallyStore
from smsbilling.adapters.memory_tally import MemoryTallyStore
from smsbilling.domain.rating import Split, TallyLine
from smsbilling.domain.tariff import TariffError
from smsbilling.logic.charging import TallyStore
from tests.contract.stores import KINDS, dynamodb_client, fresh_table


@pytest.fixture(params=KINDS)
def tally(request: pytest.FixtureRequest) -> TallyStore:
    if request.param == "memory":
        return MemoryTallyStore()
    client = dynamodb_client(request, request.param)
    return DynamoTallyStore(client, fresh_table(client, "counters"))


def split(gross: int = 75, partner: int = 53, referral: int = 5, currency: str = "GBP") -> Split:
    return Split(currency, 150, 25, 50, gross, gross - partner, partner, referral, 0, 3_000)


def test_empty_period(tally: TallyStore) -> None:
    assert tally.get("p1", "2026-11") is None
    assert tally.recorded("p1", "2026-11", "m1") is None
    assert tally.remove("p1", "2026-11", "m1") is False


def test_record_counts_each_message_once(tally: TallyStore) -> None:
    assert tally.record("p1", "2026-11", "m1", split()) == split()
    assert tally.record("p1", "2026-11", "m1", split(partner=60)) == split()  # the first split stands
    tally.record("p1", "2026-11", "m2", split())
    tally.record("p1", "2026-11", "m3", split(gross=100, partner=70, referral=0))
    counted = tally.get("p1", "2026-11")
    assert counted is not None and counted.currency == "GBP"
    assert dict(counted.lines) == {75: TallyLine(2, 106, 10), 100: TallyLine(1, 70, 0)}
    assert counted.count == 3 and counted.income == 250
    assert tally.recorded("p1", "2026-11", "m2") == split()
    assert tally.get("p1", "2026-12") is None and tally.get("p2", "2026-11") is None


def test_remove_takes_a_message_out_once(tally: TallyStore) -> None:
    tally.record("p1", "2026-11", "m1", split())
    tally.record("p1", "2026-11", "m2", split())
    assert tally.remove("p1", "2026-11", "m1") is True
    assert tally.remove("p1", "2026-11", "m1") is False
    counted = tally.get("p1", "2026-11")
    assert counted is not None and counted.lines[75] == TallyLine(1, 53, 5)
    assert tally.recorded("p1", "2026-11", "m1") == split()  # the split it had stays known
    assert tally.record("p1", "2026-11", "m1", split()) == split()  # and it is not counted again
    assert tally.get("p1", "2026-11").count == 1  # type: ignore[union-attr]


def test_a_period_keeps_one_currency(tally: TallyStore) -> None:
    tally.record("p1", "2026-11", "m1", split())
    with pytest.raises(TariffError):
        tally.record("p1", "2026-11", "m2", split(currency="EUR"))
    assert tally.get("p1", "2026-11").count == 1  # type: ignore[union-attr]
    assert tally.recorded("p1", "2026-11", "m2") is None


def test_concurrent_messages_all_count_and_a_repeated_one_once(tally: TallyStore) -> None:
    ids = [f"m{i}" for i in range(12)] + ["m0", "m1", "m2"]
    errors: list[BaseException] = []

    def work(message_id: str) -> None:
        try:
            tally.record("p1", "2026-11", message_id, split())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(mid,)) for mid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counted = tally.get("p1", "2026-11")
    assert counted is not None and counted.lines[75] == TallyLine(12, 12 * 53, 12 * 5)
