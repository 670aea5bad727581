"""Fraud limits on the deployed stack (docs/traffic/fraud-limits.md): set through the admin API, acting
on MOs an operator sends over its HTTP link.

A pumping run from many subscribers of one number range to a premium number: the admin's limit
(5 MOs per minute from 4477009001xx) lets the first five through, charged, and every MO after it in
that minute ends ``rejected`` with the limit's reason, never charged. A hold limit holds MOs for
review instead (state ``held``, a held-message record, no charge). Concurrent MOs are all counted,
exactly once: the counter read through the adapter over the stack's counters table equals the
number of MOs, a redelivered one included. Nothing in between is stubbed: the deployed MO processor
runs the deployed guard over the entities and counters tables.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from smsbilling.contracts import MoReceived
from smsbilling.domain.fraud_limits import FraudLimit, counted_by
from smsbilling.domain.inbound import MoState
from smsbilling.domain.traffic import Direction, HeldMessage, HeldStatus, MessageFacts, Window, window_start
from smsbilling.logic.traffic_control import CounterHit
from smsbilling.settings import TrafficLimits
from tests.conftest import Stack
from tests.integration.billing_world import PartnerWorld, partner_world
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

PRICE = 150
PUMPED, HELD_NUMBER, COUNTED = "7181", "7182", "7183"  # premium numbers of this module's operator
PUMP_RANGE, HOLD_RANGE = "4477009001", "4477009002"
CONCURRENT = 16


class FraudWorld(PartnerWorld):
    def limit_id(self, name: str) -> str:
        return f"it-{name}-{self.suffix}"

    def send_mo_from(self, msisdn: str, number: str) -> str:
        """An MO from ``msisdn`` to ``number`` with the services' keyword: its message id."""
        return self.send_mo(f"{self.service.prefix} {msisdn[-3:]}", msisdn, number=number)


def _room_in(window_s: int, needed_s: int) -> None:
    """Wait, if need be, so the next ``needed_s`` seconds fall in one UTC window of ``window_s``."""
    into = time.time() % window_s
    if into > window_s - needed_s:
        time.sleep(window_s - into + 1)


def _sqs_record(body: str) -> dict[str, object]:
    """One SQS record as Lambda's event source mapping hands it to the function."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "redelivered",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": "test",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:mo",
        "awsRegion": "us-east-1",
    }


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[FraudWorld]:
    """An operator with an HTTP link and three priced premium numbers, a partner's service on each,
    an admin key, and the module's fraud limits (set through the admin API, then given time to reach
    the MO processors' rule caches)."""
    with partner_world(
        stack,
        FraudWorld,
        tag="fl",
        numbers=[PUMPED, HELD_NUMBER, COUNTED],
        price=PRICE,
        range_head=None,
        demo_operator=False,
        api_key=False,
    ) as world:
        for number in world.numbers:
            world.add_service(number, smpp=True)  # delivered through the partner's outbox: no handler to run
        limits = {
            "pump": {"scope": "number_range", "scope_value": PUMP_RANGE, "window": "minute", "threshold": 5},
            "hold": {"scope": "number_range", "scope_value": HOLD_RANGE, "window": "hour", "threshold": 2},
            "count": {"scope": "short_number", "scope_value": COUNTED, "window": "hour", "threshold": 10**6},
        }
        actions = {"pump": "reject", "hold": "hold", "count": "alert"}
        for name, body in limits.items():
            created = world.admin(
                "POST",
                "/admin/fraud-limits",
                body | {"limit_id": world.limit_id(name), "direction": "mo", "action": actions[name]},
            )
            assert created.status_code == 201, created.text
        time.sleep(STACK_RULES_CACHE_S + 3)  # every warm MO processor reads the limits again
        try:
            yield world
        finally:
            for name in limits:
                assert world.admin("DELETE", f"/admin/fraud-limits/{world.limit_id(name)}").status_code == 200


