"""Partner delivery's dead letters: the ``MoRouted`` command, sent to the delivery DLQ with its reason.

The reason travels as message attributes (``reason``, ``detail``), so staff can see why in the
console and redrive the body unchanged once the partner's handler is fixed. A send that fails
raises: the consumer must not acknowledge a command it could neither deliver nor dead-letter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbilling.contracts import MoRouted

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

ATTRIBUTE_CHARS_MAX = 256


class SqsDeliveryDeadLetters:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        if not queue_url:
            raise ValueError("no delivery dead-letter queue configured")
        self._client = client
        self._queue_url = queue_url

    def dead_letter(self, command: MoRouted, reason: str, detail: str) -> None:
        attributes = {"reason": reason or "unknown", "detail": detail or "-"}
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=command.model_dump_json(),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value[:ATTRIBUTE_CHARS_MAX]}
                for name, value in attributes.items()
            },
        )
