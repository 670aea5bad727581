"""Publishing contract messages to the platform's SQS queues (and the in-memory fake beside it).

One method per message kind, each bound to the queue that kind travels on (docs/adr/0004):
``mo`` MoReceived, ``delivery`` MoRouted, ``mt`` MtRequested, ``dlr`` SubmitResult/DlrReceived
(and NotifyMtStatus, the MT-events processor's delayed retry of a status callback),
``outbound`` OutboundSubmit. A send that fails raises: the caller must not acknowledge what it
could not queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from smsbilling.contracts import (
    Contract,
    DlrReceived,
    MoReceived,
    MoRouted,
    MtRequested,
    NotifyMtStatus,
    OutboundSubmit,
    SendMt,
    SubmitResult,
)
from smsbilling.settings import QueueUrls

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_DELAY_S_MAX = 900
SQS_BATCH_MAX = 10


class PublishFailed(Exception):
    """SQS refused some entries of a batch; nothing may be acknowledged for them."""


class SqsEventPublisher:
    def __init__(self, client: SQSClient, queues: QueueUrls) -> None:
        self._client = client
        self._queues = queues

    def _send(self, queue_url: str, message: Contract, delay_s: int = 0) -> None:
        if not queue_url:
            raise PublishFailed(f"no queue configured for {type(message).__name__}")
        self._client.send_message(
            QueueUrl=queue_url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(SQS_DELAY_S_MAX, delay_s)),
        )

    def publish_mo_received(self, event: MoReceived) -> None:
        self._send(self._queues.mo, event)

    def publish_mo_routed(self, command: MoRouted, *, delay_s: int = 0) -> None:
        self._send(self._queues.delivery, command, delay_s)

    def publish_mt_requested(self, command: MtRequested) -> None:
        self._send(self._queues.mt, command)

    def publish_mt_send(self, command: SendMt) -> None:
        self._send(self._queues.mt, command)

    def publish_mt_event(self, event: SubmitResult | DlrReceived) -> None:
        self._send(self._queues.dlr, event)

    def publish_mt_notify(self, command: NotifyMtStatus, *, delay_s: int = 0) -> None:
        self._send(self._queues.dlr, command, delay_s)

    def publish_outbound(self, submits: Sequence[OutboundSubmit]) -> None:
        for start in range(0, len(submits), SQS_BATCH_MAX):
            chunk = submits[start : start + SQS_BATCH_MAX]
            answer = self._client.send_message_batch(
                QueueUrl=self._queues.outbound,
                Entries=[{"Id": str(i), "MessageBody": s.model_dump_json()} for i, s in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise PublishFailed(f"{len(answer['Failed'])} outbound submits not queued")


class MemoryEventPublisher:
    """The fake: every published message in order, per queue, with its delay."""

    def __init__(self) -> None:
        self.mo: list[MoReceived] = []
        self.delivery: list[tuple[MoRouted, int]] = []
        self.mt: list[MtRequested] = []
        self.mt_send: list[SendMt] = []
        self.dlr: list[SubmitResult | DlrReceived] = []
        self.notify: list[tuple[NotifyMtStatus, int]] = []
        self.outbound: list[OutboundSubmit] = []
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise PublishFailed("memory publisher set to fail")

    def publish_mo_received(self, event: MoReceived) -> None:
        self._check()
        self.mo.append(event)

    def publish_mo_routed(self, command: MoRouted, *, delay_s: int = 0) -> None:
        self._check()
        self.delivery.append((command, delay_s))

    def publish_mt_requested(self, command: MtRequested) -> None:
        self._check()
        self.mt.append(command)

    def publish_mt_send(self, command: SendMt) -> None:
        self._check()
        self.mt_send.append(command)

    def publish_mt_event(self, event: SubmitResult | DlrReceived) -> None:
        self._check()
        self.dlr.append(event)

    def publish_mt_notify(self, command: NotifyMtStatus, *, delay_s: int = 0) -> None:
        self._check()
        self.notify.append((command, delay_s))

    def publish_outbound(self, submits: Sequence[OutboundSubmit]) -> None:
        self._check()
        self.outbound.extend(submits)
