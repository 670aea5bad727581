"""One SQS queue as a long-running process sees it (the bridge), and its in-memory fake.

Lambda consumers get their records from the event source mapping; the bridge has no such
mapping, so it polls. :class:`SqsQueue` wraps the few calls it needs, all blocking (the bridge
runs them in a thread pool): ``receive`` (long poll, with each message's receive count),
``delete_batch`` and ``change_visibility_batch`` for what it received, and ``send_batch`` for what
it produces. Batch calls return the indexes of the entries SQS did not take, so the caller never
acknowledges what was not stored; a call that fails outright raises.

:class:`MemoryQueue` keeps SQS's semantics that matter to a consumer: a received message is
invisible for the visibility timeout and comes back after it unless deleted, every receive counts,
a message received more than ``max_receive_count`` times moves to ``dead_letters``, and each
receive gives a new receipt handle (an older one no longer deletes). Both pass
``tests/contract/test_sqs_queue_contract.py``. Thread-safe; the clock is injectable.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH_MAX = 10
SQS_WAIT_S_MAX = 20
SQS_VISIBILITY_S_MAX = 43_200


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    body: str
    receipt_handle: str
    receive_count: int  # 1 on the first delivery (SQS ApproximateReceiveCount)
    message_id: str = ""


def _check_batch(size: int) -> None:
    if size > SQS_BATCH_MAX:
        raise ValueError(f"at most {SQS_BATCH_MAX} entries per batch call")


class SqsQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        if not queue_url:
            raise ValueError("no queue URL")
        self._client = client
        self.queue_url = queue_url

    def receive(self, max_messages: int, wait_s: int, visibility_s: int) -> list[ReceivedMessage]:
        answer = self._client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(SQS_BATCH_MAX, max_messages)),
            WaitTimeSeconds=max(0, min(SQS_WAIT_S_MAX, wait_s)),
            VisibilityTimeout=max(0, min(SQS_VISIBILITY_S_MAX, visibility_s)),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            ReceivedMessage(
                body=m["Body"],
                receipt_handle=m["ReceiptHandle"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                message_id=m.get("MessageId", ""),
            )
            for m in answer.get("Messages", [])
        ]

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        if not bodies:
            return []
        _check_batch(len(bodies))
        answer = self._client.send_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
        )
        return sorted(int(entry["Id"]) for entry in answer.get("Failed", []))

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[int]:
        if not receipt_handles:
            return []
        _check_batch(len(receipt_handles))
        answer = self._client.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipt_handles)],
        )
        return sorted(int(entry["Id"]) for entry in answer.get("Failed", []))

    def change_visibility_batch(self, entries: Sequence[tuple[str, int]]) -> list[int]:
        """``(receipt_handle, visibility_s)`` each: visible again after that many seconds."""
        if not entries:
            return []
        _check_batch(len(entries))
        answer = self._client.change_message_visibility_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": max(0, min(SQS_VISIBILITY_S_MAX, s))}
                for i, (h, s) in enumerate(entries)
            ],
        )
        return sorted(int(entry["Id"]) for entry in answer.get("Failed", []))


@dataclass
class _Stored:
    body: str
    message_id: str
    visible_at: float
    receive_count: int = 0
    handle: str = ""
    generation: int = 0  # bumped whenever visible_at changes: older heap entries are stale


class MemoryQueue:
    """The fake. ``fail_sends`` / ``fail_deletes`` make those calls raise (fault tests).

    Visible messages wait in a FIFO, invisible ones in a heap by the time they come back, so a
    receive costs O(batch + due), not O(queue): benchmarks drain 100,000 messages through it.
    """

    def __init__(
        self,
        *,
        visibility_s: int = 30,
        max_receive_count: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_visibility_s = visibility_s
        self.max_receive_count = max_receive_count
        self.dead_letters: list[str] = []
        self.sent_count = 0
        self.fail_sends = False
        self.fail_deletes = False
        self._clock = clock
        self._messages: dict[str, _Stored] = {}
        self._ready: deque[tuple[str, int]] = deque()  # (message id, generation)
        self._later: list[tuple[float, int, str, int]] = []  # (visible_at, seq, message id, generation)
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._changed = threading.Condition()

    def _schedule(self, stored: _Stored, visible_at: float) -> None:
        stored.generation += 1
        stored.visible_at = visible_at
        heapq.heappush(self._later, (visible_at, next(self._seq), stored.message_id, stored.generation))

    # ------------------------------------------------------------------ producer
    def send(self, body: str, delay_s: int = 0) -> str:
        with self._changed:
            message_id = f"m-{next(self._ids)}"
            stored = _Stored(body, message_id, self._clock())
            self._messages[message_id] = stored
            if delay_s > 0:
                self._schedule(stored, self._clock() + delay_s)
            else:
                self._ready.append((message_id, stored.generation))
            self.sent_count += 1
            self._changed.notify_all()
            return message_id

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        _check_batch(len(bodies))
        if self.fail_sends:
            raise ConnectionError("memory queue set to fail sends")
        for body in bodies:
            self.send(body)
        return []

    # ------------------------------------------------------------------ consumer
    def receive(
        self, max_messages: int, wait_s: int, visibility_s: int | None = None
    ) -> list[ReceivedMessage]:
        deadline = self._clock() + min(SQS_WAIT_S_MAX, wait_s)
        with self._changed:
            while True:
                taken = self._take(max(1, min(SQS_BATCH_MAX, max_messages)), visibility_s)
                remaining = deadline - self._clock()
                if taken or remaining <= 0:
                    return taken
                if self._later:
                    remaining = min(remaining, max(0.0, self._later[0][0] - self._clock()) + 0.001)
                self._changed.wait(remaining)

    def _current(self, message_id: str, generation: int) -> _Stored | None:
        stored = self._messages.get(message_id)
        return stored if stored is not None and stored.generation == generation else None

    def _take(self, limit: int, visibility_s: int | None) -> list[ReceivedMessage]:
        now = self._clock()
        while self._later and self._later[0][0] <= now:
            _, _, message_id, generation = heapq.heappop(self._later)
            if self._current(message_id, generation) is not None:
                self._ready.append((message_id, generation))
        taken: list[ReceivedMessage] = []
        while self._ready and len(taken) < limit:
            stored = self._current(*self._ready.popleft())
            if stored is None:  # deleted, or its visibility changed since
                continue
            if self.max_receive_count is not None and stored.receive_count >= self.max_receive_count:
                del self._messages[stored.message_id]  # SQS moves it on the receive that would exceed
                self.dead_letters.append(stored.body)
                continue
            stored.receive_count += 1
            stored.handle = f"{stored.message_id}/{stored.receive_count}"
            self._schedule(
                stored, now + (self.default_visibility_s if visibility_s is None else visibility_s)
            )
            taken.append(ReceivedMessage(stored.body, stored.handle, stored.receive_count, stored.message_id))
        return taken

    def _by_handle(self, receipt_handle: str) -> _Stored | None:
        message_id = receipt_handle.rsplit("/", 1)[0]
        stored = self._messages.get(message_id)
        return stored if stored is not None and stored.handle == receipt_handle else None

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[int]:
        _check_batch(len(receipt_handles))
        if self.fail_deletes:
            raise ConnectionError("memory queue set to fail deletes")
        failed: list[int] = []
        with self._changed:
            for i, handle in enumerate(receipt_handles):
                stored = self._by_handle(handle)
                if stored is None:
                    failed.append(i)
                else:
                    del self._messages[stored.message_id]
        return failed

    def change_visibility_batch(self, entries: Sequence[tuple[str, int]]) -> list[int]:
        _check_batch(len(entries))
        failed: list[int] = []
        with self._changed:
            for i, (handle, visibility_s) in enumerate(entries):
                stored = self._by_handle(handle)
                if stored is None:
                    failed.append(i)
                else:
                    self._schedule(stored, self._clock() + max(0, visibility_s))
            self._changed.notify_all()
        return failed

    # ------------------------------------------------------------------ inspection (tests)
    def bodies(self) -> list[str]:
        """Every message still on the queue (visible or not), oldest first."""
        with self._changed:
            return [m.body for m in self._messages.values()]

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)
