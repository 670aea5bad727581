"""The duplicate control (logic/duplicates.py): fingerprints, windows, repeats, and in the pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from smsbilling.adapters.dynamodb_fingerprints import build_duplicate_control
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_fingerprints import MemoryFingerprintStore
from smsbilling.domain.inbound import MoState
from smsbilling.domain.mt import MtState
from smsbilling.domain.traffic import (
    Action,
    ControlName,
    Direction,
    MessageFacts,
    TrafficDefaults,
    TrafficOverrides,
)
from smsbilling.logic.duplicates import RULE_ID, Claim, DuplicateControl, fingerprint, normalise_text
from smsbilling.logic.mt_sending import MtSender
from smsbilling.logic.traffic_control import DiscardAlerts, TrafficGuard
from smsbilling.logic.traffic_defaults import LiveTrafficLimits
from smsbilling.settings import OperatorMtLimits, Settings, TrafficLimits
from tests.unit.api_send import world as api_world
from tests.unit.routing import world as mo_world

T0 = mo_world.T0
WINDOW = 300


def facts(
    message_id: str = "m1",
    *,
    text: str = "Your order has shipped",
    at: datetime = T0,
    direction: Direction = Direction.MT,
    **extra: Any,
) -> MessageFacts:
    values: dict[str, Any] = {
        "direction": direction,
        "message_id": message_id,
        "at": at,
        "msisdn": "447700900123",
        "text": text,
        "partner_id": "p1",
        "short_number": "4444",
        "purpose": "api" if direction is Direction.MT else None,
    } | extra
    return MessageFacts(**values)


@dataclass
class CountingStore:
    """The memory store, counting claims (to show when the control does not touch it)."""

    inner: MemoryFingerprintStore = field(default_factory=MemoryFingerprintStore)
    claims: int = 0

    def claim(self, key: str, message_id: str, *, now_s: int, expires_at_s: int) -> Claim:
        self.claims += 1
        return self.inner.claim(key, message_id, now_s=now_s, expires_at_s=expires_at_s)


def control(store: CountingStore | None = None, **options: Any) -> DuplicateControl:
    return DuplicateControl(store or CountingStore(), **({"window_s": WINDOW} | options))


# --- the fingerprint -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Hello  World", "hello world"),
        ("  Hello\tWorld\n", "hello world"),
        ("Hello\u00a0World", "hello world"),  # no-break space
        ("\uff28\uff45\uff4c\uff4c\uff4f \uff37\uff4f\uff52\uff4c\uff44", "hello world"),  # fullwidth (NFKC)
        ("\ufb01le", "file"),  # ligature (NFKC)
        ("Hel\u200blo Wor\u2060ld", "hello world"),  # zero-width space, word joiner
        ("STRASSE straße", "strasse strasse"),  # casefold, not lower
        ("ПРИВЕТ  Мир", "привет мир"),
        ("", ""),
    ],
)
def test_text_is_normalised_lightly(raw: str, normal: str) -> None:
    assert normalise_text(raw) == normal


def test_light_normalisation_keeps_look_alikes_and_inner_spacing_apart() -> None:
    assert normalise_text("l00k") != normalise_text("look")  # anti-spam's business, not this one's
    assert normalise_text("h e l l o") != normalise_text("hello")


def test_fingerprint_is_one_for_variants_of_one_message() -> None:
    base = fingerprint(facts())
    assert len(base) == 64 and int(base, 16) >= 0  # sha256 hex
    assert fingerprint(facts("m2", text="  YOUR order\nhas  shipped ")) == base
    assert fingerprint(facts("m3", at=T0 + timedelta(hours=1), operator_id="op9", price=5)) == base


@pytest.mark.parametrize(
    "change",
    [
        {"direction": Direction.MO},
        {"partner_id": "p2"},
        {"short_number": "5555"},
        {"msisdn": "447700900999"},
        {"text": "Your order has shipped!"},
    ],
)
def test_fingerprint_differs_by_direction_partner_parties_and_text(change: dict[str, Any]) -> None:
    assert fingerprint(facts(**change)) != fingerprint(facts())


# --- the control -----------------------------------------------------------------------------------


def test_second_message_within_the_window_is_a_duplicate_naming_the_original() -> None:
    dup = control()
    assert dup.check(facts("m1")).findings == ()
    [finding] = dup.check(facts("m2", at=T0 + timedelta(seconds=WINDOW - 1))).findings
    assert (finding.control, finding.rule_id, finding.action) == (
        ControlName.DUPLICATE,
        RULE_ID,
        Action.REJECT,
    )
    assert finding.reason == "repeats MT m1 (same sender, recipient and text within 300 s)"
    assert (
        dup.check(facts("m3", text="Your ORDER has shipped")).findings[0].reason.startswith("repeats MT m1")
    )


def test_after_the_window_the_same_text_is_a_new_original() -> None:
    dup = control()
    dup.check(facts("m1"))
    assert dup.check(facts("m2", at=T0 + timedelta(seconds=WINDOW))).findings == ()
    [finding] = dup.check(facts("m3", at=T0 + timedelta(seconds=WINDOW + 10))).findings
    assert "m2" in finding.reason  # m2 holds the new window


def test_a_message_checked_again_gets_the_same_answer() -> None:
    dup = control()
    assert dup.check(facts("m1")).findings == ()
    assert len(dup.check(facts("m2", at=T0 + timedelta(seconds=5))).findings) == 1
    assert dup.check(facts("m1")).findings == ()  # the original redelivered: never its own duplicate
    assert len(dup.check(facts("m2", at=T0 + timedelta(seconds=5))).findings) == 1  # still a duplicate


def test_a_late_message_a_window_older_than_the_claim_is_not_its_duplicate() -> None:
    dup = control()
    dup.check(facts("new", at=T0 + timedelta(seconds=1000)))
    assert dup.check(facts("old", at=T0)).findings == ()  # 1000 s apart: both are originals
    assert len(dup.check(facts("older-but-close", at=T0 + timedelta(seconds=800))).findings) == 1


def test_the_action_is_configurable() -> None:
    for action in Action:
        dup = control(action=action)
        dup.check(facts("m1"))
        assert dup.check(facts("m2")).findings[0].action is action


def test_repeat_ok_is_never_a_duplicate_but_an_unmarked_copy_of_it_is() -> None:
    dup = control()
    assert dup.check(facts("m1")).findings == ()
    assert dup.check(facts("m2", repeat_ok=True)).findings == ()
    assert dup.check(facts("m3", repeat_ok=True)).findings == ()

    fresh = control()
    assert fresh.check(facts("r1", repeat_ok=True)).findings == ()  # the first one, marked
    assert "r1" in fresh.check(facts("m4")).findings[0].reason  # unmarked: a duplicate of it


def test_window_zero_switches_it_off() -> None:
    store = CountingStore()
    dup = control(store, window_s=0)
    assert dup.check(facts("m1")).findings == () and dup.check(facts("m2")).findings == ()
    assert store.claims == 0
    with pytest.raises(ValueError):
        control(window_s=-1)


def test_mos_are_always_checked_mts_only_for_the_configured_purposes() -> None:
    store = CountingStore()
    dup = control(store, mt_purposes=("api",))
    for purpose in ("reply", "otp", "subscription"):
        assert dup.check(facts(f"a-{purpose}", purpose=purpose)).findings == ()
        assert dup.check(facts(f"b-{purpose}", purpose=purpose)).findings == ()
    assert store.claims == 0
    dup.check(facts("api-1"))
    assert len(dup.check(facts("api-2")).findings) == 1
    dup.check(facts("smpp-1", purpose=None))  # a partner's SMPP submit has no purpose: checked
    assert len(dup.check(facts("smpp-2", purpose=None)).findings) == 1
    dup.check(facts("mo-1", direction=Direction.MO))
    [finding] = dup.check(facts("mo-2", direction=Direction.MO)).findings
    assert finding.reason.startswith("repeats MO mo-1")


def test_one_partner_never_blocks_another() -> None:
    dup = control()
    dup.check(facts("p1-msg", partner_id="p1"))
    assert dup.check(facts("p2-msg", partner_id="p2")).findings == ()


def test_the_guard_shows_the_reason_with_the_control_name() -> None:
    guard = TrafficGuard(controls=(control(),), alerts=DiscardAlerts())
    guard.check(facts("m1"))
    verdict = guard.check(facts("m2"))
    assert verdict.action is Action.REJECT
    assert verdict.reason.startswith("duplicate: repeats MT m1")
    assert verdict.labels == ("duplicate:same_content:reject",)


def test_deployed_control_follows_the_settings_and_the_admins_overrides() -> None:
    entities = MemoryEntityStore()
    settings = Settings(
        traffic=TrafficLimits(duplicate_window_s=60, duplicate_action="hold", rules_cache_s=0)
    )
    built = build_duplicate_control(settings, None, LiveTrafficLimits(entities, settings.traffic))  # type: ignore[arg-type]
    assert built.name is ControlName.DUPLICATE
    assert built.applies(facts(purpose="api")) and not built.applies(facts(purpose="reply"))
    entities.put(TrafficDefaults(overrides=TrafficOverrides(duplicate_mt_purposes=("api", "reply"))))
    assert built.applies(facts(purpose="reply"))  # the admin's purposes, read live
    entities.put(TrafficDefaults(overrides=TrafficOverrides(duplicate_window_s=0)))
    assert not built.applies(facts(purpose="api"))  # switched off by the admin
    off_settings = Settings(traffic=TrafficLimits(duplicate_window_s=0))
    off_live = LiveTrafficLimits(MemoryEntityStore(), off_settings.traffic)
    off = build_duplicate_control(off_settings, None, off_live)  # type: ignore[arg-type]
    assert not off.applies(facts())
    with pytest.raises(ValidationError):
        TrafficLimits.model_validate({"duplicate_action": "drop"})
    defaults = TrafficLimits()
    assert (defaults.duplicate_window_s, defaults.duplicate_action) == (300, "reject")


# --- MOs through the MO processor ------------------------------------------------------------------


def mo_world_with_duplicates() -> mo_world.World:
    guard = TrafficGuard(controls=(control(),), alerts=DiscardAlerts())
    return mo_world.World(guard=guard)


def test_same_mo_under_another_operator_id_is_rejected_and_charged_once() -> None:
    world = mo_world_with_duplicates()
    first = world.process(world.receive("op-1", text="ABC 1"))
    second = world.process(world.receive("op-2", at=T0 + timedelta(seconds=30), text="abc  1"))

    assert first.state is MoState.ROUTED and first.charged_amount == mo_world.PRICE
    assert second.state is MoState.REJECTED and second.charged_amount is None
    assert second.reason.startswith(f"duplicate: repeats MO {first.message_id}")
    assert second.controls == ("duplicate:same_content:reject",)
    assert len(list(world.ledger.journal())) == 1
    assert [c.message_id for c, _ in world.events.delivery] == [first.message_id]


def test_a_repeated_operator_id_on_the_link_is_one_message_processed_and_charged_once() -> None:
    world = mo_world_with_duplicates()
    event = world.receive("op-1")
    again = world.receive("op-1", at=T0 + timedelta(seconds=30))  # the operator sends it again
    assert again.message_id == event.message_id and len(world.store.messages) == 1

    first = world.process(event)
    second = world.process(again)
    # A crash before the decision: the same MO is checked by the guard a second time.
    world.store.messages[event.message_id] = first.model_copy(update={"state": MoState.RECEIVED})
    third = world.process(event)

    assert first.state is second.state is third.state is MoState.ROUTED
    assert first.controls == third.controls == ()  # the original is never its own duplicate
    assert len(list(world.ledger.journal())) == 1  # the charge id comes from the MO id
    assert [c.message_id for c, _ in world.events.delivery] == [event.message_id] * 2  # at least once


def test_a_different_mo_text_from_the_same_subscriber_goes_on() -> None:
    world = mo_world_with_duplicates()
    world.process(world.receive("op-1", text="ABC 1"))
    second = world.process(world.receive("op-2", text="ABC 2"))
    assert second.state is MoState.ROUTED and len(list(world.ledger.journal())) == 2


# --- MTs from the partner API through the MT processor ----------------------------------------------


@dataclass
class GuardedApiWorld(api_world.World):
    """The partner API world with the duplicate control in its MT processor."""

    guard: TrafficGuard = field(
        default_factory=lambda: TrafficGuard(controls=(control(),), alerts=DiscardAlerts())
    )

    def sender(self) -> MtSender:
        return MtSender(
            store=self.mts,
            entities=self.entities,
            events=self.events,
            charger=self.charger,
            operators=self.operator,
            limits=self.messages,
            http=OperatorMtLimits(),
            guard=self.guard,
        )


@pytest.fixture
def api() -> Iterator[GuardedApiWorld]:
    w = GuardedApiWorld()
    w.install()
    yield w
    api_world.World.uninstall()


def send(world: GuardedApiWorld, text: str, **extra: Any) -> str:
    body = {"service_id": "s1", "destination": "+" + api_world.UK, "text": text} | extra
    status, _, answer = api_world.call("POST", "/v1/sms", body)
    assert status == 202, answer
    return str(answer["message_id"])


def test_api_send_repeated_in_the_window_is_rejected_unsent_and_refunded(api: GuardedApiWorld) -> None:
    first = send(api, "Your order has shipped")
    api.clock.advance(60)
    second = send(api, "your order  has shipped")
    assert api.spendable() == api_world.CREDITS_TOPPED_UP - 2  # both reserved at the API
    api.run_mts()

    one, two = api.mts.get(first), api.mts.get(second)
    assert one is not None and two is not None
    assert one.mt.state is MtState.ACCEPTED and two.mt.state is MtState.REJECTED
    assert f"duplicate: repeats MT {first}" in two.mt.reason
    assert len(api.operator.received) == 1
    assert api.spendable() == api_world.CREDITS_TOPPED_UP - 1  # the duplicate's credit is back


def test_api_send_with_allow_repeat_goes_out_twice(api: GuardedApiWorld) -> None:
    first = send(api, "Reminder: your appointment is at 10:00")
    second = send(api, "Reminder: your appointment is at 10:00", allow_repeat=True)
    [command] = [c for c in api.events.mt if c.message_id == second]
    assert command.repeat_ok is True
    api.run_mts()
    states = [r.mt.state for r in (api.mts.get(first), api.mts.get(second)) if r is not None]
    assert states == [MtState.ACCEPTED, MtState.ACCEPTED] and len(api.operator.received) == 2


def test_batch_items_carry_allow_repeat(api: GuardedApiWorld) -> None:
    items = [
        {"destination": "+" + api_world.UK, "text": "Hi"},
        {"destination": "+" + api_world.UK, "text": "Hi", "allow_repeat": True},
        {"destination": "+" + api_world.UK, "text": "Hi"},
    ]
    status, _, answer = api_world.call("POST", "/v1/sms/batch", {"service_id": "s1", "messages": items})
    assert status == 202, answer
    assert [c.repeat_ok for c in api.events.mt] == [False, True, False]
    api.run_mts()
    ids = [m["message_id"] for m in answer["messages"]]
    states = [r.mt.state for r in map(api.mts.get, ids) if r is not None]
    assert states == [MtState.ACCEPTED, MtState.ACCEPTED, MtState.REJECTED]


def test_allow_repeat_must_be_a_boolean(api: GuardedApiWorld) -> None:
    body = {"service_id": "s1", "destination": "+" + api_world.UK, "text": "Hi", "allow_repeat": "maybe"}
    status, _, answer = api_world.call("POST", "/v1/sms", body)
    assert status == 422, answer
    assert api.events.mt == []
