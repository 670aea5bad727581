"""The HLR check on the deployed stack: the simulated provider of the local stage (docs/traffic/hlr.md).

Two partners send through ``POST /v1/sms`` to one operator (an HTTP SMSC outside the stack,
DemoOperator); an admin sets each partner's HLR switch through ``PUT /admin/partners/{id}/traffic``.
Partner "on" has the switch on: its MT to a number the simulated provider calls
unreachable (ending ``0404``) ends rejected with the HLR reason, never reaches the operator, and
its credits are refunded; its MT to a reachable number is sent and settled. Partner "off" has the
switch explicitly off: its MT to a number ending ``0404`` is sent, and nothing was looked up (no
``HLR#`` answer in the counters table). Nothing in between is stubbed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from smsbilling.adapters.dynamodb_hlr_cache import DynamoHlrCache
from smsbilling.domain.ledger import TransferState
from smsbilling.domain.mt import MtState
from smsbilling.logic.hlr import HlrStatus
from tests.conftest import Stack
from tests.integration.billing_world import PartnerWorld, partner_world

pytestmark = pytest.mark.localcloud

CREDITS = 5
NUMBER = "7072"
PRICE = 100
UNREACHABLE_SUFFIX = "0404"  # the simulated provider's default (traffic.hlr_simulated_unreachable_suffixes)


@dataclass
class HlrWorld:
    on: PartnerWorld  # the partner with the HLR switch on
    off: PartnerWorld  # another partner on the same operator, the switch off

    @property
    def prefix(self) -> str:
        """The operator's number range."""
        return self.on.msisdn_range

    @property
    def hlr_cache(self) -> DynamoHlrCache:
        return DynamoHlrCache(self.on.dynamodb, self.on.stack.outputs["CountersTableName"])


def switch_hlr(world: PartnerWorld, *, on: bool) -> None:
    """The partner's HLR switch, set as an admin does: ``PUT /admin/partners/{id}/traffic``."""
    answer = world.admin("PUT", f"/admin/partners/{world.partner_id}/traffic", {"hlr_check": on})
    assert answer.status_code == 200, answer.text
    assert answer.json()["hlr_check"] is on
    got = world.admin("GET", f"/admin/partners/{world.partner_id}/traffic")
    assert got.status_code == 200 and got.json()["hlr_check"] is on, got.text


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[HlrWorld]:
    """Two partners, each with a service, an API key and credits, on one operator whose SMSC is a
    DemoOperator; the HLR switch of one on, of the other explicitly off."""
    with partner_world(
        stack, tag="hlron", numbers=[NUMBER], price=PRICE, credits=CREDITS, range_head="4478"
    ) as on:
        off = on.with_partner("hlroff", price=PRICE, credits=CREDITS)
        for sender in (on, off):
            sender.add_service()
        switch_hlr(on, on=True)
        switch_hlr(off, on=False)
        yield HlrWorld(on, off)


def test_unreachable_is_rejected_unsent_and_refunded_reachable_is_sent(world: HlrWorld) -> None:
    unreachable, reachable = f"{world.prefix}{UNREACHABLE_SUFFIX}", f"{world.prefix}0123"
    refused_id = world.on.send_sms(unreachable, "Your code is 1234")
    sent_id = world.on.send_sms(reachable, "Your code is 5678")

    refused = world.on.final_mt(refused_id)
    assert refused.mt.state is MtState.REJECTED
    assert "hlr: subscriber unreachable (simulated: unknown subscriber)" in refused.mt.reason
    assert "hlr:unreachable:reject" in refused.controls
    assert world.on.settled(refused_id).state is TransferState.VOIDED  # the credits came back

    sent = world.on.final_mt(sent_id)
    assert sent.mt.state is MtState.DELIVERED and sent.controls == ()
    assert world.on.settled(sent_id).state is TransferState.POSTED
    got = world.on.operator_got()
    assert sent_id in got and refused_id not in got
    assert world.on.spendable() == CREDITS - 1

    now_s = int(time.time())  # both answers are cached for the next MTs to these numbers
    kept_unreachable = world.hlr_cache.get(unreachable, now_s=now_s)
    kept_reachable = world.hlr_cache.get(reachable, now_s=now_s)
    assert kept_unreachable is not None and kept_unreachable.status is HlrStatus.UNREACHABLE
    assert kept_reachable is not None and kept_reachable.status is HlrStatus.REACHABLE


def test_with_the_switch_off_nothing_is_looked_up(world: HlrWorld) -> None:
    unreachable = f"{world.prefix}1{UNREACHABLE_SUFFIX}"  # a number nobody else sent to
    message_id = world.off.send_sms(unreachable, "Hello from a partner without HLR")

    record = world.off.final_mt(message_id)
    assert record.mt.state is MtState.DELIVERED and not any(c.startswith("hlr:") for c in record.controls)
    assert world.off.settled(message_id).state is TransferState.POSTED
    assert message_id in world.off.operator_got()
    assert world.hlr_cache.get(unreachable, now_s=int(time.time())) is None  # never looked up
