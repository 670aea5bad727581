"""The example API clients against the deployed local stack (API Gateway → the partner Lambda).

The curl script and the Python sender send an SMS from a partner's credits through a service an
admin approved; the curl script then reads the partner's balance, and follows the message until
the MT processor has recorded it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.examples.runners import run_curl, run_sender
from tests.security.isolation_cases import Ctx
from tests.security.world import StackWorld

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def site(stack: Any) -> tuple[StackWorld, str, str]:
    world = StackWorld(stack)
    partner, other = world.partner("site"), world.partner("other")
    service_id = Ctx(world, partner, other, world.client(partner.key), world.client(other.key)).api_service(
        active=True
    )
    world.fund(partner, 10)
    return world, partner.key, service_id


@pytest.mark.parametrize("language", ["curl", "python"])
def test_send_an_sms_on_the_stack(site: tuple[StackWorld, str, str], language: str) -> None:
    world, key, service_id = site
    base_url = world.stack.cloud.api_base
    done = run_sender(
        language, base_url, key, service_id, world.subscriber, f"Hello from the {language} example"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sent = json.loads(done.stdout)
    assert sent["status"] == "queued" and sent["credits"] == 1
    balance = run_curl(base_url, key, "balance")
    assert balance.returncode == 0, balance.stderr
    assert json.loads(balance.stdout)["credits"]["balance"] <= 10
    deadline = time.monotonic() + 30
    while True:
        read = run_curl(base_url, key, "message", sent["message_id"])
        if read.returncode == 0:
            message = json.loads(read.stdout)
            assert message["direction"] == "mt" and message["message_id"] == sent["message_id"]
            return
        assert json.loads(read.stdout)["code"] == "not_found", read.stdout
        assert time.monotonic() < deadline, "the MT never showed in the partner's messages"
        time.sleep(1)
