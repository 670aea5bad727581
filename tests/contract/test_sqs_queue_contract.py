"""One contract for the bridge's queue adapter: the in-memory fake and SQS on the local cloud.

What the bridge relies on: a received message stays invisible for the visibility asked, comes back
with a higher receive count unless deleted, a changed visibility is honoured, batch calls report
per entry, and a long poll returns as soon as a message arrives.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from smsbilling.adapters.sqs_queue import MemoryQueue, SqsQueue

Queue = MemoryQueue | SqsQueue


def _sqs(request: pytest.FixtureRequest) -> SqsQueue:
    client = request.getfixturevalue("stack").client("sqs")
    url = client.create_queue(QueueName=f"contract-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    request.addfinalizer(lambda: client.delete_queue(QueueUrl=url))
    return SqsQueue(client, url)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Queue]] = {
    "memory": lambda request: MemoryQueue(),
    "localcloud": _sqs,
}


@pytest.fixture(params=[pytest.param("memory"), pytest.param("localcloud", marks=pytest.mark.localcloud)])
def queue(request: pytest.FixtureRequest) -> Queue:
    return FACTORIES[request.param](request)


def receive_all(queue: Queue, count: int, *, visibility_s: int = 30, timeout_s: float = 10) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        got += queue.receive(10, 1, visibility_s)
    return got


def test_send_receive_delete(queue: Queue) -> None:
    assert queue.send_batch([f"body-{i}" for i in range(10)]) == []
    got = receive_all(queue, 10)
    assert sorted(m.body for m in got) == [f"body-{i}" for i in range(10)]
    assert {m.receive_count for m in got} == {1}
    assert len({m.receipt_handle for m in got}) == 10
    assert queue.delete_batch([m.receipt_handle for m in got]) == []
    assert queue.receive(10, 1, 30) == []


def test_an_undeleted_message_comes_back_with_a_higher_count(queue: Queue) -> None:
    queue.send_batch(["again"])
    [first] = receive_all(queue, 1, visibility_s=1)
    assert queue.receive(10, 0, 1) == []  # invisible meanwhile
    [second] = receive_all(queue, 1, visibility_s=30, timeout_s=15)
    assert (second.body, second.receive_count) == ("again", 2)
    assert second.receipt_handle != first.receipt_handle
    assert queue.delete_batch([second.receipt_handle]) == []


def test_change_visibility_makes_it_visible_when_asked(queue: Queue) -> None:
    queue.send_batch(["later", "now"])
    got = {m.body: m for m in receive_all(queue, 2, visibility_s=60)}
    assert (
        queue.change_visibility_batch([(got["now"].receipt_handle, 0), (got["later"].receipt_handle, 60)])
        == []
    )
    [again] = receive_all(queue, 1, visibility_s=60)
    assert again.body == "now" and again.receive_count == 2
    assert queue.receive(10, 1, 60) == []  # "later" stays invisible


def test_a_batch_reports_its_bad_entries(queue: Queue) -> None:
    queue.send_batch(["one"])
    [message] = receive_all(queue, 1)
    bogus = "not-a-receipt-handle"
    assert queue.change_visibility_batch([(bogus, 0), (message.receipt_handle, 30)]) == [0]
    assert queue.delete_batch([message.receipt_handle, bogus]) == [1]


def test_more_than_ten_entries_are_refused(queue: Queue) -> None:
    with pytest.raises(ValueError):
        queue.send_batch([str(i) for i in range(11)])


def test_a_long_poll_returns_when_a_message_arrives(queue: Queue) -> None:
    result: list[Any] = []
    poll = threading.Thread(target=lambda: result.extend(queue.receive(10, 10, 30)))
    started = time.monotonic()
    poll.start()
    time.sleep(0.5)
    queue.send_batch(["wake"])
    poll.join(15)
    assert [m.body for m in result] == ["wake"]
    assert time.monotonic() - started < 8
