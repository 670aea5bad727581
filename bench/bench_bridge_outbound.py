"""Outbound rate into one operator SMSC: the bridge's outbound consumer against Kannel's bearerbox.

Both push the same kind of message (a 20-octet GSM text, no receipt asked) through one
transceiver bind with the same window into the same SMSC: the operator simulator
(``python -m smpp_bridge.simulator_main``), run as its own process. Each side's queue is filled
*before* the SMSC comes up, so what is timed is only the draining of a full queue into the SMSC:

* **bridge**: N ``OutboundSubmit`` on an in-memory outbound queue (``MemoryQueue``), then the
  :class:`OperatorSide` as the bridge process composes it: pollers receive batches of 10 in a
  thread, the consumer builds each submit_sm, the LinkPool paces it (granted_tps set far above
  what is reached) and windows it, and each result is published (batched) to an in-memory DLR
  queue before the command is deleted (batched).
* **Kannel** (Debian's bearerbox 1.4.5, ``smsc = smpp``, ``max-pending-submits`` = the window,
  log-level 3, no ``throughput`` limit): N messages are put in through smsbox's ``sendsms`` while
  the SMSC is down, so they wait in bearerbox's queue; then the simulator starts on the port
  Kannel keeps reconnecting to.

The rate is measured by the simulator, from its first to its last ``submit_sm`` (its ``/stats``),
the same clock for both. The bridge's end-to-end time (bound -> last command deleted) is shown too.

    .venv/bin/python bench/bench_bridge_outbound.py                       # windows 10 and 100
    .venv/bin/python bench/bench_bridge_outbound.py --messages 20000 --repeat 3 --windows 1 10 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.interop.kannel: the Kannel harness

from smpp_bridge import simulator_main  # noqa: E402
from smpp_bridge.operator_side import OperatorSide  # noqa: E402
from smsbilling.adapters.memory_entities import MemoryEntityStore  # noqa: E402
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore  # noqa: E402
from smsbilling.adapters.sqs_queue import MemoryQueue  # noqa: E402
from smsbilling.contracts import OutboundSubmit  # noqa: E402
from smsbilling.domain.entities import Operator, OperatorLink, Protocol  # noqa: E402
from smsbilling.settings import BridgeSettings, Settings  # noqa: E402
from tests.interop.kannel import HttpSink, SmppBind, free_ports, running_kannel  # noqa: E402

SYSTEM_ID, PASSWORD = "bench", "benchpw"  # the simulator's account for both senders
TEXT = "Hello from the bench"  # 20 GSM characters


def stats(control_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/stats", timeout=5) as response:
        return dict(json.loads(response.read()))


def smsc_rate(s: dict[str, Any]) -> float:
    span = (s["last_submit_at"] or 0.0) - (s["first_submit_at"] or 0.0)
    return (s["submits_accepted"] - 1) / span if span > 0 else float("nan")


def start_smsc(port: int = 0) -> tuple[Any, dict[str, int]]:
    return simulator_main.start_process(
        ["--system-id", SYSTEM_ID, "--port", str(port)], password=PASSWORD, cwd=ROOT
    )


# --------------------------------------------------------------------------- the bridge


async def bridge_run(window: int, messages: int) -> tuple[float, float]:
    simulator, ports = start_smsc()
    try:
        entities = MemoryEntityStore()
        entities.put(Operator(operator_id="op", name="Bench", country_code="44", currency="GBP"))
        entities.put(
            OperatorLink(
                link_id="bench",
                operator_id="op",
                protocol=Protocol.SMPP,
                smpp_host="127.0.0.1",
                smpp_port=ports["smpp"],
                smpp_system_id=SYSTEM_ID,
                smpp_password=PASSWORD,
                granted_tps=10_000_000,
                window_outstanding_max=window,
            )
        )
        outbound, dlr = MemoryQueue(visibility_s=120), MemoryQueue()
        payload = TEXT.encode().hex()
        for i in range(messages):
            command = OutboundSubmit(
                message_id=f"mt-{i}",
                part_index=0,
                link_id="bench",
                source="BILLING",
                source_ton=5,
                source_npi=0,
                destination=f"4477009{i % 100000:05d}",
                esm_class=0,
                data_coding=0,
                registered_delivery=0,
                short_message_hex=payload,
            )
            outbound.send(command.model_dump_json())
        settings = Settings(bridge=BridgeSettings(outbound_receive_wait_s=1))
        side = OperatorSide(
            settings,
            links=entities,
            outbound=outbound,
            mt_events=dlr,
            inbound_store=MemoryInboundStore(),
            mo_events=MemoryEventPublisher(),
        )
        await side.start()
        while not side.registry.any_bound():
            await asyncio.sleep(0.001)
        started = time.perf_counter()
        while len(outbound) or side.consumer.stats.accepted < messages:
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        await side.drain(5)
        s = stats(ports["control"])
        if s["submits_accepted"] != messages or len(dlr) != messages:
            raise RuntimeError(f"bridge: {s['submits_accepted']} accepted, {len(dlr)} results of {messages}")
        return smsc_rate(s), messages / elapsed
    finally:
        simulator.terminate()
        simulator.wait(10)


# --------------------------------------------------------------------------- Kannel


def kannel_run(window: int, messages: int, workdir: Path) -> float:
    [smsc_port] = free_ports(1)
    bind = SmppBind(smsc_port, SYSTEM_ID, PASSWORD, smsc_id="bench", max_pending_submits=window)
    with HttpSink() as sink, running_kannel(bind, sink, workdir, wait_online=False, log_level=3) as kannel:

        def send(i: int) -> int:
            status, body = kannel.sendsms(f"4477009{i % 100000:05d}", TEXT)
            if status != 202:
                raise RuntimeError(f"sendsms refused: {status} {body}")
            return status

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(messages)))  # queued in bearerbox: the SMSC is not up yet
        simulator, ports = start_smsc(smsc_port)
        try:
            deadline = time.monotonic() + 60 + messages / 500
            while (s := stats(ports["control"]))["submits_accepted"] < messages:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kannel: {s['submits_accepted']} of {messages} within the time")
                time.sleep(0.05)
            time.sleep(0.5)
            s = stats(ports["control"])
            if s["submits_accepted"] != messages:
                raise RuntimeError(f"Kannel sent {s['submits_accepted']} for {messages} messages")
            return smsc_rate(s)
        finally:
            simulator.terminate()
            simulator.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--no-kannel", action="store_true")
    args = parser.parse_args()
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"# {args.messages} messages per run, median of {args.repeat}; rates in submit_sm/s at the SMSC")
    for window in args.windows:
        bridge = [asyncio.run(bridge_run(window, args.messages)) for _ in range(args.repeat)]
        at_smsc = statistics.median(r for r, _ in bridge)
        end_to_end = statistics.median(e for _, e in bridge)
        line = f"window={window:4d}: bridge {at_smsc:8,.0f} (end to end {end_to_end:,.0f})"
        if not args.no_kannel:
            with tempfile.TemporaryDirectory(prefix="bench-kannel-") as tmp:
                kannel = [kannel_run(window, args.messages, Path(tmp) / str(i)) for i in range(args.repeat)]
            k = statistics.median(kannel)
            line += f"   Kannel {k:8,.0f}   ratio {at_smsc / k:5.2f}x"
            line += f"   (runs: bridge {', '.join(f'{r:,.0f}' for r, _ in bridge)}; "
            line += f"Kannel {', '.join(f'{r:,.0f}' for r in kannel)})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
