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

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from smsbilling.domain.entities import Operator
from smsbilling.domain.ids import derived_id
from smsbilling.domain.mt import MtState
from tests.conftest import Stack
from tests.integration.billing_world import PartnerWorld, partner_world
from tests.integration.traffic import STACK_RULES_CACHE_S

pytestmark = pytest.mark.localcloud

CREDITS = 40
PER_MINUTE = 5
BURST = 12
NUMBER = "7073"


@dataclass
class RateWorld(PartnerWorld):
    german: str = ""  # a number a German operator serves: a country the partner may not send to
    listed_at: float = 0.0  # when the premium range was listed (time.monotonic)

    @property
    def premium(self) -> str:
        """The premium range listed by the admin (inside the UK operator's range)."""
        return f"{self.msisdn_range}9"


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[RateWorld]:
    # The UK operator's range has 9 digits: longer than any other test's range.
    with partner_world(
        stack, RateWorld, tag="rate", numbers=[NUMBER], price=None, credits=CREDITS, range_head="4478"
    ) as world:
        world.add_service(otp_enabled=True)
        german_range = f"4915{uuid.uuid4().int % 100_000:05d}"
        world.entities.put(
            Operator(
                operator_id=f"op-rate-de-{world.suffix}",
                name="Rate Funk",
                country_code="49",
                currency="EUR",
                msisdn_prefixes=(german_range,),
            )
        )
        world.german = f"{german_range}123"
        # everything the admin sets, through the admin API
        partner_id = world.partner_id
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
        answers = list(pool.map(lambda n: world.post_sms(world.subscriber(n), f"Burst {n}"), range(BURST)))

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
    assert len(world.credit_reservations()) == PER_MINUTE

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
    before = len(world.credit_reservations())
    german = world.post_sms(f"+{world.german}", "Hello")
    assert german.status_code == 422, german.text
    assert german.json()["code"] == "destination_not_allowed"
    assert german.json()["errors"] == [
        {"field": "destination", "reason": "destination country +49 is not allowed for this partner"}
    ]
    premium = world.post_sms(f"{world.premium}0001", "Hello")
    assert premium.status_code == 422 and premium.json()["code"] == "destination_not_allowed", premium.text
    (error,) = premium.json()["errors"]
    assert error["reason"] == (
        f"destination is in premium-rate range +{world.premium} (pumped range), not allowed for this partner"
    )
    assert len(world.credit_reservations()) == before  # refused before anything was reserved


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
