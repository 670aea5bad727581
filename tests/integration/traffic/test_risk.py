"""The risk score on the deployed stack (docs/traffic/risk-score.md): a strict policy set through the
admin API, a pumping run that scores high, and the MOs held or rejected with the score's reason.

A partner created a moment ago gets premium MOs from sequential numbers of one range within a
minute. With the module's policy (range velocity 100, new partner 30; hold from 40, reject from
60), the first few score 30 (new partner only) and go on, charged; as the range's minute count
passes its normal (5) the score climbs, and each MO ends as its own score says: held from 40,
rejected from 60, with ``risk: risk NN: ... from range 4477009003xx this minute; new partner``.
The OTP path is checked on the same stack: the OTP MT carries a score and a verified code is
counted where the conversion signal reads it. The policy in force before is put back at the end,
and the processors are given time to read it again, so later tests see the platform defaults.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState
from smsbilling.domain.traffic import HeldMessage, Window, window_start
from smsbilling.logic.risk import otp_verified_hit
from smsbilling.settings import RiskLimits
from tests.conftest import Stack
from tests.integration.billing_world import TIMEOUT_S, UNREACHABLE_HANDLER, PartnerWorld, partner_world
from tests.integration.test_operator_forms import wait_for
from tests.integration.test_otp_api import otp_sms_text
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

PRICE = 150
NUMBER, OTP_NUMBER = "7191", "7192"
RANGE = "4477009003"
HOLD_FROM, REJECT_FROM = 40, 60
STRICT = {
    "enabled": True,
    "weights": {
        "subscriber_velocity": 0,
        "range_velocity": 100,
        "new_partner": 30,
        "operator_mix": 0,
        "otp_conversion": 0,
    },
    "thresholds": [
        {"score_min": HOLD_FROM, "action": "hold"},
        {"score_min": REJECT_FROM, "action": "reject"},
    ],
}


class RiskWorld(PartnerWorld):
    @property
    def otp_service_id(self) -> str:
        return self.services[1].service_id

    def send_mo_from(self, msisdn: str) -> str:
        """A premium MO from ``msisdn``, sent again if the POST times out (a loaded machine is slow)."""
        return self.send_mo(f"{self.service.prefix} {msisdn[-2:]}", msisdn, attempts=3)

    def charged(self, message_id: str) -> bool:
        return self.mo_charge(message_id) is not None


def _room_in(window_s: int, needed_s: int) -> None:
    """Wait, if need be, so the next ``needed_s`` seconds fall in one UTC window of ``window_s``."""
    into = time.time() % window_s
    if into > window_s - needed_s:
        time.sleep(window_s - into + 1)


def _caches_read_again() -> None:
    time.sleep(STACK_RULES_CACHE_S + 3)  # every warm processor reads the policy again


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[RiskWorld]:
    """A brand-new partner with a premium service (MO-billed) and an OTP service on an operator's
    HTTP link, an admin key, and the strict policy in force (the one before restored afterwards).
    Its client is patient: a loaded machine answers slowly, never wrongly."""
    with partner_world(
        stack,
        RiskWorld,
        tag="rk",
        numbers=[NUMBER],
        price=PRICE,
        range_head=None,
        demo_operator=False,
        mt_url=f"{UNREACHABLE_HANDLER}/mt",
        http_timeout_s=90,
    ) as world:
        world.add_service(smpp=True)  # delivered through the partner's outbox: no handler to run
        world.add_number(OTP_NUMBER)
        world.add_service(OTP_NUMBER, name="Acme", prefix=f"O{world.suffix[:6].upper()}", otp_enabled=True)
        before = world.admin("GET", "/admin/risk-policy")
        assert before.status_code == 200, before.text
        put = world.admin("PUT", "/admin/risk-policy", STRICT)
        assert put.status_code == 200, put.text
        _caches_read_again()
        try:
            yield world
        finally:
            restore = {key: before.json()[key] for key in ("enabled", "weights", "thresholds")}
            assert world.admin("PUT", "/admin/risk-policy", restore).status_code == 200
            _caches_read_again()


def test_the_policy_reads_back_as_set(world: RiskWorld) -> None:
    answer = world.admin("GET", "/admin/risk-policy")
    assert answer.status_code == 200
    assert {key: answer.json()[key] for key in STRICT} == STRICT and answer.json()["updated_at"]


def test_a_pumping_run_for_a_new_partner_is_held_then_rejected_by_its_score(world: RiskWorld) -> None:
    _room_in(60, needed_s=55)  # the whole run in one minute window (a loaded machine is slow)
    # The first three, one after another: new partner only (30), routed and charged.
    first = [world.decided_or_held(world.send_mo_from(f"{RANGE}{n:02d}")) for n in range(3)]
    for mo in first:
        assert (mo.state, mo.risk_score, mo.reason, mo.controls) == (MoState.ROUTED, 30, "", ()), mo
        assert mo.charged_amount == PRICE and world.charged(mo.message_id)
    # Then the pump: the rest of the range at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        pumped = [
            world.decided_or_held(m)
            for m in pool.map(lambda n: world.send_mo_from(f"{RANGE}{n:02d}"), range(3, 20))
        ]
    run = first + pumped
    minutes = {window_start(Window.MINUTE, int(mo.received_at.timestamp())) for mo in run}
    assert len(minutes) == 1, "the run crossed a minute boundary: the machine was too slow for this test"

    limits = RiskLimits()
    for mo in pumped:
        assert mo.risk_score is not None, mo
        # Each MO saw at least its own place in the range's minute count: 30 + (count - 5) / 15 of 100.
        assert 30 <= mo.risk_score <= 100
        if mo.risk_score >= REJECT_FROM:
            assert (mo.state, mo.controls) == (MoState.REJECTED, (f"risk:score{REJECT_FROM}:reject",)), mo
        elif mo.risk_score >= HOLD_FROM:
            assert (mo.state, mo.controls) == (MoState.HELD, (f"risk:score{HOLD_FROM}:hold",)), mo
        else:
            assert (mo.state, mo.reason, mo.controls) == (MoState.ROUTED, "", ()), mo
            continue
        assert mo.reason.startswith(f"risk: risk {mo.risk_score}: "), mo.reason
        assert f"from range {RANGE}{'x' * limits.range_suffix_digits} this minute" in mo.reason
        assert "new partner (created today)" in mo.reason  # first or second: the stronger first
        assert mo.charged_amount is None and not world.charged(mo.message_id)
    # Every count from 10 up scores 30 + 33 or more: at least the last eleven places are rejected.
    rejected = [mo for mo in pumped if mo.state is MoState.REJECTED]
    held = [mo for mo in pumped if mo.state is MoState.HELD]
    assert len(rejected) >= 11, [(mo.risk_score, mo.state) for mo in pumped]

    for mo in held:  # waiting for a reviewer, with the score; the admin refuses them
        review = world.entities.get(HeldMessage, mo.message_id)
        assert review is not None and (review.risk_score, review.reason) == (mo.risk_score, mo.reason)
        shown = world.admin("GET", f"/admin/held/{mo.message_id}")
        assert shown.status_code == 200 and shown.json()["risk_score"] == mo.risk_score
        refused = world.admin("POST", f"/admin/held/{mo.message_id}/reject", {"note": "pumping"})
        assert refused.status_code == 200, refused.text
    for mo in held:
        assert world.decided_or_held(mo.message_id).state is MoState.REJECTED
        assert not world.charged(mo.message_id)


def test_an_otp_mt_is_scored_and_a_verified_code_is_counted(world: RiskWorld) -> None:
    headers = {"Authorization": f"Bearer {world.key}"}
    msisdn = f"4477008{uuid.uuid4().int % 100_000:05d}"
    sent = world.http.post(
        "v1/otp", json={"service_id": world.otp_service_id, "msisdn": msisdn}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    otp_id = sent.json()["otp_id"]
    mt_id = derived_id("otp", otp_id)
    code = otp_sms_text(world.stack, mt_id, timeout_s=TIMEOUT_S).split("code is ")[1].split(".")[0]

    record = wait_for(lambda: world.mts.get(mt_id), TIMEOUT_S)
    assert record.risk_score == 30, record  # new partner only: one code, one number of its range

    counters = world.counters
    hit = otp_verified_hit(world.partner_id, RiskLimits())
    at_s = int(time.time())
    assert counters.totals([hit], at_s=at_s) == [0]
    verified = world.http.post(f"v1/otp/{otp_id}/verify", json={"code": code}, headers=headers)
    assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text
    assert counters.totals([hit], at_s=at_s) == [1]
    again = world.http.post(f"v1/otp/{otp_id}/verify", json={"code": code}, headers=headers)
    assert again.json()["valid"] is False and counters.totals([hit], at_s=at_s) == [1]
