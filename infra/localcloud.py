"""The embedded local cloud: ministack on loopback, with the real template built and deployed into it.

The same path devops use against AWS (``sam build`` then ``sam deploy``), pointed at an AWS
emulator through ``AWS_ENDPOINT_URL``. Used by ``make run`` (infra/run_local.py) and by the
integration-test session fixture, each with its own port, stack name and build directory, so both
can run at once on a shared machine.

CLI: ``python -m infra.localcloud up`` deploys and prints the outputs as JSON, then waits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
MINISTACK_PYTHON = ROOT / ".local" / "ministack" / "bin" / "python"
SAM = ROOT / ".local" / "sam" / "bin" / "sam"
DEFAULT_RUN_DIR = ROOT / ".local" / "run"
REGION = "us-east-1"
ARTIFACT_BUCKET = "sam-artifacts"


class LocalCloudError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str) -> bool:
    """True when ``url`` (a loopback http URL we built ourselves) answers 200."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not a loopback URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - checked just above
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment for any AWS client (boto3, SAM CLI) aimed at the local cloud."""
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "SAM_CLI_TELEMETRY": "0",
    }


def _python312_bin_dir() -> str:
    """SAM's python3.12 workflow needs ``python3.12`` on PATH; use the interpreter running us."""
    if sys.version_info[:2] != (3, 12):
        raise LocalCloudError("the local cloud runner must run on Python 3.12 (the Lambda runtime)")
    return str(Path(sys.base_prefix) / "bin")


@dataclass
class LocalCloud:
    """One ministack process and one deployed stack."""

    name: str = "smsbilling"
    port: int = 0
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(
        default_factory=lambda: Path(os.environ.get("SMSBILLING_RUN_DIR", ROOT / ".local" / "run"))
    )
    _process: subprocess.Popen[bytes] | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.endpoint}/_aws/execute-api/{self.outputs['RestApiId']}/Prod"

    @property
    def env(self) -> dict[str, str]:
        return aws_env(self.endpoint)

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 30.0) -> None:
        if not MINISTACK_PYTHON.exists():
            raise LocalCloudError(f"{MINISTACK_PYTHON} is missing: run `make install` first")
        self.port = self.port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"ministack-{self.name}.log").open("wb")
        env = {**os.environ, "BIND_HOST": "127.0.0.1", "GATEWAY_PORT": str(self.port), "LOG_LEVEL": "WARNING"}
        env.pop("AWS_ENDPOINT_URL", None)
        self._process = subprocess.Popen(
            [str(MINISTACK_PYTHON), "-m", "ministack"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its Lambda workers share the group, so stop() ends them too
        )
        self._wait_healthy(timeout_s)

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise LocalCloudError(f"ministack exited with {self._process.returncode}; see {self.workdir}")
            if http_ok(f"{self.endpoint}/_ministack/health"):
                return
            time.sleep(0.1)
        raise LocalCloudError(f"ministack did not answer on {self.endpoint} within {timeout_s} s")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=5)

    # ------------------------------------------------------------------ build and deploy
    def _run(self, args: list[str], *, log_name: str) -> None:
        env = {**os.environ, **self.env, "PATH": f"{_python312_bin_dir()}{os.pathsep}{os.environ['PATH']}"}
        log_path = self.workdir / f"{log_name}-{self.name}.log"
        with log_path.open("wb") as log:
            done = subprocess.run(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace")[-4000:]
            raise LocalCloudError(f"{' '.join(args[:2])} failed ({done.returncode}); {log_path}:\n{tail}")

    def deploy(self) -> dict[str, str]:
        """``sam build`` + ``sam deploy`` of the real template; returns the stack outputs."""
        build_dir = self.workdir / f"build-{self.name}"
        self._run(
            [
                str(SAM),
                "build",
                "--build-dir",
                str(build_dir),
                "--cached",
                "--cache-dir",
                str(self.workdir / "sam-cache"),
            ],
            log_name="sam-build",
        )
        self.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
        overrides = {"Stage": "local", "TraceDisabled": "true", **self.parameter_overrides}
        self._run(
            [
                str(SAM), "deploy",
                "--template-file", str(build_dir / "template.yaml"),
                "--stack-name", self.name,
                "--s3-bucket", ARTIFACT_BUCKET,
                "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
                "--no-confirm-changeset", "--no-fail-on-empty-changeset",
                "--region", REGION,
                "--parameter-overrides", *[f"{key}={value}" for key, value in overrides.items()],
            ],
            log_name="sam-deploy",
        )  # fmt: skip
        stacks = self.client("cloudformation").describe_stacks(StackName=self.name)
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
        return self.outputs

    def client(self, service: str) -> Any:
        """A boto3 client (the project venv's boto3) on this local cloud."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's fixed local credentials
        )

    def describe(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "api_base": self.api_base,
            "stack": self.name,
            "outputs": self.outputs,
        }

    def function_env(self) -> dict[str, str]:
        """What the template gives every function: table names and queue URLs, for local processes."""
        o = self.outputs
        return {
            **self.env,
            "SMSBILLING_STAGE": "local",
            "SMSBILLING_TABLES__ENTITIES": o["EntitiesTableName"],
            "SMSBILLING_TABLES__MESSAGES": o["MessagesTableName"],
            "SMSBILLING_TABLES__LEDGER": o["LedgerTableName"],
            "SMSBILLING_TABLES__COUNTERS": o["CountersTableName"],
            "SMSBILLING_TABLES__IDEMPOTENCY": o["IdempotencyTableName"],
            "SMSBILLING_QUEUES__MO": o["MoQueueUrl"],
            "SMSBILLING_QUEUES__MT": o["MtQueueUrl"],
            "SMSBILLING_QUEUES__DLR": o["DlrQueueUrl"],
            "SMSBILLING_QUEUES__OUTBOUND": o["OutboundQueueUrl"],
            "SMSBILLING_QUEUES__DELIVERY": o["DeliveryQueueUrl"],
            "SMSBILLING_QUEUES__DELIVERY_DEAD_LETTER": o["DeliveryDeadLetterQueueUrl"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMSBILLING_LOCALCLOUD_PORT", "0")))
    parser.add_argument("--stack-name", default="smsbilling")
    args = parser.parse_args()
    cloud = LocalCloud(name=args.stack_name, port=args.port)
    try:
        cloud.start()
        cloud.deploy()
        print(json.dumps(cloud.describe(), indent=2), flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
