"""Billing core benchmark: ratings/s (pure) and postings/s (memory store and DynamoDB).

    .venv/bin/python bench/bench_billing.py                   # DynamoDB Local, started here
    AWS_ENDPOINT_URL=http://127.0.0.1:4566 .venv/bin/python bench/bench_billing.py   # another endpoint

Every posting is one message's full charge (5-6 legs + the idempotency record in one
TransactWriteItems on DynamoDB). Results go to stdout; docs/performance.md records them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from infra.dynamodb_local import DynamoDbLocal
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.domain import postings
from smsbilling.domain.ledger import Transfer
from smsbilling.domain.rating import PeriodTraffic, RatedMessage, ServiceRef, rate
from smsbilling.domain.tariff import CommissionScale, CommissionStep, NumberTariff, StepBasis, TariffPlan
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.ports import LedgerStore

OP, NUMBER, CUR = "op1", "4444", "RUB"
PLAN = TariffPlan(
    plan_id="bench",
    currency=CUR,
    effective_from_ms=0,
    numbers={(OP, NUMBER): NumberTariff(OP, NUMBER, CUR, 30_000, 2_000, 4_500)},
    scale=CommissionScale(
        StepBasis.COUNT,
        (CommissionStep(0, 4_000), CommissionStep(1_000, 3_000), CommissionStep(10_000, 2_000)),
    ),
    referral_bps=1_000,
)
SERVICE = ServiceRef("svc", "p1", referrer_id="p2")


def bench_ratings(count: int) -> float:
    messages = [RatedMessage(f"m{i}", OP, NUMBER, i) for i in range(1_000)]
    traffic = [PeriodTraffic(count=i * 37 % 20_000) for i in range(1_000)]
    start = time.perf_counter()
    for i in range(count):
        rate(messages[i % 1_000], SERVICE, PLAN, traffic[i % 1_000])
    return count / (time.perf_counter() - start)


def charge(i: int, run: str) -> Transfer:
    message = RatedMessage(f"{run}-m{i}", OP, NUMBER, i)
    split = rate(message, SERVICE, PLAN, PeriodTraffic(i))
    transfer = postings.charge(message, SERVICE, split, mt_billing=False)
    if transfer is None:
        raise RuntimeError("free message")
    return transfer


def open_world(store: LedgerStore) -> None:
    open_platform(store, CUR)
    open_operator(store, OP, CUR)
    for partner in ("p1", "p2"):
        open_partner(store, partner, CUR)


def bench_postings(store: LedgerStore, count: int, threads: int, batch: int = 1) -> float:
    """Post ``count`` message charges from ``threads`` threads, one by one or ``batch`` at a time."""
    run = uuid.uuid4().hex[:8]
    transfers = [charge(i, run) for i in range(count)]
    chunks = [transfers[t::threads] for t in range(threads)]

    def worker(chunk: list[Transfer]) -> None:
        for start in range(0, len(chunk), batch):
            if batch == 1:
                store.post(chunk[start])
                continue
            for result in store.post_many(chunk[start : start + batch]):
                if isinstance(result, Exception):
                    raise result

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, chunks))
    return count / (time.perf_counter() - start)


def dynamodb_store(endpoint: str, limits_table: str) -> DynamoDbLedgerStore:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=64),
    )
    create_ledger_table(client, limits_table)
    store = DynamoDbLedgerStore(limits_table, client)
    open_world(store)
    return store


def run_dynamodb(endpoint: str, label: str, count: int, thread_counts: list[int]) -> dict[str, float]:
    store = dynamodb_store(endpoint, f"bench-ledger-{uuid.uuid4().hex[:8]}")
    bench_postings(store, 50, 1)  # warm-up: connections, JIT of the server
    results = {f"postings_per_s_{label}_{t}_threads": bench_postings(store, count, t) for t in thread_counts}
    for t in thread_counts:
        results[f"postings_per_s_{label}_{t}_threads_batch_25"] = bench_postings(store, count, t, batch=25)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", type=int, default=300_000)
    parser.add_argument("--postings", type=int, default=30_000)
    parser.add_argument("--ddb-postings", type=int, default=1_000)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    results: dict[str, float] = {"ratings_per_s": max(bench_ratings(args.ratings) for _ in range(3))}
    memory = MemoryLedgerStore()
    open_world(memory)
    results["postings_per_s_memory"] = bench_postings(memory, args.postings, 1)
    results["postings_per_s_memory_batch_25"] = bench_postings(memory, args.postings, 1, batch=25)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    run: Callable[[str, str], dict[str, float]] = lambda url, label: run_dynamodb(  # noqa: E731
        url, label, args.ddb_postings, threads
    )
    if endpoint:
        results.update(run(endpoint, "endpoint"))
    else:
        with DynamoDbLocal.start() as server:
            results.update(run(server.endpoint_url, "dynamodb_local"))
    print(json.dumps({"python": platform.python_version(), "cpus": os.cpu_count(), **results}, indent=2))


if __name__ == "__main__":
    main()
