"""The risk score over its stores: the policy entity round trip, and the deployed control's counting
(adapters/risk_control.py over DynamoTrafficCounters) scoring exactly as the in-memory fakes do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_traffic_counters import MemoryTrafficCounters
from smsbilling.adapters.risk_control import build_otp_verifications, build_risk_control
from smsbilling.domain.entities import Partner, PartnerStatus
from smsbilling.domain.risk import RiskPolicy, RiskThreshold, RiskWeights
from smsbilling.domain.traffic import Action, Direction, MessageFacts
from smsbilling.logic.risk import OtpVerifications, RiskControl
from smsbilling.settings import Settings, TableNames
from tests.contract.stores import dynamodb_client, fresh_table

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
KINDS = [pytest.param("memory"), pytest.param("dynamodb_local", marks=pytest.mark.dynamodb_local)]


class Rig:
    def __init__(self, request: pytest.FixtureRequest, kind: str) -> None:
        settings = Settings()
        if kind == "memory":
            self.entities: MemoryEntityStore | DynamoEntityStore = MemoryEntityStore()
            counters = MemoryTrafficCounters()
            self.control = RiskControl(counters, self.entities, settings.traffic.risk, cache_s=0)
            self.verified = OtpVerifications(counters, settings.traffic.risk)
            return
        client = dynamodb_client(request, kind)
        tables = TableNames(
            entities=fresh_table(client, "entities"), counters=fresh_table(client, "counters")
        )
        settings = Settings(tables=tables, traffic=settings.traffic.model_copy(update={"rules_cache_s": 0.0}))
        self.entities = DynamoEntityStore(client, tables.entities)
        self.control = build_risk_control(settings, client, self.entities)
        self.verified = build_otp_verifications(settings, client)


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest) -> Rig:
    return Rig(request, request.param)


def test_the_policy_round_trips(rig: Rig) -> None:
    assert rig.entities.get(RiskPolicy, "default") is None
    policy = RiskPolicy(
        enabled=False,
        weights=RiskWeights(range_velocity=250, operator_mix=0),
        thresholds=(
            RiskThreshold(score_min=1, action=Action.HOLD),
            RiskThreshold(score_min=100, action=Action.REJECT),
        ),
        updated_at=T0,
    )
    rig.entities.put(policy)
    assert rig.entities.get(RiskPolicy, "default") == policy
    rig.entities.put(RiskPolicy(thresholds=()))
    assert rig.entities.get(RiskPolicy, "default") == RiskPolicy(thresholds=())


def test_a_pumping_run_scores_alike_on_every_store(rig: Rig) -> None:
    rig.entities.put(
        Partner(
            partner_id="p1", name="P1", email="p1@example.com", status=PartnerStatus.ACTIVE, created_at=T0
        )
    )

    def facts(n: int, **extra: object) -> MessageFacts:
        return MessageFacts.model_validate(
            {
                "direction": Direction.MT,
                "message_id": f"m{n}",
                "at": T0 + timedelta(minutes=5, seconds=n),
                "msisdn": f"4477009001{n:02d}",
                "operator_id": "op1",
                "partner_id": "p1",
                "purpose": "otp",
            }
            | extra
        )

    results = [rig.control.check(facts(n)) for n in range(20)]
    # new partner 25 (5 minutes old), the range's minute from the 6th: (n - 5) / 15 of 60; 20 OTP
    # codes sent and none verified: the 20th adds the full 45
    expected = [25] * 5 + [25 + round(60 * (n - 5) / 15) for n in range(6, 20)] + [100]
    assert [r.risk_score for r in results] == expected
    assert [f.label() for f in results[-1].findings] == ["risk:score95:reject"]
    assert rig.control.check(facts(19)).risk_score == 100  # checked again: counted once
    # Codes verified: the 21st code's conversion is 10 of 21 (48 %): (50 - 47.6) / 40 of 45 = 3
    for n in range(10):
        rig.verified.count_verified("p1", f"otp{n}", T0 + timedelta(minutes=6))
    rig.verified.count_verified("p1", "otp0", T0 + timedelta(minutes=6))  # once per code
    in_range, other_range = facts(20, msisdn="447700900199"), facts(21, msisdn="447700900220")
    assert rig.control.check(in_range).risk_score == 25 + 60 + 3
    # another range: no velocity; 10 of 22 verified (45 %): (50 - 45.5) / 40 of 45 = 5
    assert rig.control.check(other_range).risk_score == 25 + 5
