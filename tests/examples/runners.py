"""How the example scripts are run: which languages this machine has, and servers on free ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PHP = shutil.which("php")
CURL = shutil.which("curl")
BASH = shutil.which("bash")

# Python, bash and curl are on every machine the project runs on; PHP is not (the make targets do
# not install it): its examples run where it is installed.
HANDLERS = [pytest.param("python", id="python")] + ([pytest.param("php", id="php")] if PHP else [])
SENDERS = [pytest.param("python", id="python"), pytest.param("curl", id="curl")] + (
    [pytest.param("php", id="php")] if PHP else []
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the handler exited with {process.returncode}: {process.stderr!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s")


@contextmanager
def handler_server(language: str, secrets: list[str]) -> Iterator[str]:
    """The example handler of ``language`` on a free loopback port; its base URL."""
    port = free_port()
    env = {**os.environ, "SMSBILLING_CALLBACK_SECRETS": ",".join(secrets)}
    if language == "python":
        command = [sys.executable, str(EXAMPLES / "python" / "handler.py"), "--port", str(port)]
    else:
        assert PHP is not None
        command = [PHP, "-S", f"127.0.0.1:{port}", str(EXAMPLES / "php" / "handler.php")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_sender(language: str, base_url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the example that sends an SMS (``args``: service id, destination, text)."""
    env = {**os.environ, "SMSBILLING_API_BASE": base_url, "SMSBILLING_API_KEY": key}
    if language == "python":
        command = [sys.executable, str(EXAMPLES / "python" / "send_sms.py"), *args]
    elif language == "curl":
        assert BASH is not None and CURL is not None, "bash and curl run the curl example"
        command = [BASH, str(EXAMPLES / "curl" / "smsbilling.sh"), "send", *args]
    else:
        assert PHP is not None
        command = [PHP, str(EXAMPLES / "php" / "send_sms.php"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def run_curl(base_url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert BASH is not None and CURL is not None, "bash and curl run the curl example"
    env = {**os.environ, "SMSBILLING_API_BASE": base_url, "SMSBILLING_API_KEY": key}
    command = [BASH, str(EXAMPLES / "curl" / "smsbilling.sh"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
