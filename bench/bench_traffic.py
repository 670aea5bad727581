"""Traffic-control benchmark: guard checks per second, and the counters' writes (docs/traffic-control.md).

    .venv/bin/python bench/bench_traffic.py                  # memory parts + DynamoDB Local, started here
    AWS_ENDPOINT_URL=http://127.0.0.1:4566 .venv/bin/python bench/bench_traffic.py   # another endpoint

- ``spam_checks_per_s``: the anti-spam control alone, 40 global rules (words, phrases, regexes,
  URLs), over a mix of spam and ordinary texts, one core.
- ``guard_mt_per_s`` / ``guard_mo_per_s``: the whole guard as the processors run it (duplicates,
  countries, anti-spam, fraud limits and flood, risk; no HLR: that is a network call) over
  in-memory stores, one core: the CPU a check costs in a processor.
- ``counter_messages_per_s_<n>_threads``: what the fraud-limit control writes for one message (its
  counters: a subscriber, a number range and a hot operator counter over 64 shards, counted once
  per message in one transaction) against DynamoDB, n threads at once: the part of the 1,000
  messages/s design (docs/traffic/fraud-limits.md) a single table endpoint can show. DynamoDB Local
  is a single Java process on this machine, not the service: the number bounds nothing in AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

from infra.dynamodb_local import DynamoDbLocal
from smsbilling.adapters.dynamodb_ledger_items import create_ledger_table
from smsbilling.adapters.dynamodb_traffic_counters import DynamoTrafficCounters
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_fingerprints import MemoryFingerprintStore
from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.domain.entities import Operator, Partner, PartnerStatus
from smsbilling.domain.fraud_limits import FraudLimit
from smsbilling.domain.spam import SpamKind, SpamRule
from smsbilling.domain.traffic import Action, Direction, MessageFacts, Window
from smsbilling.logic.countries import CountryControl, DestinationRulesCache
from smsbilling.logic.duplicates import DuplicateControl
from smsbilling.logic.fraud_limits import FraudLimitControl
from smsbilling.logic.risk import RiskControl
from smsbilling.logic.spam import SpamControl
from smsbilling.logic.traffic_control import CounterHit, DiscardAlerts, TrafficControl, TrafficGuard
from smsbilling.settings import TrafficLimits

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TEXTS = (
    "Your code is 482913. It expires in 5 minutes.",
    "Your parcel 4711 is on its way and arrives tomorrow between 9 and 12.",
    "C0NGRATULATI0NS!!! You w0n a FREE iPhone, claim at hxxp://prize-claim[.]top now",
    "Ваш заказ №1234 доставлен. Спасибо, что выбрали нас!",
    "Скидка 90% только сегодня! Переходи: bit.ly/xyz",
    "Reminder: your appointment is on Monday at 10:30.",
    "f r e e  c a s h  loan approved, reply YES",
    "Meeting moved to 3pm, see you there.",
)
WORDS = ("free cash", "loan approved", "casino", "viagra", "lottery", "jackpot", "prize", "bitcoin", "crypto")
RU_WORDS = ("скидк*", "казино", "выигрыш", "кредит одобрен", "лотерея")


def spam_rules() -> list[SpamRule]:
    rules: list[SpamRule] = []
    patterns = [(SpamKind.PHRASE, w) for w in WORDS + RU_WORDS]
    patterns += [
        (SpamKind.REGEX, r"\b(win|won)\b.{0,20}\b(iphone|car|cash)\b"),
        (SpamKind.URL, "prize-claim.top"),
    ]
    patterns += [(SpamKind.URL, f"spam{n}.example") for n in range(40 - len(patterns))]
    for n, (kind, pattern) in enumerate(patterns):
        rules.append(
            SpamRule(
                rule_id=f"r{n}",
                kind=kind,
                pattern=pattern,
                action=Action.REJECT,
                reason="bench",
                created_at=T0,
            )
        )
    return rules


def world() -> MemoryEntityStore:
    entities = MemoryEntityStore()
    entities.put(
        Operator(operator_id="op1", name="Op", country_code="44", currency="GBP", msisdn_prefixes=("447",))
    )
    entities.put(
        Partner(partner_id="p1", name="P", email="p@example.com", status=PartnerStatus.ACTIVE, created_at=T0)
    )
    for rule in spam_rules():
        entities.put(rule)
    limits = [
        ("sub", "subscriber", Window.HOUR, 1_000_000),
        ("range", "number_range", Window.MINUTE, 1_000_000),
        ("op", "operator", Window.DAY, 1_000_000_000),
        ("partner", "partner", Window.MONTH, 1_000_000_000),
    ]
    for limit_id, scope, window, threshold in limits:
        entities.put(
            FraudLimit.model_validate(
                {
                    "limit_id": limit_id,
                    "scope": scope,
                    "window": window,
                    "threshold": threshold,
                    "action": "hold",
                    "created_at": T0,
                }
            )
        )
    return entities


def facts(n: int, direction: Direction) -> MessageFacts:
    return MessageFacts(
        direction=direction,
        message_id=f"m{n}",
        at=T0 + timedelta(milliseconds=n),
        msisdn=f"4477009{n % 100_000:05d}",
        text=TEXTS[n % len(TEXTS)],
        operator_id="op1",
        partner_id="p1",
        service_id="s1",
        short_number="4444",
        price=150,
        currency="GBP",
        purpose="api" if direction is Direction.MT else None,
    )


def per_second(count: int, check: object, direction: Direction) -> float:
    run = check.check  # type: ignore[attr-defined]
    items = [facts(n, direction) for n in range(count)]
    start = time.perf_counter()
    for item in items:
        run(item)
    return count / (time.perf_counter() - start)


def guard(entities: MemoryEntityStore) -> TrafficGuard:
    settings = TrafficLimits(rules_cache_s=3600)
    counters = MemoryTrafficCounters()
    controls: list[TrafficControl] = [
        DuplicateControl(MemoryFingerprintStore(), window_s=300),
        CountryControl(DestinationRulesCache(entities, ttl_s=3600)),
        SpamControl.from_settings(entities, settings),
        FraudLimitControl(entities, counters, lambda: settings),
        RiskControl(counters, entities, settings.risk, cache_s=3600),
    ]
    return TrafficGuard(controls=controls, alerts=DiscardAlerts())


def counter_writes(endpoint: str, count: int, threads: int) -> float:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=max(10, threads * 2)),
    )
    table = f"bench-counters-{uuid.uuid4().hex[:8]}"
    create_ledger_table(client, table)
    counters = DynamoTrafficCounters(client, table)
    at_s = int(T0.timestamp())

    def one(n: int) -> None:
        hits = [
            CounterHit(f"FL#sub#4477009{n % 1000:05d}", Window.HOUR),
            CounterHit(f"FL#range#4477009{n % 1000 // 100:03d}", Window.MINUTE),
            CounterHit("FL#op#op1", Window.DAY, shards=64),
        ]
        counters.count(f"m{n}", hits, at_s=at_s)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--ddb-messages", type=int, default=1_000)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()
    entities = world()
    spam = SpamControl.from_settings(entities, TrafficLimits(rules_cache_s=3600))
    results: dict[str, float] = {
        "spam_checks_per_s": max(per_second(args.checks, spam, Direction.MT) for _ in range(3)),
        "guard_mt_per_s": max(per_second(args.checks, guard(entities), Direction.MT) for _ in range(3)),
        "guard_mo_per_s": max(per_second(args.checks, guard(entities), Direction.MO) for _ in range(3)),
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    threads = [int(t) for t in args.threads.split(",")]

    def ddb(url: str) -> None:
        for n in threads:
            results[f"counter_messages_per_s_{n}_threads"] = counter_writes(url, args.ddb_messages, n)

    if endpoint:
        ddb(endpoint)
    else:
        with DynamoDbLocal.start() as server:
            ddb(server.endpoint_url)
    print(json.dumps({"python": platform.python_version(), "cpus": os.cpu_count(), **results}, indent=2))


if __name__ == "__main__":
    main()
