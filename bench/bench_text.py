"""Text layer throughput: segment plans per second for typical 1-3 part messages.

Run: ``.venv/bin/python bench/bench_text.py [--seconds 1.0]``. Prints one line per case; the lead
records the numbers in docs/performance.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from smsbilling.domain.concat import ConcatInfo, ReassemblyBuffer, split_udh, udh_short_messages
from smsbilling.domain.text import count_segments, decode_payload, fold_keyword, plan_segments

CASES: dict[str, str] = {
    "gsm7 1 part (120 ch)": "Your code is 482913. Thank you for using our service! Reply STOP to opt out. "
    * 1
    + "x" * 44,
    "gsm7 2 parts (250 ch, 4 escapes)": ("Your balance is 12.50 € [ok]. Reply HELP for info. " * 5)[:250],
    "gsm7 2 parts (250 ch, 44 escapes)": ("Price {EUR} 1.50 €, ~balance [ok] " * 8)[:250],
    "gsm7 3 parts (400 ch)": ("Hello from the premium SMS billing platform, ref 12345. " * 8)[:400],
    "ucs2 1 part (60 ch)": ("Привет! Ваш код 482913. Спасибо 😀 " * 2)[:60],
    "ucs2 2 parts (120 ch, emoji)": ("Привет! Ваш код 482913. Спасибо 😀 " * 4)[:120],
    "ucs2 3 parts (190 ch)": ("Здравствуйте, это длинное сообщение. " * 6)[:190],
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` of wall time."""
    calls = 0
    batch = 256
    start = time.perf_counter()
    deadline = start + seconds
    while (now := time.perf_counter()) < deadline:
        for _ in range(batch):
            fn()
        calls += batch
    return calls / (now - start)


def bench_reassembly(seconds: float) -> float:
    """Complete 3-part messages reassembled per second (split UDH, add, decode)."""
    text = CASES["gsm7 3 parts (400 ch)"]
    plan = plan_segments(text, segments_max=10)
    messages = udh_short_messages(plan.segments, ref=7)
    buffer: ReassemblyBuffer[bytes] = ReassemblyBuffer(timeout_s=300, pending_max=10_000)
    counter = iter(range(10**12))

    def one() -> None:
        source = str(next(counter))
        for message in reversed(messages):
            header, payload = split_udh(message)
            assert header.concat is not None
            info = ConcatInfo(header.concat.ref, header.concat.total, header.concat.seq)
            result = buffer.add(source=source, destination="7494", concat=info, part=payload, now=0.0)
        assert result.complete is not None
        decode_payload(b"".join(result.complete.parts), plan.data_coding)

    return rate(one, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per case")
    args = parser.parse_args()
    print(f"{'case':<36} {'parts':>5} {'plan/s':>12} {'count/s':>12} {'decode/s':>12}")
    for name, text in CASES.items():
        plan = plan_segments(text, segments_max=10)
        joined = b"".join(plan.segments)
        plans = rate(lambda text=text: plan_segments(text, segments_max=10), args.seconds)
        counts = rate(lambda text=text: count_segments(text), args.seconds)
        decodes = rate(lambda j=joined, dc=plan.data_coding: decode_payload(j, dc), args.seconds)
        print(f"{name:<36} {plan.count:>5} {plans:>12,.0f} {counts:>12,.0f} {decodes:>12,.0f}")
    folds = rate(lambda: fold_keyword("\u0405\u0422\u041e\u0420"), args.seconds)
    print(f"{'fold_keyword (4 ch Cyrillic)':<36} {'':>5} {folds:>12,.0f}")
    print(f"{'reassemble 3-part GSM MO':<36} {3:>5} {bench_reassembly(args.seconds):>12,.0f}")


if __name__ == "__main__":
    main()
