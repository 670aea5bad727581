"""Client-role throughput: submit_sm/s through SmscLink into the operator simulator on loopback.

The simulator runs as its own process (``python -m smpp_bridge.simulator_main``), as an operator's
SMSC would, so the number is what one SmscLink (one bind, one asyncio loop, one core) sustains:
window gating, pacing bookkeeping (unlimited TPS here), session numbering and correlation, real
TCP on loopback, and one SubmitOutcome per message. Twice as many submitters as the window keep
it full. ``--receipts`` also asks for DLRs, so the same bind handles a deliver_sm per message.
``--in-process`` runs the simulator in the same loop (both ends share a core).

    .venv/bin/python bench/bench_smpp_link.py                          # windows 10 and 100
    .venv/bin/python bench/bench_smpp_link.py --messages 50000 --repeat 3 --windows 1 10 100 --receipts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from smpp_bridge.client import LinkConfig, SmscLink
from smpp_bridge.simulator import OperatorSimulator, SimulatorConfig
from smpp_bridge.smpp import DataSm, DeliverSm, SubmitSm
from smsbilling.settings import SmppLimits

ROOT = Path(__file__).resolve().parent.parent


def pdu(i: int, receipts: bool) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=5,
        source_addr="BILLING",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=f"4477009{i % 100000:05d}",
        esm_class=3,
        registered_delivery=1 if receipts else 0,
        short_message=b"Hello from the bench",
    )


async def run_link(port: int, window: int, messages: int, receipts: bool) -> tuple[float, Counter[str]]:
    delivered = 0

    async def on_deliver(_: DeliverSm | DataSm) -> None:
        nonlocal delivered
        delivered += 1

    config = LinkConfig(
        "bench", "127.0.0.1", port, "bridge", "secret", granted_tps=None, window_outstanding_max=window
    )
    link = SmscLink(config, SmppLimits(), on_deliver=on_deliver, rng=random.Random(1))
    link.start()
    while not link.is_bound:
        await asyncio.sleep(0.005)
    kinds: Counter[str] = Counter()
    queue = iter(range(messages))

    async def submitter() -> None:
        for i in queue:
            kinds[(await link.submit(pdu(i, receipts))).kind.value] += 1

    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(2 * window)))
    elapsed = time.perf_counter() - started
    if receipts:
        while delivered < messages and time.perf_counter() - started < elapsed * 10 + 10:
            await asyncio.sleep(0.01)
        kinds["receipts"] = delivered
    await link.close()
    return elapsed, kinds


async def in_process(window: int, messages: int, receipts: bool) -> tuple[float, Counter[str]]:
    sim = OperatorSimulator(SimulatorConfig())
    port = await sim.start()
    try:
        return await run_link(port, window, messages, receipts)
    finally:
        await sim.stop()


def separate_process(window: int, messages: int, receipts: bool) -> tuple[float, Counter[str]]:
    command = [sys.executable, "-m", "smpp_bridge.simulator_main", "--window", str(max(window, 10))]
    env = {**os.environ, "SMSBILLING_SIM_PASSWORD": "secret", "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT) as process:
        try:
            assert process.stdout is not None
            port = json.loads(process.stdout.readline())["smpp"]
            return asyncio.run(run_link(port, window, messages, receipts))
        finally:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--receipts", action="store_true", help="registered_delivery=1: a DLR per message")
    parser.add_argument("--in-process", action="store_true", help="simulator in the same event loop")
    args = parser.parse_args()
    where = "same process" if args.in_process else "separate process"
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; simulator: {where}")
    print(f"# {args.messages} messages per run, median of {args.repeat}, receipts={args.receipts}")
    for window in args.windows:
        rates, kinds = [], Counter[str]()
        for _ in range(args.repeat):
            if args.in_process:
                elapsed, kinds = asyncio.run(in_process(window, args.messages, args.receipts))
            else:
                elapsed, kinds = separate_process(window, args.messages, args.receipts)
            rates.append(args.messages / elapsed)
        print(
            f"window={window:4d}: {statistics.median(rates):8,.0f} submit_sm/s "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}) outcomes of the last run: {dict(kinds)}"
        )


if __name__ == "__main__":
    main()
