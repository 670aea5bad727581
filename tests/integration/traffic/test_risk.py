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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_traffic_counters import DynamoTrafficCounters
from smsbilling.domain.entities import (
    ApiKey,
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
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import TransferKind, transfer_id
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.traffic import HeldMessage, Window, window_start
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.risk import otp_verified_hit
from smsbilling.settings import RiskLimits
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for
from tests.integration.test_otp_api import otp_sms_text
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

PRICE = 150
NUMBER, OTP_NUMBER = "7191", "7192"
RANGE = "4477009003"
LINK_TOKEN = "risk-link-token-0123456789"
TIMEOUT_S = 90.0
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


@dataclass
class RiskWorld:
    stack: Stack
    suffix: str
    admin_key: str
    partner_key: str
    link_id: str
    partner_id: str
    prefix: str
    otp_service_id: str
    http: httpx.Client  # a patient client: a loaded machine answers slowly, never wrongly

    @property
    def _dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self._dynamodb, self.stack.outputs["EntitiesTableName"])

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.http.request(method, path.lstrip("/"), json=body, headers=headers)

    def send_mo(self, msisdn: str) -> str:
        """One MO over the operator's HTTP link; a timed-out POST is sent again with the same operator
        message id (intake maps it to the same MO: at most one message either way)."""
        body = {
            "operator_message_id": uuid.uuid4().hex,
            "source": f"+{msisdn}",
            "destination": NUMBER,
            "text": f"{self.prefix} {msisdn[-2:]}",
        }
        headers = {"Authorization": f"Bearer {LINK_TOKEN}"}
        for attempt in range(3):
            try:
                answer = self.http.post(f"operator/links/{self.link_id}/mo", json=body, headers=headers)
                break
            except httpx.TimeoutException:
                if attempt == 2:
                    raise
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def settled(self, message_id: str) -> StoredMo:
        store = DynamoInboundStore(self._dynamodb, self.stack.outputs["MessagesTableName"])

        def done() -> StoredMo | None:
            mo = store.get(message_id)
            return mo if mo is not None and (mo.state.is_final or mo.state is MoState.HELD) else None

        try:
            mo: StoredMo = wait_for(done, TIMEOUT_S)
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def charged(self, message_id: str) -> bool:
        ledger = DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self._dynamodb)
        return ledger.get_transfer(transfer_id(message_id, str(TransferKind.MO_CHARGE))) is not None


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
    HTTP link, an admin key, and the strict policy in force (the one before restored afterwards)."""
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id, partner_id = f"op-rk-{suffix}", f"l-rk-{suffix}", f"p-rk-{suffix}"
    prefix, plan_id = f"R{suffix[:6].upper()}", f"plan-rk-{suffix}"
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    now = datetime.now(UTC)
    admin, admin_key = new_admin_key(f"it-rk-{suffix}", "Risk-score tests", now)
    entities.create(admin)
    partner_key = f"sk_rk_{uuid.uuid4().hex}"
    number = ShortNumber(
        operator_id=operator_id, number=NUMBER, billing_model=BillingModel.MO, tariff_plan_id=plan_id
    )
    otp_number = ShortNumber(operator_id=operator_id, number=OTP_NUMBER, tariff_plan_id=plan_id)
    service = PartnerService(
        service_id=f"svc-rk-{suffix}",
        partner_id=partner_id,
        name="Premium quiz",
        prefix=prefix,
        short_numbers=(number.entity_id,),
        handler_kind=HandlerKind.SMPP,  # delivered through the partner's outbox: no handler to run
        smpp_system_id=f"rk{suffix[:6]}",
        status=ServiceStatus.ACTIVE,
    )
    otp_service = PartnerService(
        service_id=f"otp-rk-{suffix}",
        partner_id=partner_id,
        name="Acme",
        prefix=f"O{suffix[:6].upper()}",
        short_numbers=(otp_number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_ASYNC,
        handler_url="http://127.0.0.1:9/mo",
        status=ServiceStatus.ACTIVE,
        otp_enabled=True,
    )
    for entity in (
        Operator(operator_id=operator_id, name="Risk Mobile", country_code="44", currency="GBP"),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
            mt_url="http://127.0.0.1:9/mt",
        ),
        number,
        otp_number,
        Partner(
            partner_id=partner_id,
            name="Brand-new partner",
            email="new@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        ),
        ApiKey(
            key_hash=hash_token(partner_key), key_id=f"k-rk-{suffix}", partner_id=partner_id, created_at=now
        ),
        service,
        otp_service,
    ):
        entities.put(entity)
    claim_prefix(entities, service, number.entity_id)
    price_numbers(
        stack, plan_id=plan_id, partner_id=partner_id, operator_id=operator_id, numbers=[NUMBER], price=PRICE
    )
    http = httpx.Client(base_url=stack.cloud.api_base, timeout=90)
    world = RiskWorld(
        stack, suffix, admin_key, partner_key, link_id, partner_id, prefix, otp_service.service_id, http
    )

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
        http.close()
        _caches_read_again()


def test_the_policy_reads_back_as_set(world: RiskWorld) -> None:
    answer = world.admin("GET", "/admin/risk-policy")
    assert answer.status_code == 200
    assert {key: answer.json()[key] for key in STRICT} == STRICT and answer.json()["updated_at"]


def test_a_pumping_run_for_a_new_partner_is_held_then_rejected_by_its_score(world: RiskWorld) -> None:
    _room_in(60, needed_s=55)  # the whole run in one minute window (a loaded machine is slow)
    # The first three, one after another: new partner only (30), routed and charged.
    first = [world.settled(world.send_mo(f"{RANGE}{n:02d}")) for n in range(3)]
    for mo in first:
        assert (mo.state, mo.risk_score, mo.reason, mo.controls) == (MoState.ROUTED, 30, "", ()), mo
        assert mo.charged_amount == PRICE and world.charged(mo.message_id)
    # Then the pump: the rest of the range at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        pumped = [
            world.settled(m) for m in pool.map(lambda n: world.send_mo(f"{RANGE}{n:02d}"), range(3, 20))
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
        assert world.settled(mo.message_id).state is MoState.REJECTED
        assert not world.charged(mo.message_id)


def test_an_otp_mt_is_scored_and_a_verified_code_is_counted(world: RiskWorld) -> None:
    headers = {"Authorization": f"Bearer {world.partner_key}"}
    msisdn = f"4477008{uuid.uuid4().int % 100_000:05d}"
    sent = world.http.post(
        "v1/otp", json={"service_id": world.otp_service_id, "msisdn": msisdn}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    otp_id = sent.json()["otp_id"]
    mt_id = derived_id("otp", otp_id)
    code = otp_sms_text(world.stack, mt_id, timeout_s=TIMEOUT_S).split("code is ")[1].split(".")[0]

    mts = DynamoMtStore(world._dynamodb, world.stack.outputs["MessagesTableName"])
    record = wait_for(lambda: mts.get(mt_id), TIMEOUT_S)
    assert record.risk_score == 30, record  # new partner only: one code, one number of its range

    counters = DynamoTrafficCounters(world._dynamodb, world.stack.outputs["CountersTableName"])
    hit = otp_verified_hit(world.partner_id, RiskLimits())
    at_s = int(time.time())
    assert counters.totals([hit], at_s=at_s) == [0]
    verified = world.http.post(f"v1/otp/{otp_id}/verify", json={"code": code}, headers=headers)
    assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text
    assert counters.totals([hit], at_s=at_s) == [1]
    again = world.http.post(f"v1/otp/{otp_id}/verify", json={"code": code}, headers=headers)
    assert again.json()["valid"] is False and counters.totals([hit], at_s=at_s) == [1]
