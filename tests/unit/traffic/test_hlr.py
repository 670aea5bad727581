"""The HLR check (logic/hlr.py), its providers (adapters/http_hlr.py, simulated_hlr.py) and wiring.

The HTTP provider is exercised against a real HTTP server on 127.0.0.1 (stdlib ``http.server``
on a free port): every answer a provider may give, and the ones it should not, end in a result;
nothing raises.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.hlr import build_hlr_control, select_provider
from smsbilling.adapters.http_hlr import HttpHlrProvider, read_answer
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_hlr_cache import MemoryHlrCache
from smsbilling.adapters.simulated_hlr import SimulatedHlrProvider
from smsbilling.adapters.traffic_guard import build_guard
from smsbilling.contracts import MtPurpose
from smsbilling.domain.mt import MtState
from smsbilling.domain.traffic import (
    Action,
    AlertEvent,
    ControlName,
    Direction,
    MessageFacts,
    PartnerTrafficSettings,
)
from smsbilling.logic.countries import CountryControl, DestinationRulesCache
from smsbilling.logic.hlr import HlrControl, HlrResult, HlrStatus
from smsbilling.logic.traffic_control import TrafficGuard
from smsbilling.logic.traffic_defaults import PartnerSettingsCache
from smsbilling.settings import Settings, TrafficLimits
from tests.unit.mt import world as mt_world

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REACHABLE = "447700900123"
UNREACHABLE = "447700900404"
ABSENT = "447700900410"
FAILING = "447700900503"
TOKEN = "hlr-secret-token-0123456789"


class Clock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Scripted:
    """A provider answering from a script (default: reachable), remembering what it was asked."""

    script: list[HlrResult | Exception] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def lookup(self, msisdn: str) -> HlrResult:
        self.asked.append(msisdn)
        answer = self.script.pop(0) if self.script else HlrResult(HlrStatus.REACHABLE)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Rig:
    control: HlrControl
    provider: Any
    entities: MemoryEntityStore
    cache: MemoryHlrCache
    clock: Clock  # monotonic: the switch cache and the pause
    wall: Clock  # epoch seconds: the answers' cache


def rig(provider: Any = None, *, switch: bool = True, **limits: Any) -> Rig:
    entities, cache, clock, wall = MemoryEntityStore(), MemoryHlrCache(), Clock(), Clock(1_800_000_000)
    if switch:
        entities.put(PartnerTrafficSettings(partner_id="p1", hlr_check=True))
    provider = SimulatedHlrProvider.from_limits(TrafficLimits()) if provider is None else provider
    control = HlrControl(provider, cache, entities, TrafficLimits(**limits), clock=clock, wall_clock=wall)
    return Rig(control, provider, entities, cache, clock, wall)


def mt(
    msisdn: str = REACHABLE, *, purpose: str | None = "api", partner_id: str | None = "p1"
) -> MessageFacts:
    return MessageFacts(
        direction=Direction.MT,
        message_id=f"m-{msisdn}",
        at=T0,
        msisdn=msisdn,
        partner_id=partner_id,
        purpose=purpose,
    )


# --- the control --------------------------------------------------------------------------------


def test_an_unreachable_subscriber_is_rejected_with_the_reason() -> None:
    r = rig()
    [finding] = r.control.check(mt(UNREACHABLE)).findings
    assert (finding.control, finding.rule_id, finding.action) == (
        ControlName.HLR,
        "unreachable",
        Action.REJECT,
    )
    assert finding.reason == "subscriber unreachable (simulated: unknown subscriber)"
    assert r.provider.lookups == [UNREACHABLE]


def test_a_reachable_subscriber_passes_and_its_answer_is_cached() -> None:
    r = rig()
    assert r.control.check(mt(REACHABLE)).findings == ()
    assert r.control.check(mt(REACHABLE)).findings == ()
    assert r.provider.lookups == [REACHABLE]  # the second came from the cache
    assert r.control.stats["cache_hits"] == 1 and r.control.stats["lookups"] == 1


def test_reachable_and_unreachable_answers_are_kept_for_their_own_times() -> None:
    r = rig(hlr_reachable_cache_s=1000, hlr_unreachable_cache_s=100)
    r.control.check(mt(REACHABLE))
    r.control.check(mt(UNREACHABLE))
    r.wall.now += 99
    r.control.check(mt(REACHABLE))
    r.control.check(mt(UNREACHABLE))
    assert r.provider.lookups == [REACHABLE, UNREACHABLE]
    r.wall.now += 1  # the unreachable answer expired, the reachable one did not
    assert r.control.check(mt(UNREACHABLE)).findings[0].action is Action.REJECT
    r.control.check(mt(REACHABLE))
    assert r.provider.lookups == [REACHABLE, UNREACHABLE, UNREACHABLE]
    r.wall.now += 900
    r.control.check(mt(REACHABLE))
    assert r.provider.lookups[-1] == REACHABLE and len(r.provider.lookups) == 4


def test_an_absent_subscriber_is_sent_anyway_unless_configured_otherwise() -> None:
    r = rig(hlr_unknown_cache_s=60)
    assert r.control.check(mt(ABSENT)).findings == ()
    assert r.control.stats["unknown"] == 1
    assert r.cache.get(ABSENT, now_s=int(r.wall.now) + 59) is not None
    assert r.cache.get(ABSENT, now_s=int(r.wall.now) + 60) is None

    strict = rig(hlr_absent_is_unreachable=True)
    [finding] = strict.control.check(mt(ABSENT)).findings
    assert (
        finding.action is Action.REJECT
        and finding.reason == "subscriber unreachable (simulated: absent subscriber)"
    )


def test_nothing_is_looked_up_for_mos_replies_notices_or_mts_without_a_partner() -> None:
    r = rig()
    mo = MessageFacts(direction=Direction.MO, message_id="mo1", at=T0, msisdn=UNREACHABLE, partner_id="p1")
    for facts in (
        mo,
        mt(UNREACHABLE, purpose="reply"),
        mt(UNREACHABLE, purpose="default_reply"),
        mt(UNREACHABLE, purpose="notice"),
        mt(UNREACHABLE, partner_id=None),
    ):
        assert r.control.check(facts).findings == ()
    assert r.provider.lookups == []
    for purpose in ("api", "otp", "subscription", None):  # None: a partner's submit over its bind
        assert r.control.check(mt(UNREACHABLE, purpose=purpose)).findings[0].action is Action.REJECT


def test_the_partner_switch_is_read_and_cached_for_the_rules_cache_time() -> None:
    r = rig(switch=False, rules_cache_s=30)
    assert r.control.check(mt(UNREACHABLE)).findings == ()
    r.entities.put(PartnerTrafficSettings(partner_id="p1", hlr_check=True))
    r.clock.now += 29
    assert r.control.check(mt(UNREACHABLE)).findings == ()  # the cached "off"
    assert r.provider.lookups == []
    r.clock.now += 1
    assert r.control.check(mt(UNREACHABLE)).findings[0].action is Action.REJECT
    r.entities.put(PartnerTrafficSettings(partner_id="p1", hlr_check=False))
    r.clock.now += 30
    assert r.control.check(mt("447700999404")).findings == ()
    assert r.provider.lookups == [UNREACHABLE]


def test_provider_failures_fail_open_uncached_then_alert_and_pause() -> None:
    provider = Scripted([HlrResult.failed("provider: timeout")] * 3)
    r = rig(provider, hlr_failures_in_row_max=3, hlr_pause_s=10)
    assert r.control.check(mt()).findings == ()
    assert r.control.check(mt()).findings == ()  # not cached: asked again
    [alert] = r.control.check(mt()).findings  # the third in a row
    assert (alert.rule_id, alert.action) == ("provider_failing", Action.ALERT)
    assert "provider: timeout" in alert.reason
    assert len(provider.asked) == 3 and r.control.stats["provider_failures"] == 3

    [paused] = r.control.check(mt()).findings  # paused: the provider is not asked, still an alert
    assert paused.rule_id == "provider_failing" and len(provider.asked) == 3
    r.clock.now += 10
    assert r.control.check(mt()).findings == ()  # asked again; it answered: the streak ends
    assert len(provider.asked) == 4
    provider.script.append(HlrResult.failed("provider: timeout"))
    assert r.control.check(mt()).findings == ()  # one failure after the reset: no alert yet


def test_a_cached_answer_during_a_provider_outage_is_no_alert() -> None:
    provider = Scripted([HlrResult(HlrStatus.REACHABLE), *[HlrResult.failed("provider: http:503")] * 2])
    r = rig(provider, hlr_failures_in_row_max=2)
    r.control.check(mt(REACHABLE))
    r.control.check(mt("447700900001"))
    assert r.control.check(mt("447700900002")).findings[0].rule_id == "provider_failing"
    assert r.control.check(mt(REACHABLE)).findings == ()  # checked, from the cache


def test_a_provider_that_raises_counts_as_a_failure() -> None:
    r = rig(Scripted([RuntimeError("boom")]))
    assert r.control.check(mt()).findings == ()
    assert r.control.stats["provider_failures"] == 1 and r.cache.items == {}


def test_without_a_provider_a_switched_on_partner_gets_an_alert_not_silence() -> None:
    r = rig(switch=True)
    control = HlrControl(None, r.cache, r.entities, TrafficLimits())
    [finding] = control.check(mt(UNREACHABLE)).findings
    assert (finding.rule_id, finding.action) == ("not_configured", Action.ALERT)
    off = HlrControl(None, MemoryHlrCache(), MemoryEntityStore(), TrafficLimits())
    assert off.check(mt(UNREACHABLE)).findings == ()


@dataclass
class Alerts:
    raised: list[AlertEvent] = field(default_factory=list)

    def raise_alert(self, event: AlertEvent) -> None:
        self.raised.append(event)


def test_through_the_guard_the_verdict_names_the_control_and_an_alert_is_raised() -> None:
    alerts = Alerts()
    verdict = TrafficGuard(controls=(rig().control,), alerts=alerts).check(mt(UNREACHABLE))
    assert verdict.action is Action.REJECT
    assert verdict.reason == "hlr: subscriber unreachable (simulated: unknown subscriber)"
    assert verdict.labels == ("hlr:unreachable:reject",)
    assert [event.finding.rule_id for event in alerts.raised] == ["unreachable"]


def test_an_unreachable_mt_is_created_rejected_never_sent_or_charged() -> None:
    control = rig().control
    world = mt_world.World(guard=TrafficGuard(controls=(control,), alerts=Alerts()))
    command = mt_world.requested(billed=True, destination=UNREACHABLE).model_copy(
        update={"purpose": MtPurpose.API}
    )
    record = world.sender().process(command, now=mt_world.T0)
    assert record.mt.state is MtState.REJECTED
    assert record.mt.reason.endswith("hlr: subscriber unreachable (simulated: unknown subscriber)")
    assert world.operator.received == [] and list(world.ledger.journal()) == []

    reachable = mt_world.requested(message_id="mt2").model_copy(update={"purpose": MtPurpose.API})
    assert world.sender().process(reachable, now=mt_world.T0).mt.state is MtState.SENT
    assert len(world.operator.received) == 1


# --- the simulated provider ---------------------------------------------------------------------


def test_the_simulated_provider_answers_by_prefix_and_suffix() -> None:
    provider = SimulatedHlrProvider(
        unreachable_prefixes=("4479",),
        unreachable_suffixes=("77",),
        absent_suffixes=("88",),
        failing_suffixes=("99",),
    )
    assert provider.lookup("+447912345600").status is HlrStatus.UNREACHABLE
    assert provider.lookup("441234567877").status is HlrStatus.UNREACHABLE
    absent = provider.lookup("441234567888")
    assert (absent.status, absent.absent, absent.provider_failed) == (HlrStatus.UNKNOWN, True, False)
    failing = provider.lookup("441234567899")
    assert (failing.status, failing.provider_failed) == (HlrStatus.UNKNOWN, True)
    ok = provider.lookup("441234567800")
    assert (ok.status, ok.network, ok.ported) == (HlrStatus.REACHABLE, "00101", False)
    assert provider.lookups[0] == "447912345600"


# --- selecting the provider ---------------------------------------------------------------------


def test_the_provider_is_http_with_a_url_simulated_locally_and_none_elsewhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_url = Settings(stage="prod", traffic=TrafficLimits(hlr_url="https://hlr.example/lookup"))
    assert isinstance(select_provider(with_url), HttpHlrProvider)
    assert isinstance(select_provider(Settings(stage="local")), SimulatedHlrProvider)
    with caplog.at_level(logging.WARNING):
        assert select_provider(Settings(stage="prod")) is None
    assert "no HLR provider configured" in caplog.text


class NoMetrics:
    def add_metric(self, name: str, unit: object, value: float, resolution: int = 60) -> None:
        return None


def test_the_deployed_guard_ends_with_the_hlr_check() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    settings = Settings(stage="local")
    guard = build_guard(settings, client, DynamoEntityStore(client, "entities"), NoMetrics())
    assert isinstance(guard.controls[-1], HlrControl)
    assert isinstance(build_hlr_control(settings, client, DynamoEntityStore(client, "e")), HlrControl)


def test_the_token_stays_secret_in_settings_and_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSBILLING_TRAFFIC__HLR_URL", "https://hlr.example/{msisdn}")
    monkeypatch.setenv("SMSBILLING_TRAFFIC__HLR_TOKEN", TOKEN)
    settings = Settings()
    assert settings.traffic.hlr_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    assert TOKEN not in repr(HttpHlrProvider.from_limits(settings.traffic))


def test_a_url_that_is_not_http_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="hlr_url"):
        TrafficLimits(hlr_url="ftp://hlr.example/")


# --- reading providers' answers -----------------------------------------------------------------

HLR_LOOKUPS_CONNECTED = {  # hlr-lookups.com API v2, POST /hlr-lookup (documented response object)
    "id": "f94ef092cb53",
    "msisdn": "+14156226819",
    "connectivity_status": "CONNECTED",
    "mccmnc": "310260",
    "mcc": "310",
    "mnc": "260",
    "original_network_name": "Verizon Wireless",
    "is_ported": True,
    "ported_network_name": "T-Mobile US",
    "is_roaming": False,
    "cost": "0.0100",
    "processing_status": "COMPLETED",
    "error_code": None,
    "data_source": "LIVE_HLR",
}


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (HLR_LOOKUPS_CONNECTED, HlrResult(HlrStatus.REACHABLE, network="310260", ported=True)),
        (
            {**HLR_LOOKUPS_CONNECTED, "connectivity_status": "INVALID_MSISDN", "is_ported": False},
            HlrResult(HlrStatus.UNREACHABLE, network="310260", ported=False, error="invalid msisdn"),
        ),
        (
            {**HLR_LOOKUPS_CONNECTED, "connectivity_status": "ABSENT"},
            HlrResult(
                HlrStatus.UNKNOWN, network="310260", ported=True, error="absent subscriber", absent=True
            ),
        ),
        (
            {
                **HLR_LOOKUPS_CONNECTED,
                "connectivity_status": "UNDETERMINED",
                "mccmnc": None,
                "is_ported": None,
            },
            HlrResult(HlrStatus.UNKNOWN, error="status undetermined"),
        ),
        (
            {**HLR_LOOKUPS_CONNECTED, "processing_status": "FAILED"},
            HlrResult.failed("provider: processing FAILED"),
        ),
        (  # MessageBird's HLR object
            {
                "id": "0da1",
                "msisdn": 31612345678,
                "network": 20406,
                "status": "active",
                "details": {"ported": 0},
            },
            HlrResult(HlrStatus.REACHABLE, network="20406", ported=False),
        ),
        (
            {"status": "absent", "network": 20406, "details": {"ported": 1}},
            HlrResult(
                HlrStatus.UNKNOWN, network="20406", ported=True, error="absent subscriber", absent=True
            ),
        ),
        ({"status": "failed"}, HlrResult.failed("provider: lookup failed")),
        ({"status": "sent"}, HlrResult(HlrStatus.UNKNOWN, error="status sent")),
        ({"status": "Unknown Subscriber"}, HlrResult(HlrStatus.UNREACHABLE, error="unknown subscriber")),
        ({"network": "not-a-code", "status": "active"}, HlrResult(HlrStatus.REACHABLE)),
        ({"msisdn": "1"}, HlrResult.failed("provider: no status in the answer")),
        (["CONNECTED"], HlrResult.failed("provider: answer is not a JSON object")),
    ],
)
def test_answers_are_read_from_either_shape(document: Any, expected: HlrResult) -> None:
    assert read_answer(200, body(document)) == expected


def test_non_json_and_non_2xx_answers_are_provider_failures() -> None:
    assert read_answer(200, b"\xff\xfe<html>") == HlrResult.failed("provider: answer is not JSON")
    assert read_answer(500, body(HLR_LOOKUPS_CONNECTED)) == HlrResult.failed("provider: http:500")
    assert read_answer(404, b"") == HlrResult.failed("provider: http:404")


# --- the HTTP provider against a real server ----------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[Seen], tuple[int, bytes, float]]  # status, body, delay before answering


@dataclass
class LoopbackHlr:
    url: str
    seen: list[Seen]
    respond: list[Responder]


@pytest.fixture
def server() -> Iterator[LoopbackHlr]:
    seen: list[Seen] = []
    respond: list[Responder] = [lambda _: (200, body(HLR_LOOKUPS_CONNECTED), 0.0)]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            seen.append(request)
            status, payload, delay = respond[0](request)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout test)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield LoopbackHlr(f"http://127.0.0.1:{httpd.server_address[1]}", seen, respond)
    finally:
        httpd.shutdown()
        httpd.server_close()


def provider(
    url: str, *, token: str = TOKEN, timeout_s: float = 2.0, body_bytes_max: int = 4096
) -> HttpHlrProvider:
    return HttpHlrProvider(url, SecretStr(token), timeout_s=timeout_s, body_bytes_max=body_bytes_max)


def test_post_lookup_sends_the_number_and_the_bearer_token(server: LoopbackHlr) -> None:
    result = provider(f"{server.url}/api/v2/hlr-lookup").lookup("14156226819")
    assert result == HlrResult(HlrStatus.REACHABLE, network="310260", ported=True)
    [request] = server.seen
    assert (request.method, request.path) == ("POST", "/api/v2/hlr-lookup")
    assert json.loads(request.body) == {"msisdn": "+14156226819"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"


def test_get_lookup_puts_the_number_in_the_url_and_omits_an_empty_token(server: LoopbackHlr) -> None:
    server.respond[0] = lambda _: (200, body({"status": "unknown_subscriber", "network": 20406}), 0.0)
    result = provider(f"{server.url}/hlr/{{msisdn}}?fields=all", token="").lookup("+447700900404")
    assert (result.status, result.error, result.network) == (
        HlrStatus.UNREACHABLE,
        "unknown subscriber",
        "20406",
    )
    [request] = server.seen
    assert (request.method, request.path, request.body) == ("GET", "/hlr/447700900404?fields=all", b"")
    assert "Authorization" not in request.headers


def test_a_server_error_is_a_provider_failure_without_the_token(server: LoopbackHlr) -> None:
    server.respond[0] = lambda _: (503, body({"error": f"bad token {TOKEN}"}), 0.0)
    result = provider(server.url).lookup("447700900123")
    assert result == HlrResult.failed("provider: http:503")
    assert TOKEN not in result.error


def test_a_slow_provider_times_out_as_a_failure(server: LoopbackHlr) -> None:
    server.respond[0] = lambda _: (200, body(HLR_LOOKUPS_CONNECTED), 1.5)
    started = time.monotonic()
    result = provider(server.url, timeout_s=0.3).lookup("447700900123")
    assert time.monotonic() - started < 1.2
    assert result == HlrResult.failed("provider: timeout")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"<html>gateway error</html>", "provider: answer is not JSON"),
        (b'{"connectivity_status": ', "provider: answer is not JSON"),
        (b'"CONNECTED"', "provider: answer is not a JSON object"),
        (b"{}", "provider: no status in the answer"),
        (
            b'{"connectivity_status": "CONNECTED", "pad": "' + b"x" * 5000 + b'"}',
            "provider: http:200 answer too large",
        ),
    ],
)
def test_garbage_answers_are_provider_failures(server: LoopbackHlr, payload: bytes, error: str) -> None:
    server.respond[0] = lambda _: (200, payload, 0.0)
    assert provider(server.url).lookup("447700900123") == HlrResult.failed(error)


def test_nobody_listening_is_a_provider_failure() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    result = provider(f"http://127.0.0.1:{port}/hlr").lookup("447700900123")
    assert result == HlrResult.failed("provider: connection failed")


def test_the_country_and_hlr_controls_share_one_read_of_a_partners_settings() -> None:
    entities = MemoryEntityStore()
    entities.put(PartnerTrafficSettings(partner_id="p1", hlr_check=True, allowed_countries=("44",)))
    reads: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(entities, name)

        def get(self, model: type[Any], entity_id: str) -> Any:
            reads.append(model.__name__)
            return entities.get(model, entity_id)

    partners = PartnerSettingsCache(Counting(), ttl_s=60)
    countries = CountryControl(DestinationRulesCache(Counting(), ttl_s=60, partners=partners))
    hlr = HlrControl(None, MemoryHlrCache(), Counting(), TrafficLimits(), partners=partners)
    for _ in range(3):
        assert countries.check(mt()).findings == ()  # a UK number, allowed
        assert [f.rule_id for f in hlr.check(mt()).findings] == ["not_configured"]  # the switch is on
    assert reads.count("PartnerTrafficSettings") == 1
