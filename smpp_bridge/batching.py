"""Join concurrent one-item calls into batch calls (SQS takes up to 10 entries per call).

``await batcher.put(item)`` returns once the batch call that carried the item returned and
reported it done; it raises :class:`BatchFailed` when the call failed or refused that entry, so
the caller never acknowledges what was not done. The first item waits at most ``linger_s`` for
company; several batch calls run at once (``calls_in_flight_max``), each in the given thread pool,
since the calls block (boto3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

BATCH_MAX = 10

logger = logging.getLogger("smpp_bridge.batching")


class BatchFailed(Exception):
    """The entry was not done (the call raised, or refused this entry)."""


@dataclass
class BatchStats:
    calls: int = 0
    items: int = 0
    failed_items: int = 0


class Batcher[T]:
    def __init__(
        self,
        call: Callable[[Sequence[T]], list[int]],
        *,
        executor: Executor | None,
        linger_s: float,
        name: str,
        calls_in_flight_max: int = 8,
    ) -> None:
        """``call(items)`` does the batch and returns the indexes of the items it did not do."""
        self._call = call
        self._executor = executor
        self._linger_s = linger_s
        self.name = name
        self.stats = BatchStats()
        self._waiting: asyncio.Queue[tuple[T, asyncio.Future[None]]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(calls_in_flight_max)
        self._runner: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()

    async def put(self, item: T) -> None:
        await self.put_nowait(item)

    def put_nowait(self, item: T) -> asyncio.Future[None]:
        """Queue ``item``; the future is done when its batch call is (BatchFailed if it was not done)."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name=f"batcher:{self.name}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.put_nowait((item, future))
        return future

    async def close(self) -> None:
        """Finish what was put (the runner takes it all), then stop."""
        while not self._waiting.empty() and self._runner is not None and not self._runner.done():
            await asyncio.sleep(self._linger_s or 0.001)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            if self._waiting.qsize() < BATCH_MAX - 1 and self._linger_s > 0:
                await asyncio.sleep(self._linger_s)  # let concurrent callers join
            while len(batch) < BATCH_MAX and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            await self._slots.acquire()
            task = asyncio.create_task(self._do(batch))
            self._calls.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._calls.discard(task)
        self._slots.release()

    async def _do(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        items = [item for item, _ in batch]
        self.stats.calls += 1
        self.stats.items += len(items)
        try:
            loop = asyncio.get_running_loop()
            failed = set(await loop.run_in_executor(self._executor, self._call, items))
            reason = f"{self.name}: entry refused"
        except Exception as error:  # any failure of the call: nothing in this batch counts as done
            failed = set(range(len(items)))
            reason = f"{self.name}: {type(error).__name__}"
            logger.warning("batch call failed", extra={"batcher": self.name, "error": repr(error)})
        self.stats.failed_items += len(failed)
        for i, (_, future) in enumerate(batch):
            if future.done():  # the caller went away
                continue
            if i in failed:
                future.set_exception(BatchFailed(reason))
            else:
                future.set_result(None)
