"""`make run`: the whole platform on the embedded local cloud, with demo data, until Ctrl-C.

Starts ministack on loopback, builds and deploys template.yaml into it with SAM, starts the demo
partner's handler and the demo HTTP operator (infra.demo_peers, loopback), loads the demo data wired
to them, starts the demo operator's SMSC (the operator simulator, smpp_bridge.simulator_main) and
an SMPP OperatorLink to it, starts the bridge process against the deployed queues and tables (it
binds to the simulator), prints where everything is (also written to .local/run/stack.json), and
stops all of it on Ctrl-C or SIGTERM.

Settings (environment variables):
  SMSBILLING_LOCALCLOUD_PORT     ministack's port (default: a free port)
  SMSBILLING_BRIDGE__SMPP_PORT   the bridge's SMPP port (default: a free port)
  SMSBILLING_BRIDGE__HEALTH_PORT the bridge's health/metrics HTTP port (default: a free port)
  SMSBILLING_RUN_DIR             where logs, builds and stack.json go (default: .local/run)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from infra import demo_data
from infra.demo_peers import DemoOperator, DemoPartner
from infra.localcloud import ROOT, LocalCloud, LocalCloudError, free_port, http_ok
from smpp_bridge import simulator_main
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.domain.entities import OperatorLink, Protocol

# The demo operator's SMSC (the simulator) and the bridge's account there: local-only credentials.
DEMO_SMPP_LINK_ID = "demo-smpp"
DEMO_SMSC_SYSTEM_ID = "demobridge"
DEMO_SMSC_PASSWORD = "demosmsc"  # noqa: S105 - at most 8 characters (SMPP 3.4)


def _port(env_name: str) -> int:
    return int(os.environ.get(env_name, "0")) or free_port()


def start_bridge(cloud: LocalCloud, smpp_port: int, health_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **cloud.function_env(),
        "SMSBILLING_BRIDGE__HOST": "127.0.0.1",
        "SMSBILLING_BRIDGE__SMPP_PORT": str(smpp_port),
        "SMSBILLING_BRIDGE__HEALTH_PORT": str(health_port),
    }
    log = (cloud.workdir / "bridge.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "smpp_bridge"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalCloudError(
                f"the bridge exited with {process.returncode}; see {cloud.workdir / 'bridge.log'}"
            )
        if http_ok(f"http://127.0.0.1:{health_port}/health"):
            return process
        time.sleep(0.1)
    process.terminate()
    raise LocalCloudError("the bridge did not become healthy within 15 s")


def start_simulator(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """The demo operator's SMSC on free loopback ports (SMPP and its HTTP control endpoint)."""
    with (workdir / "simulator.log").open("ab") as log:
        return simulator_main.start_process(
            ["--system-id", DEMO_SMSC_SYSTEM_ID, "--dlr-delay-s", "1", "--log-level", "INFO"],
            password=DEMO_SMSC_PASSWORD,
            cwd=ROOT,
            log=log,
        )


def put_smpp_link(dynamodb: Any, entities_table: str, operator_id: str, smsc_port: int) -> OperatorLink:
    """An SMPP OperatorLink to the simulator: the bridge binds to it at start."""
    link = OperatorLink(
        link_id=DEMO_SMPP_LINK_ID,
        operator_id=operator_id,
        protocol=Protocol.SMPP,
        smpp_host="127.0.0.1",
        smpp_port=smsc_port,
        smpp_system_id=DEMO_SMSC_SYSTEM_ID,
        smpp_password=DEMO_SMSC_PASSWORD,
        granted_tps=100,
        window_outstanding_max=10,
    )
    DynamoEntityStore(dynamodb, entities_table).put(link)
    return link


def start_peers(api_base: str) -> tuple[DemoPartner, DemoOperator]:
    """The demo partner's handler and the demo HTTP operator, which reports DLRs to the platform."""
    partner = DemoPartner(secrets=[demo_data.PARTNER_CALLBACK_SECRET])
    operator = DemoOperator(
        demo_data.OPERATOR_MT_TOKEN,
        dlr_url=f"{api_base}/operator/links/{demo_data.HTTP_LINK_ID}/dlr",
        dlr_token=demo_data.HTTP_LINK_TOKEN,
        dlr_delay_s=1.0,
    )
    return partner, operator


