"""Operator links from the entities table: which SMSCs the bridge binds to, kept up to date.

An :class:`~smsbilling.domain.entities.OperatorLink` with ``protocol`` SMPP, UCP or CIMD2,
``enabled`` and an ``smpp_host`` / ``smpp_port`` / ``smpp_system_id`` (the connection fields of
every bridge protocol, despite their names) becomes a :class:`LinkConfig` with that protocol and
one :class:`LinkPool` (one transceiver bind / session). The :class:`LinkRegistry` reads them at
start and every ``links_refresh_interval_s``: a new link is bound, a removed or disabled one unbound after its
window drains, a changed one (address, credentials, TPS, window) rebound with the new settings.
Submits already inside the old pool finish there. A failed read keeps the links as they are.

Passwords travel in ``LinkConfig.password`` (``repr=False``) and are never logged: log lines carry
the link id, host, port and system id only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from smpp_bridge.client import Connector, LinkConfig, LinkPool, OnDeliver
from smsbilling.domain.entities import Operator, OperatorLink
from smsbilling.domain.entities import Protocol as LinkProtocol
from smsbilling.settings import SmppLimits

logger = logging.getLogger("smpp_bridge.links")

BRIDGE_PROTOCOLS = frozenset({LinkProtocol.SMPP, LinkProtocol.UCP, LinkProtocol.CIMD2})


class LinkSource(Protocol):
    """The entity store's lookups the registry needs (blocking: run in a thread)."""

    def operators(self) -> list[Operator]: ...

    def links_of(self, operator_id: str) -> list[OperatorLink]: ...


def link_config(link: OperatorLink) -> LinkConfig | None:
    """The client-role settings of ``link``; None when the bridge does not bind out for it."""
    if link.protocol not in BRIDGE_PROTOCOLS or not link.enabled:
        return None
    if not (link.smpp_host and link.smpp_port and link.smpp_system_id):
        return None
    return LinkConfig(
        link_id=link.link_id,
        host=link.smpp_host,
        port=link.smpp_port,
        system_id=link.smpp_system_id,
        password=link.smpp_password or "",
        system_type=link.smpp_system_type,
        granted_tps=link.granted_tps,
        window_outstanding_max=link.window_outstanding_max,
        protocol=link.protocol,
    )


def load_links(source: LinkSource) -> dict[str, OperatorLink]:
    """Every SMPP, UCP and CIMD2 link the bridge binds out for, by link id (blocking)."""
    found: dict[str, OperatorLink] = {}
    for operator in source.operators():
        for link in source.links_of(operator.operator_id):
            if link_config(link) is not None:
                found[link.link_id] = link
    return found


class LinkRegistry:
    def __init__(
        self,
        limits: SmppLimits,
        on_deliver_for: Callable[[OperatorLink], OnDeliver],
        *,
        connect: Callable[[LinkConfig], Connector] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``connect(config)``, for tests: how to open a connection for that link (default: TCP)."""
        self._limits = limits
        self._on_deliver_for = on_deliver_for
        self._connect = connect
        self._rng = rng or random.Random()
        self._links: dict[str, tuple[OperatorLink, LinkConfig, LinkPool]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lookups
    def get(self, link_id: str) -> LinkPool | None:
        entry = self._links.get(link_id)
        return entry[2] if entry else None

    def link(self, link_id: str) -> OperatorLink | None:
        entry = self._links.get(link_id)
        return entry[0] if entry else None

    def pools(self) -> list[LinkPool]:
        return [pool for _, _, pool in self._links.values()]

    def any_bound(self) -> bool:
        """Some link can take a submit now (a bound transmitter or transceiver)."""
        return any(pool.can_submit_now() for pool in self.pools())

    def submit_capacity(self) -> int:
        """Submits all links can have outstanding at once (their windows, summed over binds)."""
        return sum(pool.submit_capacity() for pool in self.pools())

    async def wait_change(self, timeout_s: float | None) -> None:
        """Until a bind comes up or goes down, a link is added or removed, or ``timeout_s``."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ changes
    def apply(self, links: dict[str, OperatorLink]) -> None:
        """Make the running pools match ``links`` (the result of :func:`load_links`)."""
        for link_id in list(self._links):
            old_link, old_config, _ = self._links[link_id]
            new = links.get(link_id)
            config = link_config(new) if new is not None else None
            if config is None or config != old_config:
                self._stop(link_id, "removed or disabled" if config is None else "changed")
            elif new is not None and new != old_link:  # e.g. dlr_id_format: no rebind needed
                self._links[link_id] = (new, old_config, self._links[link_id][2])
        for link_id, link in links.items():
            config = link_config(link)
            if config is None or link_id in self._links:
                continue
            connect = self._connect(config) if self._connect is not None else None
            pool = LinkPool(
                config,
                self._limits,
                on_deliver=self._on_deliver_for(link),
                rng=self._rng,
                connect=connect,
                on_change=self._notify,
            )
            self._links[link_id] = (link, config, pool)
            pool.start()
            logger.info(
                "operator link started",
                extra={
                    "link": link_id,
                    "host": config.host,
                    "port": config.port,
                    "system_id": config.system_id,
                    "protocol": config.protocol.value,
                },
            )
        self._notify()

    def _stop(self, link_id: str, why: str) -> None:
        _, config, pool = self._links.pop(link_id)
        logger.info("operator link stopping", extra={"link": link_id, "why": why, "host": config.host})
        task = asyncio.get_running_loop().create_task(pool.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Unbind every link (each lets its window finish first)."""
        for link_id in list(self._links):
            self._stop(link_id, "bridge stopping")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._notify()

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for link_id, (_, config, pool) in self._links.items():
            out[link_id] = {
                "bound": len(pool.healthy()),
                "binds": len(pool.links),
                "outstanding": sum(link.outstanding for link in pool.links),
                "granted_tps": config.granted_tps,
                "window_outstanding_max": config.window_outstanding_max,
                "stats": {name: vars(stats) for name, stats in pool.stats().items()},
            }
        return out
