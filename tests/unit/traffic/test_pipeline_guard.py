"""The traffic guard in the MO and MT pipelines: reject, hold, review, alerts (logic/traffic_*.py).

The controls here are scripted (each says what the test tells it to): what is under test is what
the processors do with a verdict, not how a control reaches it (each control has its own tests).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.contracts import MoReceived
from smsbilling.domain.inbound import MoState
from smsbilling.domain.mt import MtState
from smsbilling.domain.traffic import (
    Action,
    AlertEvent,
    ControlName,
    Direction,
    Finding,
    HeldMessage,
    HeldStatus,
    MessageFacts,
    Verdict,
)
from smsbilling.logic.admin_common import AdminCall, Conflict
from smsbilling.logic.mt_sending import OperatorUnavailable
from smsbilling.logic.traffic_control import ControlResult, TrafficGuard
from smsbilling.logic.traffic_review import decide_held, held_messages, republish
from tests.unit.mt import world as mt_world
from tests.unit.routing import world as mo_world

ADMIN = AdminCall(admin_key_id="adm1", now=mo_world.T0)


@dataclass
class Scripted:
    """A control that answers ``action`` (None: nothing to say) and remembers what it was shown."""

    action: Action | None = None
    name: ControlName = ControlName.FRAUD_LIMIT
    score: int | None = None
    seen: list[MessageFacts] = field(default_factory=list)

    def check(self, facts: MessageFacts) -> ControlResult:
        self.seen.append(facts)
        if self.action is None:
            return ControlResult(risk_score=self.score)
        finding = Finding(self.name, "r1", self.action, f"scripted {self.action.value}")
        return ControlResult((finding,), risk_score=self.score)


@dataclass
class Alerts:
    raised: list[AlertEvent] = field(default_factory=list)

    def raise_alert(self, event: AlertEvent) -> None:
        self.raised.append(event)


def guard(
    *controls: Scripted, alerts: Alerts | None = None, exempt: frozenset[str] = frozenset()
) -> TrafficGuard:
    return TrafficGuard(controls=controls, alerts=alerts or Alerts(), exempt_purposes=exempt)


def test_guard_runs_controls_in_order_stops_at_the_first_reject_and_alerts_every_finding() -> None:
    alerts = Alerts()
    first = Scripted(Action.ALERT, name=ControlName.DUPLICATE)
    second = Scripted(Action.REJECT, name=ControlName.SPAM)
    third = Scripted(Action.HOLD, name=ControlName.HLR)
    facts = MessageFacts(direction=Direction.MT, message_id="m1", at=mo_world.T0, msisdn="447700900123")

    observed: list[tuple[MessageFacts, Verdict]] = []
    checking = guard(first, second, third, alerts=alerts)
    checking = TrafficGuard(checking.controls, alerts, observe=lambda f, v: observed.append((f, v)))
    verdict = checking.check(facts)

    assert verdict.action is Action.REJECT and verdict.reason == "spam: scripted reject"
    assert verdict.labels == ("duplicate:r1:alert", "spam:r1:reject")
    assert third.seen == []  # never asked after a reject (the HLR lookup is paid)
    assert observed == [(facts, verdict)]  # what the deployed guard counts as metrics
    assert [event.finding.control for event in alerts.raised] == [ControlName.DUPLICATE, ControlName.SPAM]
    hour = alerts.raised[0].key.rsplit("#", 1)[1]
    assert int(hour) % 3600 == 0  # one alert record per rule and hour


def test_exempt_purposes_are_never_checked() -> None:
    control = Scripted(Action.REJECT)
    facts = MessageFacts(
        direction=Direction.MT, message_id="m1", at=mo_world.T0, msisdn="447700900123", purpose="notice"
    )
    assert guard(control, exempt=frozenset({"notice"})).check(facts).action is None
    assert control.seen == []


# --- MO --------------------------------------------------------------------------------------------


def test_mo_rejected_by_a_control_is_not_charged_nor_delivered_and_keeps_the_reason() -> None:
    control = Scripted(Action.REJECT, score=71)
    world = mo_world.World(guard=guard(control))

    mo = world.process(world.receive(text="ABC 1"))

    assert mo.state is MoState.REJECTED and mo.reason == "fraud_limit: scripted reject"
    assert (mo.risk_score, mo.controls) == (71, ("fraud_limit:r1:reject",))
    assert mo.charged_amount is None and list(world.ledger.journal()) == []
    assert world.events.delivery == []
    [facts] = control.seen
    assert (facts.direction, facts.partner_id, facts.service_id) == (Direction.MO, "p1", "s1")
    assert (facts.msisdn, facts.short_number, facts.operator_id) == (
        mo_world.MSISDN,
        mo_world.MO_NUMBER,
        "op1",
    )
    assert (facts.price, facts.currency, facts.text) == (mo_world.PRICE, "GBP", "ABC 1")


def test_mo_on_an_mt_billed_number_is_checked_with_no_price() -> None:
    control = Scripted()
    world = mo_world.World(guard=guard(control))
    mo = world.process(world.receive(destination=mo_world.MT_NUMBER))
    assert mo.state is MoState.ROUTED
    assert (control.seen[0].price, control.seen[0].currency) == (0, None)


def test_mo_alert_only_goes_on_and_is_charged() -> None:
    alerts = Alerts()
    world = mo_world.World(guard=guard(Scripted(Action.ALERT), alerts=alerts))
    mo = world.process(world.receive())
    assert mo.state is MoState.ROUTED and mo.charged_amount == mo_world.PRICE
    assert mo.controls == ("fraud_limit:r1:alert",)
    assert len(alerts.raised) == 1 and alerts.raised[0].facts.message_id == mo.message_id


def test_test_mos_are_never_checked() -> None:
    control = Scripted(Action.REJECT)
    world = mo_world.World(guard=guard(control))
    event = world.receive()
    stored = world.store.get(event.message_id)
    assert stored is not None
    world.store.messages[event.message_id] = stored.model_copy(update={"is_test": True})  # the test tool's
    assert world.process(event).state is MoState.ROUTED
    assert control.seen == []


def held_mo_world() -> tuple[mo_world.World, Scripted]:
    control = Scripted(Action.HOLD)
    return mo_world.World(guard=guard(control)), control


def test_held_mo_waits_uncharged_and_a_redelivery_asks_no_control_again() -> None:
    world, control = held_mo_world()
    event = world.receive()
    mo = world.process(event)

    assert mo.state is MoState.HELD and mo.reason == "fraud_limit: scripted hold"
    assert list(world.ledger.journal()) == [] and world.events.delivery == []
    held = world.entities.get(HeldMessage, mo.message_id)
    assert held is not None and held.status is HeldStatus.HELD and held.direction is Direction.MO
    assert (held.partner_id, held.msisdn, held.text, held.labels) == (
        "p1",
        mo_world.MSISDN,
        "ABC 1",
        mo.controls,
    )
    assert held_messages(world.entities, HeldStatus.HELD, limit=10, cursor=None) == ([held], None)

    again = world.process(event)
    assert again.state is MoState.HELD and len(control.seen) == 1


@dataclass
class HeldMo:
    """One MO held by a control, and the queue an admin's decision re-publishes it on."""

    world: mo_world.World = field(init=False)
    control: Scripted = field(init=False)
    event: MoReceived = field(init=False)
    queue: MemoryEventPublisher = field(default_factory=MemoryEventPublisher)

    def __post_init__(self) -> None:
        self.world, self.control = held_mo_world()
        self.event = self.world.receive()
        self.world.process(self.event)

    def publish(self, held: HeldMessage) -> None:
        republish(held, self.queue)

    def decide(
        self, decision: Literal["release", "reject"], note: str = "", store: Any = None
    ) -> HeldMessage:
        return decide_held(
            store or self.world.entities,
            ADMIN,
            self.event.message_id,
            decision,
            note=note,
            publish=self.publish,
        )