def summary(
    cloud: LocalCloud,
    demo: demo_data.Demo,
    smpp_port: int,
    health_port: int,
    *,
    smsc: dict[str, int] | None = None,
    peers: tuple[DemoPartner, DemoOperator] | None = None,
) -> dict[str, object]:
    operator_smsc = (
        {
            "smpp": f"127.0.0.1:{smsc['smpp']}",
            "control": f"http://127.0.0.1:{smsc['control']}",
            "link_id": DEMO_SMPP_LINK_ID,
        }
        if smsc
        else {}
    )
    return {
        "aws_endpoint": cloud.endpoint,
        "api_base": cloud.api_base,
        "health": f"{cloud.api_base}/health",
        "docs": f"{cloud.api_base}/docs",
        "bridge": {"smpp": f"127.0.0.1:{smpp_port}", "health": f"http://127.0.0.1:{health_port}/health"},
        "operator_smsc": operator_smsc,
        "demo_peers": {"partner": peers[0].url, "http_operator": peers[1].url} if peers else {},
        "demo": {
            "operator_http_link": demo.http_link.link_id,
            "operator_http_token": demo.http_link_token,
            "partner_api_key": demo.partner_api_key,
            "partner_smpp": {"system_id": demo.smpp_system_id, "password": demo.smpp_password},
            "service": {"prefix": demo.service.prefix, "short_number": demo.short_number.number},
        },
        "details": str(cloud.workdir / "stack.json"),
        "outputs": cloud.outputs,
    }


def _print_banner(info: dict[str, object], demo: demo_data.Demo, api_base: str) -> None:
    bridge, smsc = info["bridge"], info["operator_smsc"]
    assert isinstance(bridge, dict) and isinstance(smsc, dict)
    print(
        f"""
smsbilling is running on the local cloud ({info["aws_endpoint"]})
  API base URL     {api_base}
  API docs         {info["docs"]}
  health           {info["health"]}
  bridge SMPP      {bridge["smpp"]}
  bridge health    {bridge["health"]}
  operator SMSC    {smsc.get("smpp", "-")} (simulator; control {smsc.get("control", "-")})
  details          {info["details"]}

Send a test MO as the demo operator:
  curl -s -X POST {api_base}/operator/links/{demo.http_link.link_id}/mo \\
    -H 'Authorization: Bearer {demo.http_link_token}' -H 'Content-Type: application/json' \\
    -d '{{"operator_message_id": "m-1", "source": "447700900123", "destination": "4444", "text": "ABC 123"}}'

An MO from the demo operator's SMSC (it reaches the bridge as deliver_sm):
  curl -s -X POST {smsc.get("control", "-")}/mo \\
    -d '{{"source": "447700900123", "destination": "4444", "text": "ABC 7"}}'

Ctrl-C stops everything.""",
        flush=True,
    )


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    cloud = LocalCloud(name="smsbilling", port=_port("SMSBILLING_LOCALCLOUD_PORT"))
    bridge: subprocess.Popen[bytes] | None = None
    simulator: subprocess.Popen[bytes] | None = None
    peers: tuple[DemoPartner, DemoOperator] | None = None
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job may inherit SIG_IGN
        signal.signal(signum, _raise_interrupt)
    try:
        print(f"starting the local cloud on {cloud.endpoint or '127.0.0.1'} ...", flush=True)
        cloud.start()
        print("building and deploying template.yaml with sam ...", flush=True)
        cloud.deploy()
        peers = start_peers(cloud.api_base)
        entities_table = cloud.outputs["EntitiesTableName"]
        demo = demo_data.load(
            cloud.client("dynamodb"),
            entities_table,
            partner_url=peers[0].url,
            operator_mt_url=f"{peers[1].url}/mt",
            ledger_table=cloud.outputs["LedgerTableName"],
        )
        simulator, smsc = start_simulator(cloud.workdir)
        put_smpp_link(cloud.client("dynamodb"), entities_table, demo.operator.operator_id, smsc["smpp"])
        smpp_port, health_port = (
            _port("SMSBILLING_BRIDGE__SMPP_PORT"),
            _port("SMSBILLING_BRIDGE__HEALTH_PORT"),
        )
        bridge = start_bridge(cloud, smpp_port, health_port)
        info = summary(cloud, demo, smpp_port, health_port, smsc=smsc, peers=peers)
        (cloud.workdir / "stack.json").write_text(json.dumps(info, indent=2))
        _print_banner(info, demo, cloud.api_base)
        while bridge.poll() is None:  # Ctrl-C (KeyboardInterrupt) or SIGTERM ends the wait
            time.sleep(0.5)
        print(f"the bridge exited with {bridge.returncode}; see {cloud.workdir / 'bridge.log'}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        print("stopping ...", flush=True)
        if bridge is not None and bridge.poll() is None:
            bridge.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                bridge.wait(timeout=15)
            if bridge.poll() is None:
                bridge.kill()
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                simulator.wait(timeout=10)
            if simulator.poll() is None:
                simulator.kill()
        for peer in peers or ():
            peer.close()
        cloud.stop()


if __name__ == "__main__":
    main()
