"""`make run`'s runner, as a user starts it: the stack, demo data and bridge come up, answer, and stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import smpplib.client

from infra import demo_data
from infra.localcloud import ROOT

pytestmark = pytest.mark.localcloud


def test_run_local_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    env = {**os.environ, "SMSBILLING_RUN_DIR": str(tmp_path)}
    env.pop("AWS_ENDPOINT_URL", None)
    runner = subprocess.Popen(
        [sys.executable, "-m", "infra.run_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack_file = tmp_path / "stack.json"
    try:
        deadline = time.monotonic() + 240
        while not stack_file.exists():
            assert runner.poll() is None, runner.stdout.read() if runner.stdout else ""
            assert time.monotonic() < deadline, "make run did not come up in time"
            time.sleep(0.5)
        info = json.loads(stack_file.read_text())

        health = httpx.get(info["health"], timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        bridge_health = httpx.get(info["bridge"]["health"], timeout=5)
        assert bridge_health.json() == {"status": "ok"}

        # `make demo-mo`: a paid MO through the demo operator, partner and operator SMSC until settled.
        trail = subprocess.run(
            [sys.executable, "-m", "infra.demo_mo", "--text", "abc 1", "--timeout", "90"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert trail.returncode == 0, trail.stdout + trail.stderr
        lines = trail.stdout.splitlines()
        assert "MO routed: service demo-service, charged 150 GBP" in lines[1]
        assert "partner handler: delivered (HTTP 200)" in lines[2]
        assert lines[4].endswith("reply MT delivered: 'Thank you! We got: abc 1' to 447700900123")
        assert "partner demo-partner earned: " in lines[5]

        # The demo partner sends from its prepaid credits through the partner API.
        sent = httpx.post(
            f"{info['api_base']}/v1/sms",
            json={"service_id": "demo-service", "destination": "+447700900555", "text": "Hello"},
            headers={"Authorization": f"Bearer {demo_data.PARTNER_API_KEY}"},
            timeout=30,
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["credits"] == 1

        host, port = info["bridge"]["smpp"].split(":")
        client = smpplib.client.Client(host, int(port), timeout=10)
        client.connect()
        client.bind_transceiver(
            system_id=demo_data.PARTNER_SMPP_SYSTEM_ID, password=demo_data.PARTNER_SMPP_PASSWORD
        )
        client.send_message(source_addr="BILLING", destination_addr="447700900123", short_message=b"hi")
        assert client.read_pdu().status == 0
        client.unbind()
        client.disconnect()
    finally:
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, output
    assert "stopping" in output
    for pid_line in subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True
    ).stdout.split():
        pytest.fail(f"process {pid_line} outlived make run")
