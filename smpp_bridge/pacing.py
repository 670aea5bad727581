"""Outbound pacing and back-off for the client role, with time passed in (pure, testable).

:class:`SlidingWindowPacer` enforces an operator's granted TPS as a hard cap: at most
``rate_per_s`` sends in *any* interval of one second. A token bucket (``ratelimit.TokenBucket``)
is the right tool to judge a peer's rate, but as a sender's pacer it lets a full bucket plus one
second of refill through within one second, nearly twice the grant, which is exactly what makes
an operator answer ``ESME_RTHROTTLED``. The sliding window keeps the times of the last
``rate_per_s`` sends; a send may go when the oldest of them is at least one second old. For any
window ``[t, t + 1)`` holding sends ``s_1 < ... < s_k`` with ``k > rate``, ``s_k - s_(k - rate)``
would be under one second, which the rule forbids: the cap holds by construction.

:func:`backoff_delay` is exponential back-off with full jitter (AWS architecture blog,
"Exponential Backoff And Jitter"): ``uniform(0, min(cap, base * 2**attempt))``, with the random
source injected so tests and simulations are reproducible.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque

WINDOW_S = 1.0
_ATTEMPT_EXPONENT_MAX = 62  # 2**62 * base overflows no float; min(cap, ...) decides long before
# Added to each pacing sleep: float rounding could otherwise leave a waiter an ulp short of its
# turn, and under a virtual clock an ulp-long sleep may not advance time at all.
SLEEP_SLACK_S = 1e-6


class SlidingWindowPacer:
    """At most ``rate_per_s`` sends in any one-second interval."""

    __slots__ = ("_rate", "_sent")

    def __init__(self, rate_per_s: int) -> None:
        if rate_per_s < 1:
            raise ValueError("rate_per_s must be at least 1")
        self._rate = rate_per_s
        self._sent: deque[float] = deque(maxlen=rate_per_s)

    @property
    def rate_per_s(self) -> int:
        return self._rate

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send may go (0.0: now)."""
        if len(self._sent) < self._rate:
            return 0.0
        return max(0.0, WINDOW_S - (now - self._sent[0]))

    def record(self, now: float) -> None:
        """A send went out at ``now`` (call it only after ``delay(now)`` returned 0.0)."""
        if self.delay(now) > 0.0:
            raise ValueError("send recorded before its turn: the rate cap would be broken")
        self._sent.append(max(now, self._sent[-1]) if self._sent else now)

    def try_take(self, now: float) -> bool:
        """Record a send at ``now`` if one may go; used to judge a peer's rate (the simulator)."""
        if self.delay(now) > 0.0:
            return False
        self.record(now)
        return True


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full-jitter back-off before reconnect ``attempt`` (0 = first retry after a loss)."""
    if attempt < 0 or base_s <= 0 or max_s <= 0:
        raise ValueError("attempt must be >= 0 and the delays positive")
    ceiling = min(max_s, base_s * 2.0 ** min(attempt, _ATTEMPT_EXPONENT_MAX))
    return rng.uniform(0.0, ceiling)


class AsyncPacer:
    """Shares one :class:`SlidingWindowPacer` between the binds of a link, first come first served.

    ``await turn()`` returns when a send may go and records it at that instant: the caller must
    write its PDU before its next ``await``. The clock is the running loop's (``loop.time()``).
    """

    def __init__(self, rate_per_s: int) -> None:
        self._pacer = SlidingWindowPacer(rate_per_s)
        self._lock = asyncio.Lock()

    @property
    def rate_per_s(self) -> int:
        return self._pacer.rate_per_s

    def try_turn(self, now: float) -> bool:
        """Take a turn at ``now`` if nobody is waiting and the cap allows it (recorded); else False."""
        if not self._lock.locked() and self._pacer.delay(now) == 0.0:
            self._pacer.record(now)
            return True
        return False

    async def turn(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._lock.locked() and self._pacer.delay(loop.time()) == 0.0:
            self._pacer.record(loop.time())  # fast path: nobody queued, the cap is not reached
            return
        async with self._lock:
            while (delay := self._pacer.delay(loop.time())) > 0.0:
                await asyncio.sleep(delay + SLEEP_SLACK_S)
            self._pacer.record(loop.time())


class WindowSlots:
    """A FIFO gate of ``size`` slots (the outstanding-request window) with direct hand-off.

    ``asyncio.Semaphore`` would do, but its ``release`` scans past waiters that were woken and
    have not run yet, which is quadratic when a read brings a whole window of responses (measured:
    window 100 ran slower than window 10). Here ``release`` pops the next live waiter and hands it
    the slot: O(1) each.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window needs at least one slot")
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        return self._free

    def try_take(self) -> bool:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # a slot was handed to us as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip the cancelled
                waiter.set_result(None)
                return
        self._free += 1


class BatchedWriter:
    """Coalesces what is written in one loop iteration into one transport write (one syscall).

    A read often brings many PDUs and each answer used to be its own ``send``; batching them
    halves the CPU per message at window 100. ``close`` flushes first, so an answer written just
    before closing (unbind_resp, generic_nack) still goes out.
    """

    __slots__ = ("_chunks", "_loop", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._chunks: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(data)

    def flush(self) -> None:
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks = []
            if not self.writer.is_closing():
                self.writer.write(data)

    def close(self) -> None:
        self.flush()
        self.writer.close()

    def abort(self) -> None:
        self._chunks = []
        self.writer.transport.abort()
