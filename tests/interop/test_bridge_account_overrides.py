"""An account's own submit rates (set by the admin on its SmppAccount) against smpplib, real sockets.

The settings' rates are the defaults (``SmppLimits.submit_rate_per_s`` per bind,
``account_submit_rate_per_s`` per account); an account with rates of its own is throttled at those
(ESME_RTHROTTLED, 0x58) while another account, on the defaults, is not. What is throttled is never
queued, and what was acknowledged is exactly what was queued. A change of the stored rates is taken
up at the next bind: tests/unit/bridge/test_account_overrides.py.
"""

from __future__ import annotations

import time

import pytest

from smpp_bridge.smpp import constants as c
from tests.interop.bridge_harness import PASSWORD, account, running_bridge
from tests.interop.test_bridge_smpplib import client_for, submit

pytestmark = pytest.mark.interop


def test_a_lower_stored_bind_rate_throttles_each_bind_of_that_account_and_no_other() -> None:
    accounts = [account("slow", submit_rate_per_s=2), account("usual")]
    with running_bridge(accounts, submit_rate_per_s=50, account_submit_rate_per_s=500) as bridge:
        slow, usual, slow_again = (client_for(bridge.port) for _ in range(3))
        slow.bind_transceiver(system_id="slow", password=PASSWORD)
        usual.bind_transceiver(system_id="usual", password=PASSWORD)
        slow_again.bind_transceiver(system_id="slow", password=PASSWORD)

        slow_answers = [submit(slow, f"s{n}".encode()) for n in range(5)]
        usual_answers = [submit(usual, f"u{n}".encode()) for n in range(5)]

        assert c.ESME_RTHROTTLED == 0x58
        assert [a.status for a in slow_answers] == [0, 0] + [c.ESME_RTHROTTLED] * 3
        assert [a.status for a in usual_answers] == [0] * 5  # the default rate (50/s) for the other
        acknowledged = [a.message_id.decode() for a in slow_answers[:2] + usual_answers]
        assert [m.message_id for m in bridge.sink.sent] == acknowledged  # nothing throttled was queued
        assert [m.channel for m in bridge.sink.sent] == ["smpp:slow"] * 2 + ["smpp:usual"] * 5

        # The rate is each bind's own: a second bind of the slow account has its 2 per second too.
        assert [submit(slow_again).status for _ in range(3)] == [0, 0, c.ESME_RTHROTTLED]
        assert submit(slow).status == c.ESME_RTHROTTLED  # the first bind is still over its own
        time.sleep(0.6)  # 2 per second: one token back, on the same bind
        assert submit(slow, b"later").status == 0
        assert bytes.fromhex(bridge.sink.sent[-1].short_message_hex) == b"later"
        assert len(bridge.sink.sent) == 10
        assert bridge.bridge.ctx.stats.submits_throttled == 5
        for client in (slow, usual, slow_again):
            client.unbind()
            client.disconnect()


def test_a_stored_account_rate_is_shared_by_its_binds_and_replaces_the_default() -> None:
    accounts = [account("shared", account_submit_rate_per_s=3), account("usual")]
    with running_bridge(accounts, submit_rate_per_s=50, account_submit_rate_per_s=2) as bridge:
        first, second, usual = (client_for(bridge.port) for _ in range(3))
        first.bind_transceiver(system_id="shared", password=PASSWORD)
        second.bind_transceiver(system_id="shared", password=PASSWORD)
        usual.bind_transceiver(system_id="usual", password=PASSWORD)

        answers = [submit(client) for client in (first, second, first, second)]
        assert [a.status for a in answers] == [0, 0, 0, c.ESME_RTHROTTLED]  # 3 together, not the default 2
        assert [submit(usual).status for _ in range(3)] == [0, 0, c.ESME_RTHROTTLED]  # the default, 2
        assert [m.channel for m in bridge.sink.sent] == ["smpp:shared"] * 3 + ["smpp:usual"] * 2
        for client in (first, second, usual):
            client.unbind()
            client.disconnect()
