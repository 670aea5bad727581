"""The bridge's operator side: client binds to operator SMSCs, fed by the outbound queue.

Composes :class:`LinkRegistry` (links from the entities table, refreshed), the
:class:`OutboundConsumer` (outbound queue -> submit_sm -> SubmitResult -> delete) and the
:class:`DeliverHandler` (deliver_sm -> DlrReceived / accept_mo -> deliver_sm_resp). Everything
blocking (boto3) runs in one bounded thread pool (``io_threads_max``), plus one thread per
poller for the long polls, so a slow AWS call never stalls the event loop.

Drain (SIGTERM): stop receiving, let the commands in hand finish within the drain time, flush
the batched deletes and results, then unbind every link (each lets its window finish first).
What the drain time cuts short is not lost: a command still in hand, or received by a long poll
that returns after the drain, is not deleted and comes back after its visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from smpp_bridge.batching import Batcher
from smpp_bridge.client import Connector, LinkConfig
from smpp_bridge.deliveries import DeliverHandler
from smpp_bridge.links import LinkRegistry, LinkSource, load_links
from smpp_bridge.outbound import OutboundConsumer, QueueReader
from smsbilling.logic.mo_intake import EventPublisher, InboundStore
from smsbilling.settings import Settings

logger = logging.getLogger("smpp_bridge.operators")


class QueueWriter(Protocol):
    def send_batch(self, bodies: Sequence[str]) -> list[int]: ...


class OperatorSide:
    def __init__(
        self,
        settings: Settings,
        *,
        links: LinkSource,
        outbound: QueueReader,
        mt_events: QueueWriter,
        inbound_store: InboundStore,
        mo_events: EventPublisher,
        connect: Callable[[LinkConfig], Connector] | None = None,
        rng: random.Random | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``mt_events`` is the DLR queue (SubmitResult, DlrReceived); ``mo_events`` queues MoReceived."""
        self.settings = settings
        b = settings.bridge
        self._links = links
        self._io = ThreadPoolExecutor(b.io_threads_max, thread_name_prefix="bridge-io")
        self._polls = ThreadPoolExecutor(b.outbound_pollers_count, thread_name_prefix="bridge-poll")
        self.mt_events: Batcher[str] = Batcher(
            mt_events.send_batch, executor=self._io, linger_s=b.queue_linger_s, name="dlr-queue"
        )
        self.deliveries = DeliverHandler(
            store=inbound_store,
            events=mo_events,
            mt_events=self.mt_events,
            executor=self._io,
            redelivery_window_s=b.mo_redelivery_window_s,
            wall_clock=wall_clock,
        )
        self.registry = LinkRegistry(settings.smpp, self.deliveries.for_link, connect=connect, rng=rng)
        self.consumer = OutboundConsumer(
            outbound,
            self.registry,
            publish=self.mt_events.put,
            bridge=b,
            limits=settings.smpp,
            executor=self._io,
            poll_executor=self._polls,
            mt_validity_s=settings.messages.mt_validity_s,
            rng=rng,
            wall_clock=wall_clock,
        )
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> list[str]:
        """Read the links (a failure here fails the start: the bridge would serve no operator)."""
        links = await asyncio.get_running_loop().run_in_executor(self._io, load_links, self._links)
        self.registry.apply(links)
        self.consumer.start()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh(), name="links-refresh")
        logger.info("operator side started", extra={"links": sorted(links)})
        return sorted(links)

    async def refresh(self) -> None:
        links = await asyncio.get_running_loop().run_in_executor(self._io, load_links, self._links)
        self.registry.apply(links)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.bridge.links_refresh_interval_s)
            try:
                await self.refresh()
            except Exception as error:  # keep the links as they are; try again next time
                logger.warning("link refresh failed", extra={"error": repr(error)})

    async def drain(self, timeout_s: float) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.consumer.stop(timeout_s)
        await self.registry.close()
        await self.mt_events.close()
        self._io.shutdown(wait=False)
        self._polls.shutdown(wait=False, cancel_futures=True)

    def metrics(self) -> dict[str, Any]:
        return {
            "links": self.registry.metrics(),
            "outbound": {**asdict(self.consumer.stats), "in_hand": self.consumer.in_hand},
            "deliveries": asdict(self.deliveries.stats),
            "dlr_queue": asdict(self.mt_events.stats),
        }
