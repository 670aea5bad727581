"""Destination countries and premium ranges: the calling-code rule, the refusal, and CountryControl."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.traffic_guard import build_guard
from smsbilling.domain.countries import (
    PremiumRange,
    country_code_of,
    destination_refusal,
    is_country_code,
)
from smsbilling.domain.entities import Operator
from smsbilling.domain.msisdn import MsisdnError
from smsbilling.domain.traffic import Action, ControlName, Direction, MessageFacts, PartnerTrafficSettings
from smsbilling.logic.countries import CountryControl, DestinationRulesCache
from smsbilling.logic.traffic_control import DiscardAlerts, TrafficGuard
from smsbilling.settings import Settings

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("msisdn", "code"),
    [
        ("447700900123", "44"),
        ("12025550123", "1"),  # NANP
        ("79161234567", "7"),
        ("77011234567", "7"),  # Kazakhstan shares 7
        ("4915112345678", "49"),
        ("351912345678", "351"),
        ("380501234567", "380"),
        ("420601123456", "420"),  # 42 is no code: 420 is
        ("8613800138000", "86"),
        ("85291234567", "852"),
        ("97150123456", "971"),
        ("2348031234567", "234"),
        ("201001234567", "20"),
        ("27821234567", "27"),
        ("88216123456", "882"),  # international networks
    ],
)
def test_country_code_of(msisdn: str, code: str) -> None:
    assert country_code_of(msisdn) == code


@pytest.mark.parametrize("bad", ["", "0447700900123", "+447700900123", "44a", "٤٤٧٧٠٠"])
def test_country_code_of_refuses_what_is_not_e164(bad: str) -> None:
    with pytest.raises(MsisdnError):
        country_code_of(bad)


def test_is_country_code() -> None:
    assert all(is_country_code(c) for c in ("1", "7", "44", "49", "351", "380", "882"))
    assert not any(is_country_code(c) for c in ("", "0", "4", "441", "12", "3510", "4a", "76"))


def rng(prefix: str, note: str = "") -> PremiumRange:
    return PremiumRange(prefix=prefix, note=note, created_at=T0)


RANGES = (rng("44909", "UK premium rate"), rng("4490912"), rng("3519"))


def test_the_country_comes_first_then_every_premium_range_must_be_allowed() -> None:
    def refusal(msisdn: str, countries: set[str], allowed: tuple[str, ...] = ()) -> tuple[str, str] | None:
        found = destination_refusal(
            msisdn, countries=countries, premium_ranges=RANGES, premium_allowed=allowed
        )
        return None if found is None else (found.kind.value, found.rule_id)

    assert refusal("447700900123", {"44"}) is None
    assert refusal("4915112345678", {"44"}) == ("country", "49")
    assert refusal("351912345678", {"44"}) == ("country", "351")  # not premium: the country first
    assert refusal("351912345678", {"44", "351"}) == ("premium", "3519")
    assert refusal("449091000000", {"44"}) == ("premium", "44909")
    # nested ranges: the most specific is named; an allowance must cover every range the number is in
    assert refusal("449091200000", {"44"}) == ("premium", "4490912")
    assert refusal("449091200000", {"44"}, ("4490912",)) == ("premium", "44909")
    assert refusal("449091200000", {"44"}, ("44909",)) is None  # the broader allowance covers both
    assert refusal("449091000000", {"44"}, ("4490912",)) == ("premium", "44909")
    assert refusal("12025550123", set()) == ("country", "1")
    found = destination_refusal("449091000000", countries={"44"}, premium_ranges=RANGES)
    assert found is not None and "+44909 (UK premium rate)" in found.reason


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def facts(msisdn: str, *, partner_id: str | None = "p1", direction: Direction = Direction.MT) -> MessageFacts:
    return MessageFacts(
        direction=direction, message_id="m1", at=T0, msisdn=msisdn, partner_id=partner_id, purpose="api"
    )


@pytest.fixture
def entities() -> MemoryEntityStore:
    store = MemoryEntityStore()
    store.put(Operator(operator_id="uk", name="UK", country_code="44", currency="GBP"))
    store.put(Operator(operator_id="pt", name="PT", country_code="351", currency="EUR"))
    store.put(rng("44909", "premium rate"))
    return store


def test_country_control_rejects_mts_with_the_reason_and_leaves_mos_alone(
    entities: MemoryEntityStore,
) -> None:
    control = CountryControl(DestinationRulesCache(entities, ttl_s=30, clock=Clock()))
    assert control.name is ControlName.COUNTRY
    assert control.check(facts("447700900123")).findings == ()
    assert control.check(facts("351912345678")).findings == ()  # an operator's country: allowed by default
    (country,) = control.check(facts("4915112345678")).findings
    assert (country.control, country.rule_id, country.action) == (
        ControlName.COUNTRY,
        "country.49",
        Action.REJECT,
    )
    assert "+49" in country.reason
    (premium,) = control.check(facts("449091234567")).findings
    assert premium.rule_id == "premium.44909" and "premium-rate range +44909" in premium.reason
    assert control.check(facts("449091234567", partner_id=None)).findings  # no partner: deny by default
    assert control.check(facts("4915112345678", direction=Direction.MO)).findings == ()

    guard = TrafficGuard(controls=[control], alerts=DiscardAlerts())
    verdict = guard.check(facts("449091234567"))
    assert verdict.action is Action.REJECT and verdict.reason.startswith("country: destination is in premium")
    assert verdict.labels == ("country:premium.44909:reject",)


def test_the_control_reads_the_rules_again_once_its_cache_expires(entities: MemoryEntityStore) -> None:
    clock = Clock()
    control = CountryControl(DestinationRulesCache(entities, ttl_s=30, clock=clock))
    assert control.check(facts("4915112345678")).findings
    assert control.check(facts("449091234567")).findings
    entities.put(
        PartnerTrafficSettings(
            partner_id="p1", allowed_countries=("44", "49"), premium_ranges_allowed=("44909",)
        )
    )
    entities.put(rng("3519"))
    clock.now = 29.0
    assert control.check(facts("4915112345678")).findings  # cached: as it was
    assert control.check(facts("351912345678")).findings == ()
    clock.now = 30.0
    assert control.check(facts("4915112345678")).findings == ()
    assert control.check(facts("449091234567")).findings == ()  # this partner may send to that range
    (other,) = control.check(facts("449091234567", partner_id="p2")).findings  # not another partner
    assert other.rule_id == "premium.44909"
    (pt,) = control.check(facts("351912345678")).findings  # p1's countries are 44 and 49 now
    assert pt.rule_id == "country.351"
    (ranged,) = control.check(facts("351912345678", partner_id="p2")).findings
    assert ranged.rule_id == "premium.3519"


class NoMetrics:
    def add_metric(self, name: str, unit: object, value: float, resolution: int = 60) -> None:
        return None


def test_the_deployed_guard_checks_countries_right_after_duplicates() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    guard = build_guard(Settings(stage="local"), client, DynamoEntityStore(client, "entities"), NoMetrics())
    names = [control.name for control in guard.controls]
    assert names[:2] == [ControlName.DUPLICATE, ControlName.COUNTRY]
    assert isinstance(guard.controls[1], CountryControl)
