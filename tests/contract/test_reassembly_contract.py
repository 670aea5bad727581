"""One contract for every ReassemblyStore: parts held once, timeouts, one completion, cleanup."""

from __future__ import annotations

import pytest

from smsbilling.adapters.dynamodb_reassembly import DynamoReassemblyStore
from smsbilling.adapters.memory_reassembly import MemoryReassemblyStore
from smsbilling.domain.mo_content import Completion, Part
from smsbilling.logic.mo_processing import ReassemblyStore
from tests.contract.stores import KINDS, dynamodb_client, fresh_table

KEY = "CONCAT#l1#447700900123#7#2"
TEXT = Part(None, text="hello \u043f\u0440\u0438\u0432\u0435\u0442")
RAW = Part(None, payload=bytes.fromhex("1b65"), data_coding=0)
UCS2 = Part(None, payload="hi".encode("utf-16-be"), data_coding=8)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest) -> ReassemblyStore:
    if request.param == "memory":
        return MemoryReassemblyStore()
    client = dynamodb_client(request, request.param)
    return DynamoReassemblyStore(client, fresh_table(client, "messages"))


def test_parts_are_held_once_and_read_back(store: ReassemblyStore) -> None:
    assert store.parts(KEY, now=0) == {}
    assert store.add(KEY, 2, "mo2", RAW, expires_at=400, now=100) == "mo2"
    assert store.add(KEY, 1, "mo1", TEXT, expires_at=300, now=0) == "mo1"
    assert store.add(KEY, 1, "mo1", TEXT, expires_at=300, now=0) == "mo1"  # a redelivery
    assert store.add(KEY, 1, "dup", UCS2, expires_at=350, now=50) == "mo1"  # a resent part
    assert store.parts(KEY, now=100) == {1: ("mo1", TEXT), 2: ("mo2", RAW)}
    assert store.parts("CONCAT#other", now=0) == {}


def test_timed_out_parts_are_not_read_and_may_be_replaced(store: ReassemblyStore) -> None:
    store.add(KEY, 1, "old", TEXT, expires_at=300, now=0)
    assert store.parts(KEY, now=300) == {1: ("old", TEXT)}
    assert store.parts(KEY, now=301) == {}
    assert store.add(KEY, 1, "new", UCS2, expires_at=700, now=400) == "new"
    assert store.parts(KEY, now=400) == {1: ("new", UCS2)}


def test_one_completion_stands(store: ReassemblyStore) -> None:
    assert store.completion(KEY) is None
    mine = Completion("mo2", ("mo1", "mo2"), (TEXT, RAW), window_end=300)
    theirs = Completion("mo1", ("mo1", "mo2"), (TEXT, UCS2), window_end=310)
    assert store.complete(KEY, mine, now=100, expires_at=10_000) == mine
    assert store.complete(KEY, theirs, now=100, expires_at=10_000) == mine
    assert store.completion(KEY) == mine
    later = Completion("mo9", ("mo8", "mo9"), (TEXT, TEXT), window_end=900)
    assert store.complete(KEY, later, now=301, expires_at=10_000) == later  # the old window is over


def test_discard_removes_the_set(store: ReassemblyStore) -> None:
    store.add(KEY, 1, "mo1", TEXT, expires_at=300, now=0)
    store.add(KEY, 2, "mo2", RAW, expires_at=300, now=0)
    store.complete(KEY, Completion("mo2", ("mo1", "mo2"), (TEXT, RAW), 300), now=0, expires_at=10_000)
    store.add("CONCAT#keep", 1, "k", TEXT, expires_at=300, now=0)
    store.discard(KEY)
    store.discard(KEY)  # idempotent
    assert store.parts(KEY, now=0) == {} and store.completion(KEY) is None
    assert store.parts("CONCAT#keep", now=0) == {1: ("k", TEXT)}
