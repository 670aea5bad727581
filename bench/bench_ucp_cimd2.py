"""UCP/EMI and CIMD2 core throughput: a submit sent, decoded, answered and correlated, one core.

Both ends of the wire in one process, like the second table of ``bench_smpp_codec.py``: the
client-role session (UCP SMT / CIMD2 SME) numbers and encodes W submits (UCP OT 51, CIMD2 op 03,
GSM text), the SMSC-role session decodes them from one read (``RequestReceived``), the stub
answers each (UCP Ack ``AdC:SCTS``, CIMD2 response with 021 + 060) and the W answers go back in
one write, decoded and correlated by the client session. No sockets: the ceiling of the sans-I/O
cores the bridge's asyncio layer drives. W is at most 100 (UCP) / 127 (CIMD2).

    .venv/bin/python bench/bench_ucp_cimd2.py                 # defaults: 50k messages, 3 runs
    .venv/bin/python bench/bench_ucp_cimd2.py --messages 20000 --repeat 3 --windows 1 10 100
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from smpp_bridge import cimd2, ucp
from smpp_bridge.cimd2 import constants as cc
from smpp_bridge.smpp.rules import Role

TEXT = "Your code is 123456. Reply STOP to opt out."
SCTS_UCP, SCTS_CIMD2 = "010126120000", "260101120000"


def run_ucp(messages: int, window: int) -> float:
    limits = ucp.SessionConfig(
        window_outstanding_max=window, response_timeout_s=1e9, inactivity_timeout_s=1e9
    )
    smsc = ucp.UcpSession(Role.SMSC, 0.0, limits, login_required=False)
    smt = ucp.UcpSession(Role.ESME, 0.0, limits, login_required=False)
    submit = ucp.submit_for_text("447700900123", "4444", TEXT)
    done = 0
    start = time.perf_counter()
    while done < messages:
        burst = min(window, messages - done)
        wire = b"".join(smt.send_request(submit, 0.0, i) for i in range(burst))
        answers = []
        for event in smsc.receive_data(wire, 0.0):
            if isinstance(event, ucp.RequestReceived):
                op = event.operation
                assert isinstance(op, ucp.SubmitShortMessage)
                answers.append(smsc.send_result(ucp.Ack(op.ot, op.trn, sm=f"{op.adc}:{SCTS_UCP}")))
        results = [e for e in smt.receive_data(b"".join(answers), 0.0) if isinstance(e, ucp.ResultReceived)]
        assert len(results) == burst
        done += burst
    return time.perf_counter() - start


def run_cimd2(messages: int, window: int) -> float:
    limits = cimd2.SessionConfig(
        window_outstanding_max=window, response_timeout_s=1e9, inactivity_timeout_s=1e9
    )
    mc = cimd2.Cimd2Session(Role.SMSC, 0.0, limits)
    sme = cimd2.Cimd2Session(Role.ESME, 0.0, limits)
    mc.receive_data(sme.send_request(cimd2.Login(user_identity="bridge", password="pw"), 0.0), 0.0)
    sme.receive_data(mc.accept_login(), 0.0)
    submit = cimd2.submit_for_text("447700900123", "4444", TEXT)
    done = 0
    start = time.perf_counter()
    while done < messages:
        burst = min(window, messages - done)
        wire = b"".join(sme.send_request(submit, 0.0, i) for i in range(burst))
        answers = []
        for event in mc.receive_data(wire, 0.0):
            if isinstance(event, cimd2.RequestReceived):
                p = event.packet
                response = cimd2.Response(
                    p.opcode + cc.RESPONSE_OFFSET,
                    p.number,
                    destination_address="447700900123",
                    mc_timestamp=SCTS_CIMD2,
                )
                answers.append(mc.send_response(response))
        results = [
            e for e in sme.receive_data(b"".join(answers), 0.0) if isinstance(e, cimd2.ResponseReceived)
        ]
        assert len(results) == burst
        done += burst
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(
        f"python {platform.python_version()}, {cpus} cpus, {args.messages} messages, median of {args.repeat}"
    )
    print("| protocol | W | submits/s (both ends, one core) | µs per submit |")
    print("| --- | ---: | ---: | ---: |")
    for name, run in (("UCP/EMI", run_ucp), ("CIMD2", run_cimd2)):
        for window in args.windows:
            elapsed = statistics.median(run(args.messages, window) for _ in range(args.repeat))
            rate = args.messages / elapsed
            print(f"| {name} | {window} | {rate:,.0f} | {1e6 / rate:.1f} |")


if __name__ == "__main__":
    main()
