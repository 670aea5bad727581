"""``python -m smpp_bridge.simulator_main``: the operator SMSC simulator as a standalone process.

``--protocol smpp|ucp|cimd2`` chooses what the SMSC listener speaks (SMPP: ``OperatorSimulator``;
UCP/EMI and CIMD2: ``LinkSimulator``, same control endpoint). Prints one JSON line with its ports
once listening, e.g. ``{"simulator": "listening", "protocol": "smpp", "smpp": 2775, "control":
8775}`` (``smpp`` is the SMSC port whatever the protocol), and stops cleanly on SIGTERM/SIGINT.
Both listeners bind 127.0.0.1 unless told otherwise. The password comes from ``--password`` or,
to keep it out of ``ps``, from the environment variable ``SMSBILLING_SIM_PASSWORD``.

The control endpoint is a tiny HTTP/1.1 server (one request per connection, bounded size and read
time, like ``health.py``):

* ``POST /mo`` with ``{"source": "447700900123", "destination": "12345", "text": "STOP"}`` (and
  optionally ``"system_id"``) queues an MO; 202.
* ``POST /throttle`` with ``{"tps": 5}`` (or ``null``) sets the throttle; 200.
* ``GET /stats`` returns the counters.

:func:`start_process` runs it as a child process (``make run``, the local-cloud tests, benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from smpp_bridge.simulator import IdFormat, OperatorSimulator, SimulatorConfig
from smpp_bridge.simulator_ucp_cimd2 import LinkSimulator, SimProtocol
from smpp_bridge.smpp import SessionConfig

REQUEST_BYTES_MAX = 8192
READ_TIMEOUT_S = 5.0
PASSWORD_ENV = "SMSBILLING_SIM_PASSWORD"  # noqa: S105 (the name of the variable, not a password)
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}

logger = logging.getLogger("smpp_bridge.simulator")


class BadRequest(ValueError):
    pass


class ControlServer:
    def __init__(self, simulator: OperatorSimulator | LinkSimulator) -> None:
        self._sim = simulator
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=REQUEST_BYTES_MAX)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._request(reader), READ_TIMEOUT_S)
        except (BadRequest, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            status, body = 400, {"error": str(error) or type(error).__name__}
        payload = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            raise BadRequest("malformed request line")
        method, path = parts[0], parts[1]
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip()) if value.strip().isdigit() else -1
        if not 0 <= length <= REQUEST_BYTES_MAX:
            raise BadRequest("bad Content-Length")
        body = await reader.readexactly(length) if length else b""
        return await self._route(method, path, body)

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if (method, path) == ("GET", "/stats"):
            return 200, {**asdict(self._sim.stats), "bound": self._sim.bound_count()}
        if (method, path) == ("POST", "/mo"):
            fields = _json_object(body)
            source, destination, text = (_string(fields, key) for key in ("source", "destination", "text"))
            system_id = fields.get("system_id")
            if system_id is not None and not isinstance(system_id, str):
                raise BadRequest("system_id must be a string")
            try:
                await self._sim.inject_mo(source, destination, text, system_id=system_id)
            except ValueError as error:
                raise BadRequest(str(error)) from error
            return 202, {"queued": True}
        if (method, path) == ("POST", "/throttle"):
            tps = _json_object(body).get("tps")
            if tps is not None and (not isinstance(tps, int) or isinstance(tps, bool) or tps < 1):
                raise BadRequest("tps must be a positive integer or null")
            self._sim.throttle(tps)
            return 200, {"throttle_tps": tps}
        return 404, {"error": "not found"}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as error:
        raise BadRequest("body is not JSON") from error
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


def _string(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} must be a non-empty string")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m smpp_bridge.simulator_main", description=__doc__.split("\n")[0]
    )
    p.add_argument("--protocol", choices=["smpp", *(v.value for v in SimProtocol)], default="smpp")
    p.add_argument("--host", default="127.0.0.1", help="SMSC listen address")
    p.add_argument("--port", type=int, default=0, help="SMSC port (0: a free one)")
    p.add_argument("--control-host", default="127.0.0.1")
    p.add_argument("--control-port", type=int, default=0, help="HTTP control port (0: a free one)")
    p.add_argument("--system-id", default="bridge", help="the account the bridge binds with")
    p.add_argument("--password", default=os.environ.get(PASSWORD_ENV, "secret"), help=f"or ${PASSWORD_ENV}")
    p.add_argument("--smsc-system-id", default="opsim")
    p.add_argument("--id-format", choices=[f.value for f in IdFormat], default=IdFormat.DECIMAL.value)
    p.add_argument("--receipt-id-format", choices=[f.value for f in IdFormat], default=None)
    p.add_argument("--delivery-ratio", type=float, default=1.0)
    p.add_argument("--dlr-delay-s", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--throttle-tps", type=int, default=None)
    p.add_argument("--response-delay-s", type=float, default=0.0)
    p.add_argument("--window", type=int, default=10, help="deliver_sm outstanding per bind")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    if not 0.0 <= args.delivery_ratio <= 1.0:
        raise SystemExit("--delivery-ratio must be between 0 and 1")
    return SimulatorConfig(
        accounts={args.system_id: args.password},
        system_id=args.smsc_system_id,
        id_format=IdFormat(args.id_format),
        receipt_id_format=IdFormat(args.receipt_id_format) if args.receipt_id_format else None,
        delivery_ratio=args.delivery_ratio,
        dlr_delay_s=args.dlr_delay_s,
        seed=args.seed,
        throttle_tps=args.throttle_tps,
        submit_response_delay_s=args.response_delay_s,
        window_outstanding_max=args.window,
        session=SessionConfig(),
    )


def start_process(
    args: Sequence[str] = (),
    *,
    password: str,
    cwd: Path | None = None,
    log: IO[bytes] | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 15.0,
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """Start the simulator as a child process; returns it and its ports (``smpp``, ``control``).

    The password goes through the environment, not the command line. ``log`` takes its stderr.
    """
    process = subprocess.Popen(  # noqa: S603 - this interpreter and module, our own arguments
        [sys.executable, "-m", "smpp_bridge.simulator_main", *args],
        cwd=cwd,
        env={**(env if env is not None else os.environ), PASSWORD_ENV: password},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.DEVNULL,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline and process.poll() is None:
        line += process.stdout.readline()
    try:
        ports = json.loads(line)
        return process, {"smpp": int(ports["smpp"]), "control": int(ports["control"])}
    except (ValueError, KeyError, TypeError):
        process.kill()
        process.wait(5)
        raise RuntimeError(f"the simulator did not start (exit {process.returncode}): {line!r}") from None


async def main(args: argparse.Namespace) -> None:
    simulator: OperatorSimulator | LinkSimulator
    if args.protocol == "smpp":
        simulator = OperatorSimulator(config_from(args))
    else:
        simulator = LinkSimulator(SimProtocol(args.protocol), config_from(args))
    control = ControlServer(simulator)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    smpp_port = await simulator.start(args.host, args.port)
    control_port = await control.start(args.control_host, args.control_port)
    listening = {
        "simulator": "listening",
        "protocol": args.protocol,
        "smpp": smpp_port,
        "control": control_port,
    }
    print(json.dumps(listening), flush=True)
    await stop.wait()
    await control.stop()
    await simulator.stop()
    logger.info("simulator stopped", extra={"stats": asdict(simulator.stats)})


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=arguments.log_level.upper())
    asyncio.run(main(arguments))
