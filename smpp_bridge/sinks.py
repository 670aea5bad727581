"""Where the bridge puts what it accepts: the durable queues, behind one small port.

A submit is acknowledged to the peer only after :meth:`MtSink.send_mt` returns, i.e. after SQS
has stored the message. The SQS sink batches concurrent sends (up to 10 per SendMessageBatch,
waiting at most ``linger_s`` for company), so a busy bind costs a fraction of a call per message
and an idle one adds at most ``linger_s`` of latency.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from smsbilling.contracts import SendMt

SQS_BATCH_MAX = 10


class SinkUnavailable(Exception):
    """The message was not stored; the peer is told to retry later."""


class MtSink(Protocol):
    async def send_mt(self, command: SendMt) -> None: ...


class MemorySink:
    """The fake: keeps what it was given (tests, benchmarks with the queue stubbed)."""

    def __init__(self) -> None:
        self.sent: list[SendMt] = []
        self.fail = False

    async def send_mt(self, command: SendMt) -> None:
        if self.fail:
            raise SinkUnavailable("memory sink set to fail")
        self.sent.append(command)


class SqsBatchSink:
    """Batches concurrent sends into SendMessageBatch calls, several batches in flight at once."""

    def __init__(
        self, sqs: Any, queue_url: str, *, linger_s: float = 0.005, batches_in_flight_max: int = 8
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._linger_s = linger_s
        self._waiting: asyncio.Queue[tuple[SendMt, asyncio.Future[None]]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(batches_in_flight_max)
        self._runner: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    async def send_mt(self, command: SendMt) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._waiting.put((command, future))
        await future

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            if self._waiting.qsize() < SQS_BATCH_MAX - 1:
                await asyncio.sleep(self._linger_s)  # give concurrent submits a moment to join
            while len(batch) < SQS_BATCH_MAX and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            await self._slots.acquire()
            task = asyncio.create_task(self._send(batch))
            self._sends.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        self._slots.release()

    async def _send(self, batch: list[tuple[SendMt, asyncio.Future[None]]]) -> None:
        entries = [{"Id": str(i), "MessageBody": cmd.model_dump_json()} for i, (cmd, _) in enumerate(batch)]
        try:
            result = await asyncio.to_thread(
                self._sqs.send_message_batch, QueueUrl=self._queue_url, Entries=entries
            )
            failed = {entry["Id"] for entry in result.get("Failed", [])}
        except Exception as error:  # any failure of the queue: nothing in this batch was stored
            failed = {entry["Id"] for entry in entries}
            reason = type(error).__name__
        else:
            reason = "rejected by SQS"
        for i, (_, future) in enumerate(batch):
            if future.done():  # the submitter went away (connection lost)
                continue
            if str(i) in failed:
                future.set_exception(SinkUnavailable(reason))
            else:
                future.set_result(None)
