"""`make run`: the whole platform on the embedded local cloud, with demo data, until Ctrl-C.

Starts ministack on loopback, builds and deploys template.yaml into it with SAM, loads the demo
data, starts the bridge process against the deployed queues and tables, prints where everything
is (also written to .local/run/stack.json), and stops all of it on Ctrl-C or SIGTERM.

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

from infra import demo_data
from infra.localcloud import ROOT, LocalCloud, LocalCloudError, free_port, http_ok


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


def summary(cloud: LocalCloud, demo: demo_data.Demo, smpp_port: int, health_port: int) -> dict[str, object]:
    return {
        "aws_endpoint": cloud.endpoint,
        "api_base": cloud.api_base,
        "health": f"{cloud.api_base}/health",
        "docs": f"{cloud.api_base}/docs",
        "bridge": {"smpp": f"127.0.0.1:{smpp_port}", "health": f"http://127.0.0.1:{health_port}/health"},
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
    bridge = info["bridge"]
    assert isinstance(bridge, dict)
    print(
        f"""
smsbilling is running on the local cloud ({info["aws_endpoint"]})
  API base URL     {api_base}
  API docs         {info["docs"]}
  health           {info["health"]}
  bridge SMPP      {bridge["smpp"]}
  bridge health    {bridge["health"]}
  details          {info["details"]}

Send a test MO as the demo operator:
  curl -s -X POST {api_base}/operator/links/{demo.http_link.link_id}/mo \\
    -H 'Authorization: Bearer {demo.http_link_token}' -H 'Content-Type: application/json' \\
    -d '{{"operator_message_id": "m-1", "source": "447700900123", "destination": "4444", "text": "ABC 123"}}'

Ctrl-C stops everything.""",
        flush=True,
    )


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    cloud = LocalCloud(name="smsbilling", port=_port("SMSBILLING_LOCALCLOUD_PORT"))
    bridge: subprocess.Popen[bytes] | None = None
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job may inherit SIG_IGN
        signal.signal(signum, _raise_interrupt)
    try:
        print(f"starting the local cloud on {cloud.endpoint or '127.0.0.1'} ...", flush=True)
        cloud.start()
        print("building and deploying template.yaml with sam ...", flush=True)
        cloud.deploy()
        demo = demo_data.load(cloud.client("dynamodb"), cloud.outputs["EntitiesTableName"])
        smpp_port, health_port = (
            _port("SMSBILLING_BRIDGE__SMPP_PORT"),
            _port("SMSBILLING_BRIDGE__HEALTH_PORT"),
        )
        bridge = start_bridge(cloud, smpp_port, health_port)
        info = summary(cloud, demo, smpp_port, health_port)
        (cloud.workdir / "stack.json").write_text(json.dumps(info, indent=2))
        _print_banner(info, demo, cloud.api_base)
        while bridge.poll() is None:  # Ctrl-C (KeyboardInterrupt) or SIGTERM ends the wait
            time.sleep(0.5)
        print(f"the bridge exited with {bridge.returncode}; see {cloud.workdir / 'bridge.log'}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping ...", flush=True)
        if bridge is not None and bridge.poll() is None:
            bridge.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                bridge.wait(timeout=15)
            if bridge.poll() is None:
                bridge.kill()
        cloud.stop()


if __name__ == "__main__":
    main()
