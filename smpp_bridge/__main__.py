"""``python -m smpp_bridge``: the composition root of the bridge process."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from smpp_bridge.app import Bridge
from smpp_bridge.operator_side import OperatorSide
from smpp_bridge.sinks import SqsBatchSink
from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.adapters.sqs_queue import SqsQueue
from smsbilling.settings import Settings, load_settings


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, with the ``extra`` fields; passwords are never passed to loggers."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in self._STANDARD}
        return json.dumps(
            {"level": record.levelname, "logger": record.name, "message": record.getMessage(), **fields},
            default=str,
        )


def operator_side(settings: Settings, entities: DynamoEntityStore) -> OperatorSide | None:
    """The client role, when the outbound queue is configured (it also needs the DLR and MO queues)."""
    queues = settings.queues
    if not queues.outbound:
        logging.getLogger("smpp_bridge").warning("SMSBILLING_QUEUES__OUTBOUND not set: no operator links")
        return None
    if not (queues.dlr and queues.mo):
        raise SystemExit("the outbound queue needs SMSBILLING_QUEUES__DLR and SMSBILLING_QUEUES__MO too")
    return OperatorSide(
        settings,
        links=entities,
        outbound=SqsQueue(aws.sqs_long_poll(), queues.outbound),
        mt_events=SqsQueue(aws.sqs(), queues.dlr),
        inbound_store=DynamoInboundStore(aws.dynamodb(), settings.tables.messages),
        mo_events=SqsEventPublisher(aws.sqs(), queues),
    )


async def main() -> None:
    settings = load_settings()
    if not settings.queues.mt:
        raise SystemExit("SMSBILLING_QUEUES__MT is not set: the bridge has nowhere to put submits")
    sink = SqsBatchSink(aws.sqs(), settings.queues.mt, linger_s=settings.bridge.queue_linger_s)
    entities = DynamoEntityStore(aws.dynamodb(), settings.tables.entities)
    bridge = Bridge(
        settings,
        accounts=entities,
        sink=sink,
        outbox=DynamoOutboxStore(aws.dynamodb(), settings.tables.messages),
        operators=operator_side(settings, entities),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ports = await bridge.start()
    print(json.dumps({"bridge": "listening", **ports}), flush=True)
    await stop.wait()
    await bridge.drain()
    await sink.close()


if __name__ == "__main__":
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    asyncio.run(main())
