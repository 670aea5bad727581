"""Blacklists on the deployed stack (docs/traffic/blacklists.md), with an operator and a partner outside it.

CSV lists are imported through the admin API (the partner's list) and the partner API (one
service's list); then an MO from a listed subscriber is dropped unbilled and never reaches the
handler, and an API send to a subscriber on the service's list ends ``rejected`` with the list's
reason, never reaches the operator, and its credit is refunded. A subscriber who sends
``<keyword> STOP`` to a subscription service lands on the partner's list (``opted_out``, seen
through ``GET /v1/blacklist``), the partner's sends to them stop and the partner cannot lift it.
Nothing in between is stubbed: the deployed MO and MT processors read the entities table.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsbilling.domain.entities import PartnerService, SubscriptionTerms
from smsbilling.domain.inbound import MoState
from smsbilling.domain.ledger import TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from tests.conftest import Stack
from tests.integration.billing_world import PartnerWorld, partner_world

pytestmark = pytest.mark.localcloud

NUMBER = "7073"
PRICE = 150
CREDITS = 10


class BlWorld(PartnerWorld):
    @property
    def subscription(self) -> PartnerService:
        """An MT-subscription service on the same number as the plain, MO-billed one."""
        return self.services[1]


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[BlWorld]:
    with partner_world(
        stack,
        BlWorld,
        tag="bl",
        numbers=[NUMBER],
        price=PRICE,
        credits=CREDITS,
        demo_partner=True,
        default_reply="Unknown keyword.",
    ) as world:
        world.add_service()
        world.add_service(prefix=f"S{world.suffix[:6].upper()}", subscription=SubscriptionTerms())
        yield world


def test_imported_lists_drop_mos_unbilled_and_reject_mts_with_the_reason(world: BlWorld) -> None:
    complained, service_only, free = world.subscriber(1), world.subscriber(2), world.subscriber(3)
    by_admin = world.admin(
        "POST",
        f"/admin/blacklist/import?partner_id={world.partner_id}",
        content=f"msisdn,reason\n+{complained},complained to the regulator\n",
        headers={"Content-Type": "text/csv"},
    )
    assert by_admin.status_code == 200, by_admin.text
    assert (by_admin.json()["added"], by_admin.json()["errors"]) == (1, [])
    service_id = world.service.service_id
    by_partner = world.partner_api(
        "POST",
        f"/v1/blacklist/import?service_id={service_id}",
        content=f"00{service_only[:2]} {service_only[2:]};asked by phone\nnot a number\n",
        headers={"Content-Type": "text/csv"},
    )
    assert by_partner.status_code == 200, by_partner.text
    assert by_partner.json()["added"] == 1 and [e["line"] for e in by_partner.json()["errors"]] == [2]
    listed = world.partner_api("GET", "/v1/blacklist", params={"service_id": service_id}).json()["items"]
    assert [(item["msisdn"], item["reason"]) for item in listed] == [(service_only, "asked by phone")]
    other_partner = world.partner_api("GET", "/v1/blacklist", params={"service_id": "svc-nobody"})
    assert other_partner.status_code == 404

    # an MO from the partner-listed subscriber: dropped, never charged, never handed to the partner
    dropped = world.decided(world.send_mo(f"{world.service.prefix} vote 1", complained))
    assert dropped.state is MoState.BLACKLISTED and dropped.charged_amount is None, dropped
    assert (
        dropped.reason == f"the subscriber is blacklisted by {world.partner_id}: complained to the regulator"
    )
    assert world.ledger.get_transfer(transfer_id(dropped.message_id, str(TransferKind.MO_CHARGE))) is None
    served = world.decided(world.send_mo(f"{world.service.prefix} vote 2", free))
    assert served.state is MoState.ROUTED and served.charged_amount == PRICE, served
    world.partner.wait_for(lambda r: r.path == "/mo" and r.json()["message_id"] == served.message_id)
    assert all(
        r.json().get("message_id") != dropped.message_id for r in world.partner.received if r.path == "/mo"
    )

    # an API send to the service-listed subscriber: rejected with the reason, refunded, never sent
    refused = world.final_mt(world.send_sms(service_only, "Your weekly offer"))
    assert refused.mt.state is MtState.REJECTED, refused
    assert f"blacklisted by {world.partner_id} for service {service_id}: asked by phone" in refused.mt.reason
    assert world.settled(refused.message_id).state is TransferState.VOIDED
    assert refused.message_id not in {r.json()["message_id"] for r in world.operator.received}


def test_stop_puts_the_subscriber_on_the_partners_list(world: BlWorld) -> None:
    subscriber = world.subscriber(4)
    keyword = world.subscription.prefix
    assert world.decided(world.send_mo(keyword, subscriber)).state is MoState.ROUTED
    assert world.decided(world.send_mo(f"{keyword} STOP", subscriber)).state is MoState.ROUTED
    entry = world.partner_api("GET", f"/v1/blacklist/{subscriber}")
    assert entry.status_code == 200, entry.text
    assert entry.json()["opted_out"] is True and entry.json()["reason"].startswith("STOP from subscriber at ")
    listed = world.partner_api("GET", "/v1/blacklist", params={"limit": 200}).json()["items"]
    assert subscriber in {item["msisdn"] for item in listed}
    lift = world.partner_api("DELETE", f"/v1/blacklist/{subscriber}")
    assert (lift.status_code, lift.json()["code"]) == (409, "opted_out")

    # the goodbye went out; the partner's own sends to them do not
    world.operator.wait_for(
        lambda r: r.json()["destination"] == subscriber and "unsubscribed" in r.json()["text"]
    )
    refused = world.final_mt(world.send_sms(subscriber, "We miss you"))
    assert refused.mt.state is MtState.REJECTED and "STOP from subscriber" in refused.mt.reason, refused
    assert world.settled(refused.message_id).state is TransferState.VOIDED
