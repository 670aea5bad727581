"""``python -m smpp_bridge``: the composition root of the bridge process."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from smpp_bridge.app import Bridge
from smpp_bridge.sinks import SqsBatchSink
from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_outbox import DynamoOutboxStore
from smsbilling.settings import load_settings


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, with the ``extra`` fields; passwords are never passed to loggers."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in self._STANDARD}
        return json.dumps(
            {"level": record.levelname, "logger": record.name, "message": record.getMessage(), **fields},
            default=str,
        )


async def main() -> None:
    settings = load_settings()
    if not settings.queues.mt:
        raise SystemExit("SMSBILLING_QUEUES__MT is not set: the bridge has nowhere to put submits")
    sink = SqsBatchSink(aws.sqs(), settings.queues.mt, linger_s=settings.bridge.queue_linger_s)
    bridge = Bridge(
        settings,
        accounts=DynamoEntityStore(aws.dynamodb(), settings.tables.entities),
        sink=sink,
        outbox=DynamoOutboxStore(aws.dynamodb(), settings.tables.messages),
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