def test_released_mo_is_routed_and_charged_once_without_asking_the_controls() -> None:
    held = HeldMo()
    world = held.world

    decided = held.decide("release", "known promo")

    assert decided.status is HeldStatus.RELEASED and decided.decided_by == "adm1"
    [requeued] = held.queue.mo
    assert requeued == held.event
    mo = world.process(requeued)
    assert mo.state is MoState.ROUTED and mo.charged_amount == mo_world.PRICE
    assert len(held.control.seen) == 1 and len(list(world.ledger.journal())) == 1
    assert world.process(requeued).state is MoState.ROUTED and len(list(world.ledger.journal())) == 1


def test_mo_rejected_at_review_ends_rejected_with_the_note_and_is_never_charged() -> None:
    held = HeldMo()
    held.decide("reject", "pumping")

    mo = held.world.process(held.queue.mo[0])

    assert mo.state is MoState.REJECTED and mo.reason == "rejected at review: pumping"
    assert list(held.world.ledger.journal()) == [] and held.world.events.delivery == []


def test_a_decision_cannot_be_reversed_and_a_repeat_publishes_again() -> None:
    held = HeldMo()
    held.decide("release")
    held.decide("release")
    assert len(held.queue.mo) == 2  # a lost publish is repaired by repeating the decision
    with pytest.raises(Conflict):
        held.decide("reject")


class AnotherAdminFirst:
    """The store as one admin sees it: between its read and its write, another admin rejects."""

    def __init__(self, held: HeldMo) -> None:
        self._held = held
        self._raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._held.world.entities, name)

    def get(self, model: type[HeldMessage], entity_id: str) -> HeldMessage | None:
        found = self._held.world.entities.get(model, entity_id)
        if not self._raced:
            self._raced = True
            self._held.decide("reject", "first")
        return found  # the first read still "held", as this admin read it


def test_of_two_admins_deciding_at_once_the_first_decision_stands() -> None:
    held = HeldMo()

    with pytest.raises(Conflict, match="rejected already"):
        held.decide("release", "second", store=AnotherAdminFirst(held))

    stored = held.world.entities.get(HeldMessage, held.event.message_id)
    assert stored is not None and (stored.status, stored.decision_note) == (HeldStatus.REJECTED, "first")
    assert len(held.queue.mo) == 1  # only the standing decision carried the message on


