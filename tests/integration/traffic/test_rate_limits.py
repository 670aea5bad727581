"""Rate limits and allowed destinations on the deployed stack (docs/traffic/rate-limits-and-countries.md).

The admin gives a partner a limit of a few messages a minute, the UK as its only country and lists
a premium-rate range, all through the admin API. A burst of ``POST /v1/sms`` over the limit: the
requests over it get 429 with ``Retry-After``, and the operator's SMSC (a real HTTP server outside
the stack) receives exactly the limit's worth of MTs; nothing was reserved for the refused ones.
An SMS to a country the partner may not send to, or into the premium range, is refused at once
with 422 naming why. An OTP (which the API does not check) into the range is refused by the
traffic guard in the MT processor: the MT ends ``rejected`` with the country control's reason and
never reaches the operator. Nothing in between is stubbed.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.demo_peers import DemoOperator
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import (
    ApiKey,
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
from smsbilling.domain.ledger import AccountNotFound, TransferKind
from smsbilling.domain.mt import MtState
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.test_operator_forms import wait_for
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

CREDITS = 40
PER_MINUTE = 5
BURST = 12
NUMBER = "7073"
LINK_TOKEN = "rate-link-token-0123456789"
MT_TOKEN = "rate-operator-mt-token"
TIMEOUT_S = 90.0


@dataclass
class RateWorld:
    stack: Stack
    operator: DemoOperator
    partner_id: str
    service_id: str
    key: str
    admin_key: str
    prefix: str  # the UK operator's range: destinations start with it
    german: str  # a number a German operator serves: a country the partner may not send to
    premium: str  # the premium range listed by the admin (inside the UK operator's range)
    listed_at: float

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self.stack.client("dynamodb"))

    @property
    def mts(self) -> DynamoMtStore:
        return DynamoMtStore(self.stack.client("dynamodb"), self.stack.outputs["MessagesTableName"])

    def destination(self, n: int) -> str:
        return f"{self.prefix}{n:03d}"

    def send(self, destination: str, text: str = "Hello") -> httpx.Response:
        body = {"service_id": self.service_id, "destination": destination, "text": text}
        return self.stack.api.post("/v1/sms", json=body, headers={"Authorization": f"Bearer {self.key}"})

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.stack.api.request(method, path.lstrip("/"), json=body, headers=headers)

    def spendable(self) -> int:
        total = 0
        accounts = [acc.partner(self.partner_id, Book.CREDITS)]
        accounts += [
            acc.credit_block(self.partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)
        ]
        for account in accounts:
            with contextlib.suppress(AccountNotFound):
                total += self.ledger.balance(account).headroom
        return total

    def reservations(self) -> int:
        blocks = {acc.credit_block(self.partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)}
        return sum(
            1
            for t in self.ledger.journal()
            if t.transfer.kind is TransferKind.SMS_CREDITS
            and blocks & {leg.account for leg in t.transfer.legs}
        )

    def final_mt(self, message_id: str) -> MtRecord:
        record: MtRecord = wait_for(
            lambda: (r := self.mts.get(message_id)) is not None and r.mt.state.is_final and r, TIMEOUT_S
        )
        return record


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[RateWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, german_id, link_id = f"op-rate-{suffix}", f"op-rate-de-{suffix}", f"l-rate-{suffix}"
    partner_id = f"p-rate-{suffix}"
    prefix = f"4478{uuid.uuid4().int % 100_000:05d}"  # 9 digits: longer than any other test's range
    german_range = f"4915{uuid.uuid4().int % 100_000:05d}"
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
    )
    key = f"sk_rate_{uuid.uuid4().hex}"
    number = f"{operator_id}#{NUMBER}"
    now = datetime.now(UTC)
    admin, admin_key = new_admin_key(f"it-rate-{suffix}", "Rate limits test", now)
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    for entity in (
        admin,
        Operator(
            operator_id=operator_id,
            name="Rate Mobile",
            country_code="44",
            currency="GBP",
            msisdn_prefixes=(prefix,),
        ),
        Operator(
            operator_id=german_id,
            name="Rate Funk",
            country_code="49",
            currency="EUR",
            msisdn_prefixes=(german_range,),
        ),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
            mt_url=f"{operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        ShortNumber(operator_id=operator_id, number=NUMBER, tariff_plan_id="none"),
        Partner(
            partner_id=partner_id,
            name="Rate partner",
            email="rate@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
        ),
        ApiKey(key_hash=hash_token(key), key_id=f"k-{suffix}", partner_id=partner_id, created_at=now),
        PartnerService(
            service_id=f"svc-rate-{suffix}",
            partner_id=partner_id,
            name="Rate service",
            prefix=f"R{suffix[:6].upper()}",
            short_numbers=(number,),
            handler_kind=HandlerKind.HTTP_POST_ASYNC,
            handler_url="http://127.0.0.1:9/mo",
            status=ServiceStatus.ACTIVE,
            otp_enabled=True,
        ),
    ):
        entities.put(entity)
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    open_platform(ledger, "GBP")
    open_operator(ledger, operator_id, "GBP")
    open_partner(ledger, partner_id, "GBP")
    CreditSpender(ledger, LedgerLimits()).top_up(
        partner_id, f"pay-{suffix}", CREDITS, int(time.time() * 1000)
    )
    world = RateWorld(
        stack,
        operator,
        partner_id,
        f"svc-rate-{suffix}",
        key,
        admin_key,
        prefix,
        f"{german_range}123",
        f"{prefix}9",
        time.monotonic(),
    )
    # everything the admin sets, through the admin API
    limits = world.admin(
        "PUT", f"/admin/partners/{partner_id}/send-limits", {"messages_per_min_max": PER_MINUTE}
    )
    assert limits.status_code == 422  # the default 200 a second would be more than 5 a minute
    limits = world.admin(
        "PUT",
        f"/admin/partners/{partner_id}/send-limits",
        {"messages_per_s_max": PER_MINUTE, "messages_per_min_max": PER_MINUTE},
    )
    assert limits.status_code == 200, limits.text
    traffic = world.admin("PUT", f"/admin/partners/{partner_id}/traffic", {"allowed_countries": ["44"]})
    assert traffic.status_code == 200 and traffic.json()["countries_in_force"] == ["44"], traffic.text
    listed = world.admin(
        "POST", "/admin/premium-ranges", {"prefix": f"+{world.premium}", "note": "pumped range"}
    )
    assert listed.status_code == 201, listed.text
    world.listed_at = time.monotonic()
    try:
        yield world
    finally:
        world.admin("DELETE", f"/admin/premium-ranges/{world.premium}")
        operator.close()


def _outside_the_end_of_a_minute() -> None:
    """The burst must fall in one UTC minute (the limit is per fixed minute)."""
    second = datetime.now(UTC).second
    if second > 40:
        time.sleep(61 - second)


def test_a_burst_over_the_message_limit_gets_429_and_no_sms_beyond_the_limit_is_sent(
    world: RateWorld,
) -> None:
    assert world.spendable() == CREDITS
    _outside_the_end_of_a_minute()
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(lambda n: world.send(world.destination(n), f"Burst {n}"), range(BURST)))

    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code == 429]
    assert len(accepted) == PER_MINUTE and len(refused) == BURST - PER_MINUTE, [a.text for a in answers]
    for answer in refused:
        problem = answer.json()
        assert answer.headers["content-type"] == "application/problem+json"
        assert (problem["code"], problem["window"], problem["limit"]) == (
            "rate_limited",
            "minute",
            PER_MINUTE,
        )
        assert 1 <= int(answer.headers["retry-after"]) <= 60
    # nothing was reserved for the refused requests: exactly one reservation per accepted SMS
    assert world.reservations() == PER_MINUTE

    sent_ids = {a.json()["message_id"] for a in accepted}
    for message_id in sent_ids:
        assert world.final_mt(message_id).mt.state is MtState.DELIVERED
    time.sleep(3)  # anything else queued would have reached the operator by now
    received = [r.json() for r in world.operator.received if r.path == "/mt"]
    assert {r["message_id"] for r in received} == sent_ids
    assert len({r["destination"] for r in received}) == PER_MINUTE
    assert world.spendable() == CREDITS - PER_MINUTE  # each delivered SMS consumed its one credit


def test_a_country_the_partner_may_not_send_to_and_a_premium_range_are_refused_with_the_reason(
    world: RateWorld,
) -> None:
    before = world.reservations()
    german = world.send(f"+{world.german}")
    assert german.status_code == 422, german.text
    assert german.json()["code"] == "destination_not_allowed"
    assert german.json()["errors"] == [
        {"field": "destination", "reason": "destination country +49 is not allowed for this partner"}
    ]
    premium = world.send(f"{world.premium}0001")
    assert premium.status_code == 422 and premium.json()["code"] == "destination_not_allowed", premium.text
    (error,) = premium.json()["errors"]
    assert error["reason"] == (
        f"destination is in premium-rate range +{world.premium} (pumped range), not allowed for this partner"
    )
    assert world.reservations() == before  # refused before anything was reserved


def test_the_traffic_guard_refuses_an_mt_the_api_did_not_check(world: RateWorld) -> None:
    """An OTP into the premium range: queued by the API, rejected by the MT processor's country control."""
    # the MT processor reads the ranges through a cache: past its lifetime it has read the new one
    time.sleep(max(0.0, world.listed_at + STACK_RULES_CACHE_S + 1 - time.monotonic()))
    destination = f"{world.premium}0002"
    sent = world.stack.api.post(
        "/v1/otp",
        json={"service_id": world.service_id, "msisdn": f"+{destination}"},
        headers={"Authorization": f"Bearer {world.key}"},
    )
    assert sent.status_code == 202, sent.text
    record = world.final_mt(derived_id("otp", sent.json()["otp_id"]))
    assert record.mt.state is MtState.REJECTED
    # the MT's reason ("submit refused: " + the verdict's) names the control, the range and its note
    assert (
        f"country: destination is in premium-rate range +{world.premium} (pumped range)" in record.mt.reason
    )
    assert f"country:premium.{world.premium}:reject" in record.controls
    time.sleep(2)
    assert destination not in {r.json()["destination"] for r in world.operator.received if r.path == "/mt"}
