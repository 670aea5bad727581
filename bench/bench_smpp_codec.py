"""SMPP core throughput: submit_sm decoded + session-handled + submit_sm_resp encoded, one core.

The server (SMSC-role) session is fed what an ESME keeping W submits outstanding sends: at W=1
each read holds one submit_sm; at W=10/100 a read holds W pipelined submit_sm (as TCP delivers
them). For each RequestReceived the application stub "queues" the message (a no-op) and answers
with submit_sm_resp carrying a fresh message id; the W responses go out in one write. No sockets:
this is the ceiling of the sans-I/O core, which the asyncio layer and the durable queue then eat
into.

A second table runs the whole exchange through *two* sessions (ESME: send_request, then decode
and correlate the responses; SMSC as above), i.e. both ends of the wire in one process.

    .venv/bin/python bench/bench_smpp_codec.py                 # defaults: 100k messages, 5 runs
    .venv/bin/python bench/bench_smpp_codec.py --messages 50000 --repeat 3 --windows 1 10 100
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from smpp_bridge.smpp import (
    BindTransceiver,
    RequestReceived,
    ResponseReceived,
    Role,
    SessionConfig,
    SmppSession,
    SubmitSm,
    SubmitSmResp,
    decode_pdu,
    encode_pdu,
)


def queue_stub(pdu: SubmitSm) -> None:
    """Stands in for the durable queue put."""


def submit(seq: int, text: bytes) -> SubmitSm:
    return SubmitSm(
        seq,
        source_addr_ton=5,
        source_addr="BILLING",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=f"4477009{seq % 100000:05d}",
        esm_class=3,
        registered_delivery=1,
        short_message=text,
    )


def bound_smsc(window: int) -> SmppSession:
    limits = SessionConfig(window_outstanding_max=window)
    session = SmppSession(Role.SMSC, 0.0, limits)
    session.receive_data(encode_pdu(BindTransceiver(1, system_id="bench", password="pw")), 0.0)
    session.accept_bind("bridge")
    return session


def server_run(wire: list[bytes], window: int) -> float:
    """Messages per second through SMSC decode + session + submit_sm_resp encode."""
    messages = len(wire)
    batches = [b"".join(wire[start : start + window]) for start in range(0, messages, window)]
    session = bound_smsc(window)
    written = 0
    next_id = 0
    started = time.perf_counter()
    for chunk in batches:
        out = []
        for event in session.receive_data(chunk, 1.0):
            if type(event) is RequestReceived:
                pdu = event.pdu
                queue_stub(pdu)  # type: ignore[arg-type]
                next_id += 1
                out.append(session.send_response(SubmitSmResp(pdu.sequence_number, 0, format(next_id, "x"))))
        written += len(b"".join(out))
    elapsed = time.perf_counter() - started
    assert next_id == messages and written, (next_id, messages)
    return messages / elapsed


def pair_run(messages: int, window: int, text: bytes) -> float:
    """Messages per second through both sessions (ESME and SMSC) in one process."""
    limits = SessionConfig(window_outstanding_max=window)
    esme = SmppSession(Role.ESME, 0.0, limits)
    smsc = SmppSession(Role.SMSC, 0.0, limits)
    smsc.receive_data(esme.send_request(BindTransceiver(system_id="bench"), 0.0), 0.0)
    esme.receive_data(smsc.accept_bind("bridge"), 0.0)
    template = submit(0, text)
    done = 0
    next_id = 0
    started = time.perf_counter()
    while done < messages:
        burst = min(window, messages - done)
        chunk = b"".join([esme.send_request(template, 1.0, i) for i in range(burst)])
        out = []
        for event in smsc.receive_data(chunk, 1.0):
            if type(event) is RequestReceived:
                next_id += 1
                response = SubmitSmResp(event.pdu.sequence_number, 0, format(next_id, "x"))
                out.append(smsc.send_response(response))
        for event in esme.receive_data(b"".join(out), 1.0):
            if type(event) is ResponseReceived:
                done += 1
    return messages / (time.perf_counter() - started)


def per_call_us(fn: Callable[[], object], count: int = 100_000) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()

    texts = {"17-octet text (Kannel capture)": b"Hello from Kannel", "160-octet GSM text": b"a" * 160}
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{args.messages} messages per run, median of {args.repeat} runs\n")
    columns = " | ".join(f"W={w}" for w in args.windows)
    header = f"| message | {columns} |\n|---|" + "---:|" * len(args.windows)
    print(f"SMSC session (the target): submit_sm/s\n{header}")
    for name, text in texts.items():
        wire = [encode_pdu(submit(seq, text)) for seq in range(2, args.messages + 2)]
        rates = [statistics.median(server_run(wire, w) for _ in range(args.repeat)) for w in args.windows]
        print(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")
    print(f"\nESME + SMSC sessions: submit_sm/s\n{header}")
    for name, text in texts.items():
        n, runs = args.messages, args.repeat
        rates = [statistics.median(pair_run(n, w, text) for _ in range(runs)) for w in args.windows]
        print(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")
    print()

    data = encode_pdu(submit(7, b"Hello from Kannel"))
    resp = SubmitSmResp(7, 0, "0a1b2c3d4e5f")
    print("Per call (µs): ", end="")
    print(
        f"decode submit_sm {per_call_us(lambda: decode_pdu(data)):.2f}, "
        f"encode submit_sm {per_call_us(lambda: encode_pdu(submit(7, b'Hello'))):.2f} (incl. building it), "
        f"encode submit_sm_resp {per_call_us(lambda: encode_pdu(resp)):.2f}"
    )


if __name__ == "__main__":
    main()