# --- MT --------------------------------------------------------------------------------------------


def test_mt_rejected_by_a_control_is_created_refused_never_charged_or_sent() -> None:
    control = Scripted(Action.REJECT, name=ControlName.SPAM)
    world = mt_world.World(guard=guard(control))

    record = world.sender().process(mt_world.requested("WIN a prize", billed=True), now=mt_world.T0)

    assert record.mt.state is MtState.REJECTED and record.mt.reason == "submit refused: spam: scripted reject"
    assert record.controls == ("spam:r1:reject",)
    assert world.operator.received == [] and list(world.ledger.journal()) == []
    assert [command.message_id for command, _ in world.events.notify] == ["mt1"]  # the partner is told
    [facts] = control.seen
    assert (facts.direction, facts.text, facts.purpose, facts.msisdn) == (
        Direction.MT,
        "WIN a prize",
        "reply",
        mt_world.MSISDN,
    )
    assert facts.price > 0 and facts.currency == "GBP"  # a billed MT is checked with its price


def test_repeat_ok_reaches_the_controls() -> None:
    control = Scripted()
    world = mt_world.World(guard=guard(control))
    command = mt_world.requested().model_copy(update={"repeat_ok": True})
    world.sender().process(command, now=mt_world.T0)
    assert control.seen[0].repeat_ok is True


def test_smpp_submits_are_checked_with_their_decoded_text() -> None:
    control = Scripted(Action.REJECT)
    world = mt_world.World(guard=guard(control))
    record = world.sender().process(mt_world.send_mt(b"Hello there"), now=mt_world.T0)
    assert record.mt.state is MtState.REJECTED and world.events.outbound == []
    assert (control.seen[0].text, control.seen[0].partner_id, control.seen[0].purpose) == (
        "Hello there",
        "p1",
        None,
    )


def held_mt_world() -> tuple[mt_world.World, Scripted]:
    control = Scripted(Action.HOLD, name=ControlName.RISK, score=88)
    return mt_world.World(guard=guard(control)), control


def test_held_mt_is_not_sent_or_charged_until_released() -> None:
    world, control = held_mt_world()
    command = mt_world.requested(billed=True)
    record = world.sender().process(command, now=mt_world.T0)

    assert record.mt.state is MtState.QUEUED and record.held_reason == "risk: scripted hold"
    assert record.risk_score == 88
    assert world.operator.received == [] and list(world.ledger.journal()) == []
    assert world.sender().process(command, now=mt_world.T0).held_reason  # a redelivery: still held
    assert len(control.seen) == 1 and world.operator.received == []

    queue = MemoryEventPublisher()
    decide_held(world.entities, ADMIN, "mt1", "release", note="", publish=lambda h: republish(h, queue))
    [requeued] = queue.mt
    sent = world.sender().process(requeued, now=mt_world.T0)

    assert sent.mt.state is MtState.SENT and sent.held_reason == ""
    assert len(world.operator.received) == 1 and world.pending_charge_state("mt1") == "pending"
    assert len(control.seen) == 1


def test_mt_rejected_at_review_is_refused_and_the_partner_told() -> None:
    world, _ = held_mt_world()
    world.sender().process(mt_world.requested(), now=mt_world.T0)
    queue = MemoryEventPublisher()
    decide_held(
        world.entities, ADMIN, "mt1", "reject", note="spam run", publish=lambda h: republish(h, queue)
    )

    record = world.sender().process(queue.mt[0], now=mt_world.T0)

    assert (
        record.mt.state is MtState.REJECTED
        and record.mt.reason == "submit refused: rejected at review: spam run"
    )
    assert world.operator.received == [] and [c.message_id for c, _ in world.events.notify] == ["mt1"]


def test_held_smpp_submit_is_republished_as_it_came() -> None:
    world = mt_world.World(guard=guard(Scripted(Action.HOLD)))
    command = mt_world.send_mt(b"Hi")
    world.sender().process(command, now=mt_world.T0)
    queue = MemoryEventPublisher()
    decide_held(
        world.entities, ADMIN, command.message_id, "release", note="", publish=lambda h: republish(h, queue)
    )
    assert queue.mt_send == [command]
    assert world.sender().process(queue.mt_send[0], now=mt_world.T0).mt.state is MtState.SENT


def test_a_new_mt_is_not_checked_without_time_for_the_guard_and_is_retried_later() -> None:
    control = Scripted()
    world = mt_world.World(guard=guard(control))
    sender = dataclasses.replace(world.sender(), guard_time_s=3.0)  # an HLR lookup may take 3 s
    left = world.limits.mt_deadline_margin_s + 2.9
    with pytest.raises(OperatorUnavailable):
        sender.process(mt_world.requested(), now=mt_world.T0, time_left_s=lambda: left)
    assert control.seen == [] and world.store.get("mt1") is None  # nothing checked, nothing created

    record = sender.process(mt_world.requested(), now=mt_world.T0, time_left_s=lambda: 60.0)
    assert record.mt.state is MtState.SENT and len(control.seen) == 1