def test_a_pumping_run_over_one_number_range_is_blocked_after_the_limit(world: FraudWorld) -> None:
    stored = world.admin("GET", f"/admin/fraud-limits/{world.limit_id('pump')}")
    assert stored.status_code == 200 and stored.json()["threshold"] == 5
    _room_in(60, needed_s=45)  # the whole run in one minute window
    # The first five, one after another: each routed and charged.
    allowed = []
    for n in range(5):
        mo = world.decided_or_held(world.send_mo_from(f"{PUMP_RANGE}{n:02d}", PUMPED))
        assert (mo.state, mo.charged_amount, mo.reason) == (MoState.ROUTED, PRICE, ""), mo
        allowed.append(mo)
    # Then the pump: many subscribers of the range at once; not one more gets through.
    with ThreadPoolExecutor(max_workers=8) as pool:
        pumped = list(pool.map(lambda n: world.send_mo_from(f"{PUMP_RANGE}{n:02d}", PUMPED), range(5, 20)))
    blocked = [world.decided_or_held(message_id) for message_id in pumped]
    minutes = {window_start(Window.MINUTE, int(mo.received_at.timestamp())) for mo in allowed + blocked}
    assert len(minutes) == 1, "the run crossed a minute boundary: the machine was too slow for this test"
    reason = f"fraud_limit: over 5 MOs per minute for number range {PUMP_RANGE}"
    for mo in blocked:
        assert (mo.state, mo.reason, mo.charged_amount) == (MoState.REJECTED, reason, None), mo
        assert f"fraud_limit:{world.limit_id('pump')}:reject" in mo.controls
        assert world.mo_charge(mo.message_id) is None
    for mo in allowed:
        assert world.mo_charge(mo.message_id) is not None


def test_a_hold_limit_holds_mos_for_review_uncharged(world: FraudWorld) -> None:
    _room_in(3_600, needed_s=120)
    first = [world.decided_or_held(world.send_mo_from(f"{HOLD_RANGE}{n:02d}", HELD_NUMBER)) for n in range(2)]
    assert [(mo.state, mo.charged_amount) for mo in first] == [(MoState.ROUTED, PRICE)] * 2
    held = [
        world.decided_or_held(world.send_mo_from(f"{HOLD_RANGE}{n:02d}", HELD_NUMBER)) for n in range(2, 4)
    ]
    for mo in held:
        assert mo.state is MoState.HELD, mo
        assert mo.reason == f"fraud_limit: over 2 MOs per hour for number range {HOLD_RANGE}"
        assert world.mo_charge(mo.message_id) is None
        review = world.entities.get(HeldMessage, mo.message_id)
        assert review is not None and review.status is HeldStatus.HELD and review.reason == mo.reason
        shown = world.admin("GET", f"/admin/held/{mo.message_id}")
        assert shown.status_code == 200 and shown.json()["findings"] == [
            f"fraud_limit:{world.limit_id('hold')}:hold"
        ]
    # The admin releases one (it goes on, charged, not checked again) and rejects the other.
    released, refused = held
    assert world.admin("POST", f"/admin/held/{released.message_id}/release", {}).status_code == 200
    assert (
        world.admin("POST", f"/admin/held/{refused.message_id}/reject", {"note": "pumping"}).status_code
        == 200
    )
    after = world.decided_or_held(released.message_id)
    assert (after.state, after.charged_amount) == (MoState.ROUTED, PRICE), after
    ended = world.decided_or_held(refused.message_id)
    assert ended.state is MoState.REJECTED and world.mo_charge(refused.message_id) is None, ended


def test_concurrent_mos_are_each_counted_once(world: FraudWorld) -> None:
    _room_in(3_600, needed_s=120)
    subscribers = [f"4477{n:02d}900{n:03d}" for n in range(CONCURRENT)]  # each in its own range
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        sent = list(pool.map(lambda msisdn: world.send_mo_from(msisdn, COUNTED), subscribers))
    decided = [world.decided_or_held(message_id) for message_id in sent]
    assert {mo.state for mo in decided} == {MoState.ROUTED}, [(mo.state, mo.reason) for mo in decided]

    limit = world.entities.get(FraudLimit, world.limit_id("count"))
    assert limit is not None
    at_s = int(decided[0].received_at.timestamp())
    facts = MessageFacts(
        direction=Direction.MO,
        message_id="probe",
        at=decided[0].received_at,
        msisdn=subscribers[0],
        short_number=COUNTED,
        price=PRICE,
        currency="GBP",
    )
    counted = counted_by(limit, facts)
    assert counted is not None and counted.hot  # a short-number counter: spread over shards
    hit = CounterHit(counted.key, counted.window, shards=TrafficLimits().counter_hot_shards)
    assert world.counters.totals([hit], at_s=at_s) == [CONCURRENT]

    # SQS delivers one of them again (at least once): the MO processor, given that record as the queue
    # would hand it over, succeeds and counts nothing twice. (Invoked directly: waiting for the shared
    # MO queue to drain depends on every other test's messages.)
    again = decided[0]
    redelivered = MoReceived(
        message_id=again.message_id, link_id=world.link_id, received_at=again.received_at
    )
    answer = world.stack.client("lambda").invoke(
        FunctionName=world.stack.outputs["MoProcessorFunctionName"],
        Payload=json.dumps({"Records": [_sqs_record(redelivered.model_dump_json())]}).encode(),
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": []}
    assert world.counters.totals([hit], at_s=at_s) == [CONCURRENT]
    assert world.decided_or_held(again.message_id).state is MoState.ROUTED
