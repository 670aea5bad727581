"""One contract for the HLR answers' cache: the in-memory fake, DynamoDB Local, the local cloud."""

from __future__ import annotations

from typing import Any

import pytest

from smsbilling.adapters.dynamodb_hlr_cache import DynamoHlrCache, hlr_pk
from smsbilling.adapters.memory_hlr_cache import MemoryHlrCache
from smsbilling.logic.hlr import HlrCache, HlrResult, HlrStatus

from .stores import KINDS, dynamodb_client, fresh_table

NOW = 1_795_000_000
FULL = HlrResult(HlrStatus.REACHABLE, network="310260", ported=True)
BARE = HlrResult(HlrStatus.UNREACHABLE, error="invalid msisdn")
ABSENT = HlrResult(HlrStatus.UNKNOWN, network="20406", ported=False, error="absent subscriber", absent=True)


DYNAMODB_KINDS = [param for param in KINDS if param.values[0] != "memory"]


def make_cache(kind: str, request: pytest.FixtureRequest) -> tuple[HlrCache, Any]:
    """The cache and, for DynamoDB kinds, a reader of its raw item (None for memory)."""
    if kind == "memory":
        return MemoryHlrCache(), None
    client = dynamodb_client(request, kind)
    table = fresh_table(client, "hlr")

    def raw(msisdn: str) -> dict[str, Any] | None:
        key = {"pk": {"S": hlr_pk(msisdn)}, "sk": {"S": "RESULT"}}
        return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    return DynamoHlrCache(client, table), raw


@pytest.fixture(params=KINDS)
def cache(request: pytest.FixtureRequest) -> HlrCache:
    return make_cache(request.param, request)[0]


def test_nothing_kept_is_none(cache: HlrCache) -> None:
    assert cache.get("447700900123", now_s=NOW) is None


@pytest.mark.parametrize("result", [FULL, BARE, ABSENT], ids=["full", "bare", "absent"])
def test_an_answer_comes_back_as_it_was_put(cache: HlrCache, result: HlrResult) -> None:
    cache.put("447700900123", result, now_s=NOW, ttl_s=600)
    assert cache.get("447700900123", now_s=NOW) == result
    assert cache.get("447700900124", now_s=NOW) is None  # per MSISDN


def test_an_answer_expires_after_its_own_ttl(cache: HlrCache) -> None:
    cache.put("441", FULL, now_s=NOW, ttl_s=3600)
    cache.put("442", BARE, now_s=NOW, ttl_s=60)
    assert cache.get("442", now_s=NOW + 59) == BARE
    assert cache.get("442", now_s=NOW + 60) is None  # expired: absent, though not deleted yet
    assert cache.get("441", now_s=NOW + 60) == FULL
    assert cache.get("441", now_s=NOW + 3600) is None


def test_a_new_answer_replaces_the_old_one_and_its_expiry(cache: HlrCache) -> None:
    cache.put("441", FULL, now_s=NOW, ttl_s=60)
    cache.put("441", BARE, now_s=NOW + 30, ttl_s=600)
    assert cache.get("441", now_s=NOW + 100) == BARE


@pytest.mark.parametrize("kind", DYNAMODB_KINDS)
def test_dynamodb_items_carry_the_ttl_attribute(kind: str, request: pytest.FixtureRequest) -> None:
    cache, raw = make_cache(kind, request)
    cache.put("447700900123", ABSENT, now_s=NOW, ttl_s=300)
    item = raw("447700900123")
    assert item is not None and item["expires_at"] == {"N": str(NOW + 300)}
    assert item["status"] == {"S": "unknown"} and item["absent"] == {"BOOL": True}
