"""Publishing contract messages to SQS queues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.contracts import MoReceived

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsEventPublisher:
    def __init__(self, client: SQSClient, *, mo_queue_url: str) -> None:
        self._client = client
        self._mo_queue_url = mo_queue_url

    def publish_mo_received(self, event: MoReceived) -> None:
        self._client.send_message(QueueUrl=self._mo_queue_url, MessageBody=event.model_dump_json())
