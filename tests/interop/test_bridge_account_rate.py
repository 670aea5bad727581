"""The account's submit rate over all its binds, against smpplib over real sockets.

Each bind has its own rate (``submit_rate_per_s``, tests/interop/test_bridge_smpplib.py) and an
account's binds together have another (``account_submit_rate_per_s``): two binds of one account
under their own rate but together over the account's get ESME_RTHROTTLED (0x58) for the excess,
which is never queued; the binds stay up, another account is not concerned, and the rate comes back.
"""

from __future__ import annotations

import time

import pytest

from smpp_bridge.smpp import constants as c
from tests.interop.bridge_harness import PASSWORD, account, running_bridge
from tests.interop.test_bridge_smpplib import client_for, submit

pytestmark = pytest.mark.interop


def test_two_binds_of_one_account_share_its_rate_and_the_excess_is_throttled_not_queued() -> None:
    accounts = [account(), account("partner2")]
    with running_bridge(accounts, submit_rate_per_s=100, account_submit_rate_per_s=2) as bridge:
        first, second, other = (client_for(bridge.port) for _ in range(3))
        first.bind_transceiver(system_id="partner1", password=PASSWORD)
        second.bind_transceiver(system_id="partner1", password=PASSWORD)
        other.bind_transceiver(system_id="partner2", password=PASSWORD)
        answers = [
            submit(client, f"m{n}".encode()) for n, client in enumerate((first, second, first, second))
        ]
        assert [a.status for a in answers] == [0, 0, c.ESME_RTHROTTLED, c.ESME_RTHROTTLED]
        assert [a.command for a in answers] == ["submit_sm_resp"] * 4
        # what was acknowledged is exactly what was queued, with the ids the client was given
        accepted = [a.message_id.decode() for a in answers[:2]]
        assert [m.message_id for m in bridge.sink.sent] == accepted
        assert [bytes.fromhex(m.short_message_hex) for m in bridge.sink.sent] == [b"m0", b"m1"]
        assert submit(other).status == 0  # another account has its own rate
        assert len(bridge.sink.sent) == 3
        time.sleep(0.6)  # 2 per second: one token back
        assert submit(second, b"later").status == 0
        assert bytes.fromhex(bridge.sink.sent[-1].short_message_hex) == b"later"
        for client in (first, second, other):
            client.unbind()
            client.disconnect()
