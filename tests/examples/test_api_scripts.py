"""The example API clients (examples/python/send_sms.py, examples/curl/smsbilling.sh, and
examples/php/send_sms.php where PHP is installed) against the partner API in-process over the
in-memory fakes, behind a loopback HTTP server. The same scripts run against the deployed stack
in test_examples_localcloud.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.examples.runners import SENDERS, run_curl, run_sender
from tests.security.api import InProcess, LoopbackServer
from tests.security.isolation_cases import Ctx
from tests.security.world import MemoryWorld, PartnerHandle


@dataclass
class Site:
    world: MemoryWorld
    url: str
    partner: PartnerHandle
    service_id: str


@pytest.fixture
def site() -> Iterator[Site]:
    """A partner with credits and an approved service, and the partner API on a loopback port."""
    world = MemoryWorld()
    world.install()
    partner, other = world.partner("site"), world.partner("other")
    ctx = Ctx(world, partner, other, world.client(partner.key), world.client(other.key))
    service_id = ctx.api_service(active=True)
    world.fund(partner, 20)
    transport = world.client(None).transport
    assert isinstance(transport, InProcess)
    server = LoopbackServer(transport)
    try:
        yield Site(world, server.url, partner, service_id)
    finally:
        server.close()
        world.uninstall()


@pytest.mark.parametrize("language", SENDERS)
def test_send_sms_queues_the_message(site: Site, language: str) -> None:
    text = 'Your order "42" ships today \\ tomorrow\nThanks!'
    done = run_sender(language, site.url, site.partner.key, site.service_id, site.world.subscriber, text)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "queued" and answer["credits"] == 1
    (queued,) = [mt for mt in site.world.events.mt if mt.message_id == answer["message_id"]]
    assert queued.text == text and queued.destination == site.world.subscriber.lstrip("+")
    assert queued.partner_id == site.partner.partner_id


@pytest.mark.parametrize("language", SENDERS)
def test_a_refusal_is_shown_with_its_code(site: Site, language: str) -> None:
    done = run_sender(language, site.url, site.partner.key, "no-such-service", site.world.subscriber, "hi")
    assert done.returncode == 1, done.stdout + done.stderr
    assert json.loads(done.stdout)["code"] == "not_found"
    assert not site.world.events.mt


def test_the_curl_script_reads_messages_and_replies(site: Site) -> None:
    message_id = site.world.routed_mo(site.partner, site.service_id)
    read = run_curl(site.url, site.partner.key, "message", message_id)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["message_id"] == message_id
    replied = run_curl(site.url, site.partner.key, "reply", message_id, "Thanks, noted.")
    assert replied.returncode == 0, replied.stderr
    assert json.loads(replied.stdout)["in_reply_to"] == message_id
    balance = run_curl(site.url, site.partner.key, "balance")
    assert balance.returncode == 0 and json.loads(balance.stdout)["credits"]["balance"] == 20
    listed = run_curl(site.url, site.partner.key, "messages", "direction=mo")
    assert listed.returncode == 0 and message_id in {
        m["message_id"] for m in json.loads(listed.stdout)["items"]
    }
    foreign = run_curl(site.url, "sk_not_a_key", "balance")
    assert foreign.returncode == 1 and json.loads(foreign.stdout)["code"] == "unauthenticated"
