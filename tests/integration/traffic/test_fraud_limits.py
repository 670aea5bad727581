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

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_traffic_counters import DynamoTrafficCounters
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.contracts import MoReceived
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.fraud_limits import FraudLimit, counted_by
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import StoredTransfer, TransferKind, transfer_id
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.traffic import Direction, HeldMessage, HeldStatus, MessageFacts, Window, window_start
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.traffic_control import CounterHit
from smsbilling.settings import QueueUrls, TrafficLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

PRICE = 150
PUMPED, HELD_NUMBER, COUNTED = "7181", "7182", "7183"  # premium numbers of this module's operator
PUMP_RANGE, HOLD_RANGE = "4477009001", "4477009002"
LINK_TOKEN = "fraud-link-token-0123456789"
TIMEOUT_S = 90.0
CONCURRENT = 16


@dataclass
class FraudWorld:
    stack: Stack
    suffix: str
    admin_key: str
    operator_id: str
    link_id: str
    partner_id: str
    prefix: str  # every service's keyword

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self._dynamodb, self.stack.outputs["EntitiesTableName"])

    @property
    def counters(self) -> DynamoTrafficCounters:
        return DynamoTrafficCounters(self._dynamodb, self.stack.outputs["CountersTableName"])

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.stack.api.request(method, path.lstrip("/"), json=body, headers=headers)

    def limit_id(self, name: str) -> str:
        return f"it-{name}-{self.suffix}"

    def send_mo(self, msisdn: str, number: str, text: str = "") -> str:
        answer = self.stack.api.post(
            f"operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": uuid.uuid4().hex,
                "source": f"+{msisdn}",
                "destination": number,
                "text": text or f"{self.prefix} {msisdn[-3:]}",
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def settled(self, message_id: str) -> StoredMo:
        """The MO once decided (a final state) or held for review."""
        store = DynamoInboundStore(self._dynamodb, self.stack.outputs["MessagesTableName"])

        def done() -> StoredMo | None:
            mo = store.get(message_id)
            return mo if mo is not None and (mo.state.is_final or mo.state is MoState.HELD) else None

        try:
            mo: StoredMo = wait_for(done, TIMEOUT_S)
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def charge(self, message_id: str) -> StoredTransfer | None:
        return self.ledger.get_transfer(transfer_id(message_id, str(TransferKind.MO_CHARGE)))


def _room_in(window_s: int, needed_s: int) -> None:
    """Wait, if need be, so the next ``needed_s`` seconds fall in one UTC window of ``window_s``."""
    into = time.time() % window_s
    if into > window_s - needed_s:
        time.sleep(window_s - into + 1)


def _drained(stack: Stack, queue_url: str) -> bool:
    counts = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(value) == 0 for value in counts.values())


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[FraudWorld]:
    """An operator with an HTTP link and three priced premium numbers, a partner's service on each,
    an admin key, and the module's fraud limits (set through the admin API, then given time to reach
    the MO processors' rule caches)."""
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-fl-{suffix}", f"l-fl-{suffix}", f"p-fl-{suffix}"
    prefix = f"F{suffix[:6].upper()}"
    plan_id = f"plan-fl-{suffix}"
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    now = datetime.now(UTC)
    admin, admin_key = new_admin_key(f"it-fl-{suffix}", "Fraud-limit tests", now)
    entities.create(admin)
    numbers = [
        ShortNumber(operator_id=operator_id, number=n, billing_model=BillingModel.MO, tariff_plan_id=plan_id)
        for n in (PUMPED, HELD_NUMBER, COUNTED)
    ]
    services = [
        PartnerService(
            service_id=f"svc-fl-{number.number}-{suffix}",
            partner_id=partner_id,
            name=f"Premium {number.number}",
            prefix=prefix,
            short_numbers=(number.entity_id,),
            handler_kind=HandlerKind.SMPP,  # delivered through the partner's outbox: no handler to run
            smpp_system_id=f"fl{suffix[:6]}",
            status=ServiceStatus.ACTIVE,
        )
        for number in numbers
    ]
    for entity in (
        Operator(operator_id=operator_id, name="Fraud Mobile", country_code="44", currency="GBP"),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
        ),
        *numbers,
        Partner(
            partner_id=partner_id,
            name="Fraud-limit partner",
            email="fraud@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        ),
        *services,
    ):
        entities.put(entity)
    for service in services:
        claim_prefix(entities, service, service.short_numbers[0])
    price_numbers(
        stack,
        plan_id=plan_id,
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[n.number for n in numbers],
        price=PRICE,
    )
    world = FraudWorld(stack, suffix, admin_key, operator_id, link_id, partner_id, prefix)
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
        mo = world.settled(world.send_mo(f"{PUMP_RANGE}{n:02d}", PUMPED))
        assert (mo.state, mo.charged_amount, mo.reason) == (MoState.ROUTED, PRICE, ""), mo
        allowed.append(mo)
    # Then the pump: many subscribers of the range at once; not one more gets through.
    with ThreadPoolExecutor(max_workers=8) as pool:
        pumped = list(pool.map(lambda n: world.send_mo(f"{PUMP_RANGE}{n:02d}", PUMPED), range(5, 20)))
    blocked = [world.settled(message_id) for message_id in pumped]
    minutes = {window_start(Window.MINUTE, int(mo.received_at.timestamp())) for mo in allowed + blocked}
    assert len(minutes) == 1, "the run crossed a minute boundary: the machine was too slow for this test"
    reason = f"fraud_limit: over 5 MOs per minute for number range {PUMP_RANGE}"
    for mo in blocked:
        assert (mo.state, mo.reason, mo.charged_amount) == (MoState.REJECTED, reason, None), mo
        assert f"fraud_limit:{world.limit_id('pump')}:reject" in mo.controls
        assert world.charge(mo.message_id) is None
    for mo in allowed:
        assert world.charge(mo.message_id) is not None


