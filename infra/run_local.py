"""`make run`: the whole platform on the embedded local cloud, with demo data, until Ctrl-C.

Starts ministack on loopback, builds and deploys template.yaml into it with SAM, starts the demo
partner's handler and the demo HTTP operator (infra.demo_peers, loopback), loads the demo data wired
to them, starts the demo operator's SMSCs (the operator simulator, smpp_bridge.simulator_main, once
per protocol: SMPP, UCP/EMI and CIMD2) and one OperatorLink to each (``demo-smpp``, ``demo-ucp``,
``demo-cimd2``, all of the demo operator: a reply MT goes back over the link its MO came in on),
starts the bridge process against the deployed queues and tables (it binds to all three and listens
for partners on SMPP, UCP and CIMD2), prints where everything is (also written to
.local/run/stack.json), and stops all of it on Ctrl-C or SIGTERM.

Settings (environment variables):
  SMSBILLING_LOCALCLOUD_PORT     ministack's port (default: a free port)
  SMSBILLING_BRIDGE__SMPP_PORT   the bridge's SMPP port (default: a free port)
  SMSBILLING_BRIDGE__UCP_PORT    the bridge's UCP/EMI port (default: a free port)
  SMSBILLING_BRIDGE__CIMD2_PORT  the bridge's CIMD2 port (default: a free port)
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

# The demo operator's SMSCs (the simulator) and the bridge's account there: local-only credentials.
DEMO_SMPP_LINK_ID = "demo-smpp"
DEMO_UCP_LINK_ID = "demo-ucp"
DEMO_CIMD2_LINK_ID = "demo-cimd2"
DEMO_LINK_IDS = {
    Protocol.SMPP: DEMO_SMPP_LINK_ID,
    Protocol.UCP: DEMO_UCP_LINK_ID,
    Protocol.CIMD2: DEMO_CIMD2_LINK_ID,
}
DEMO_SMSC_SYSTEM_ID = "demobridge"
DEMO_SMSC_PASSWORD = "demosmsc"  # noqa: S105 - at most 8 characters (SMPP 3.4)


def _port(env_name: str) -> int:
    return int(os.environ.get(env_name, "0")) or free_port()


def start_bridge(
    cloud: LocalCloud,
    smpp_port: int,
    health_port: int,
    *,
    ucp_port: int | None = None,
    cimd2_port: int | None = None,
) -> subprocess.Popen[bytes]:
    """The bridge process; ``ucp_port`` / ``cimd2_port`` None: its settings' default (a free port)."""
    env = {
        **os.environ,
        **cloud.function_env(),
        "SMSBILLING_BRIDGE__HOST": "127.0.0.1",
        "SMSBILLING_BRIDGE__SMPP_PORT": str(smpp_port),
        "SMSBILLING_BRIDGE__HEALTH_PORT": str(health_port),
        **({"SMSBILLING_BRIDGE__UCP_PORT": str(ucp_port)} if ucp_port is not None else {}),
        **({"SMSBILLING_BRIDGE__CIMD2_PORT": str(cimd2_port)} if cimd2_port is not None else {}),
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


def start_simulator(
    workdir: Path, protocol: Protocol = Protocol.SMPP
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """A demo operator's SMSC speaking ``protocol`` on free loopback ports (``smpp``: the SMSC
    port whatever the protocol, ``control``: its HTTP control endpoint)."""
    name = "simulator.log" if protocol is Protocol.SMPP else f"simulator-{protocol.value}.log"
    with (workdir / name).open("ab") as log:
        return simulator_main.start_process(
            [
                "--protocol",
                protocol.value,
                "--system-id",
                DEMO_SMSC_SYSTEM_ID,
                "--dlr-delay-s",
                "1",
                "--log-level",
                "INFO",
            ],
            password=DEMO_SMSC_PASSWORD,
            cwd=ROOT,
            log=log,
        )


def put_smpp_link(dynamodb: Any, entities_table: str, operator_id: str, smsc_port: int) -> OperatorLink:
    """An SMPP OperatorLink to the simulator: the bridge binds to it at start."""
    return put_link(dynamodb, entities_table, operator_id, smsc_port, Protocol.SMPP)


def put_link(
    dynamodb: Any,
    entities_table: str,
    operator_id: str,
    smsc_port: int,
    protocol: Protocol,
    *,
    link_id: str | None = None,
) -> OperatorLink:
    """An OperatorLink of ``protocol`` to a simulator (``DEMO_LINK_IDS[protocol]`` unless
    ``link_id``): the bridge binds to it at start, or within its links refresh interval."""
    link = OperatorLink(
        link_id=link_id or DEMO_LINK_IDS[protocol],
        operator_id=operator_id,
        protocol=protocol,
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
    smscs: dict[Protocol, dict[str, int]] | None = None,
    bridge_ports: dict[str, int] | None = None,
    peers: tuple[DemoPartner, DemoOperator] | None = None,
) -> dict[str, object]:
    """What is where. ``smsc``: the SMPP simulator's ports (also ``smscs[Protocol.SMPP]``);
    ``smscs``: each simulator's ports by protocol; ``bridge_ports``: the bridge's ``ucp`` and
    ``cimd2`` listeners."""
    smscs = {**({Protocol.SMPP: smsc} if smsc else {}), **(smscs or {})}
    operator_smscs = {
        protocol.value: {
            "smsc": f"127.0.0.1:{ports['smpp']}",
            "control": f"http://127.0.0.1:{ports['control']}",
            "link_id": DEMO_LINK_IDS[protocol],
        }
        for protocol, ports in smscs.items()
    }
    smpp_smsc = smscs.get(Protocol.SMPP)
    operator_smsc = (  # the SMPP one, as before the other protocols
        {
            "smpp": f"127.0.0.1:{smpp_smsc['smpp']}",
            "control": f"http://127.0.0.1:{smpp_smsc['control']}",
            "link_id": DEMO_SMPP_LINK_ID,
        }
        if smpp_smsc
        else {}
    )
    bridge = {
        "smpp": f"127.0.0.1:{smpp_port}",
        **{name: f"127.0.0.1:{port}" for name, port in (bridge_ports or {}).items()},
        "health": f"http://127.0.0.1:{health_port}/health",
    }
    return {
        "aws_endpoint": cloud.endpoint,
        "api_base": cloud.api_base,
        "health": f"{cloud.api_base}/health",
        "docs": f"{cloud.api_base}/docs",
        "admin_docs": f"{cloud.api_base}/admin/docs",
        "bridge": bridge,
        "operator_smsc": operator_smsc,
        "operator_smscs": operator_smscs,
        "demo_peers": {"partner": peers[0].url, "http_operator": peers[1].url} if peers else {},
        "demo": {
            "operator_http_link": demo.http_link.link_id,
            "operator_http_token": demo.http_link_token,
            "partner_api_key": demo.partner_api_key,
            "admin_api_key": demo.admin_api_key,
            "partner_smpp": {"system_id": demo.smpp_system_id, "password": demo.smpp_password},
            "service": {"prefix": demo.service.prefix, "short_number": demo.short_number.number},
        },
        "details": str(cloud.workdir / "stack.json"),
        "outputs": cloud.outputs,
    }


def _print_banner(info: dict[str, object], demo: demo_data.Demo, api_base: str) -> None:
    bridge, smscs = info["bridge"], info["operator_smscs"]
    assert isinstance(bridge, dict) and isinstance(smscs, dict)
    smsc_lines = "\n".join(
        f"  operator {name.upper():<6}  {ends['smsc']} (simulator, link {ends['link_id']};"
        f" control {ends['control']})"
        for name, ends in smscs.items()
    )
    mo_lines = "\n".join(
        f"  curl -s -X POST {ends['control']}/mo"
        f' -d \'{{"source": "447700900123", "destination": "4444", "text": "ABC {name}"}}\''
        for name, ends in smscs.items()
    )
    print(
        f"""
smsbilling is running on the local cloud ({info["aws_endpoint"]})
  API base URL     {api_base}
  API docs         {info["docs"]}
  admin API docs   {info["admin_docs"]} (admin key: {demo.admin_api_key})
  health           {info["health"]}
  bridge SMPP      {bridge["smpp"]}
  bridge UCP/EMI   {bridge.get("ucp", "-")}
  bridge CIMD2     {bridge.get("cimd2", "-")}
  bridge health    {bridge["health"]}
{smsc_lines}
  details          {info["details"]}

Send a test MO as the demo operator:
  curl -s -X POST {api_base}/operator/links/{demo.http_link.link_id}/mo \\
    -H 'Authorization: Bearer {demo.http_link_token}' -H 'Content-Type: application/json' \\
    -d '{{"operator_message_id": "m-1", "source": "447700900123", "destination": "4444", "text": "ABC 123"}}'

An MO from each of the demo operator's SMSCs (SMPP deliver_sm, UCP OT 52, CIMD2 op 20 to the
bridge; the partner's reply goes back over the same link, and its receipt comes back):
{mo_lines}

Ctrl-C stops everything.""",
        flush=True,
    )


def stop_processes(processes: list[subprocess.Popen[bytes]], *, timeout_s: float) -> None:
    """SIGTERM each still running, wait up to ``timeout_s`` for each, then kill what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    cloud = LocalCloud(name="smsbilling", port=_port("SMSBILLING_LOCALCLOUD_PORT"))
    bridge: subprocess.Popen[bytes] | None = None
    simulators: list[subprocess.Popen[bytes]] = []
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
        smscs: dict[Protocol, dict[str, int]] = {}
        for protocol in DEMO_LINK_IDS:  # one SMSC and one link per protocol, all the demo operator's
            simulator, smscs[protocol] = start_simulator(cloud.workdir, protocol)
            simulators.append(simulator)
            put_link(
                cloud.client("dynamodb"),
                entities_table,
                demo.operator.operator_id,
                smscs[protocol]["smpp"],
                protocol,
            )
        smpp_port, health_port = (
            _port("SMSBILLING_BRIDGE__SMPP_PORT"),
            _port("SMSBILLING_BRIDGE__HEALTH_PORT"),
        )
        bridge_ports = {
            "ucp": _port("SMSBILLING_BRIDGE__UCP_PORT"),
            "cimd2": _port("SMSBILLING_BRIDGE__CIMD2_PORT"),
        }
        bridge = start_bridge(
            cloud, smpp_port, health_port, ucp_port=bridge_ports["ucp"], cimd2_port=bridge_ports["cimd2"]
        )
        info = summary(
            cloud, demo, smpp_port, health_port, smscs=smscs, bridge_ports=bridge_ports, peers=peers
        )
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
        stop_processes([bridge] if bridge is not None else [], timeout_s=15)
        stop_processes(simulators, timeout_s=10)
        for peer in peers or ():
            peer.close()
        cloud.stop()


if __name__ == "__main__":
    main()