def test_a_hold_limit_holds_mos_for_review_uncharged(world: FraudWorld) -> None:
    _room_in(3_600, needed_s=120)
    first = [world.settled(world.send_mo(f"{HOLD_RANGE}{n:02d}", HELD_NUMBER)) for n in range(2)]
    assert [(mo.state, mo.charged_amount) for mo in first] == [(MoState.ROUTED, PRICE)] * 2
    held = [world.settled(world.send_mo(f"{HOLD_RANGE}{n:02d}", HELD_NUMBER)) for n in range(2, 4)]
    for mo in held:
        assert mo.state is MoState.HELD, mo
        assert mo.reason == f"fraud_limit: over 2 MOs per hour for number range {HOLD_RANGE}"
        assert world.charge(mo.message_id) is None
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
    after = world.settled(released.message_id)
    assert (after.state, after.charged_amount) == (MoState.ROUTED, PRICE), after
    ended = world.settled(refused.message_id)
    assert ended.state is MoState.REJECTED and world.charge(refused.message_id) is None, ended


def test_concurrent_mos_are_each_counted_once(world: FraudWorld) -> None:
    _room_in(3_600, needed_s=120)
    subscribers = [f"4477{n:02d}900{n:03d}" for n in range(CONCURRENT)]  # each in its own range
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        sent = list(pool.map(lambda msisdn: world.send_mo(msisdn, COUNTED), subscribers))
    decided = [world.settled(message_id) for message_id in sent]
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

    # SQS delivers one of them again (at least once): it is not counted twice.
    again = decided[0]
    SqsEventPublisher(
        world.stack.client("sqs"), QueueUrls(mo=world.stack.outputs["MoQueueUrl"])
    ).publish_mo_received(
        MoReceived(message_id=again.message_id, link_id=world.link_id, received_at=again.received_at)
    )
    wait_for(lambda: _drained(world.stack, world.stack.outputs["MoQueueUrl"]), TIMEOUT_S)
    assert world.counters.totals([hit], at_s=at_s) == [CONCURRENT]
    assert world.settled(again.message_id).state is MoState.ROUTED
