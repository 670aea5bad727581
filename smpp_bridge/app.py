"""The bridge process: listeners, health, and a graceful drain, composed from the settings.

Listeners: SMPP, UCP/EMI and CIMD2 (each optionally with TLS), all on one server core
(``server.py``: the same accounts, limits, rate, window and outbox; a per-protocol adapter).
On SIGTERM it stops accepting connections, reports 503 on /health (so the load balancer stops
sending new ones), lets every bind finish its window of accepted submits, unbinds, and exits.
With an :class:`OperatorSide` it also binds out to operator SMSCs and feeds them from the
outbound queue; on SIGTERM that side stops receiving, finishes what it holds and unbinds.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import asdict
from typing import Any

from smpp_bridge.auth import Authenticator
from smpp_bridge.health import HealthServer
from smpp_bridge.operator_side import OperatorSide
from smpp_bridge.outbox import Outbox
from smpp_bridge.server import AdapterFactory, ServerContext, SmppAdapter, serve_connection
from smpp_bridge.server_cimd2 import Cimd2Adapter
from smpp_bridge.server_ucp import UcpAdapter
from smpp_bridge.sinks import MtSink
from smsbilling.domain.entities import SmppAccount
from smsbilling.ports import OutboxStore
from smsbilling.settings import Settings

logger = logging.getLogger("smpp_bridge")


class Bridge:
    def __init__(
        self,
        settings: Settings,
        *,
        accounts: Any,
        sink: MtSink,
        outbox: OutboxStore,
        operators: OperatorSide | None = None,
    ) -> None:
        """``accounts`` has ``get(SmppAccount, system_id)`` (the entity store, blocking I/O)."""
        self.settings = settings
        self.operators = operators
        self._accounts = accounts
        authenticator = Authenticator(
            lookup=self._lookup,
            failures_before_lockout_max=settings.smpp.bind_failures_before_lockout_max,
            lockout_s=settings.smpp.lockout_s,
        )
        self.ctx = ServerContext(
            limits=settings.smpp,
            authenticator=authenticator,
            sink=sink,
            outbox=outbox,
            bridge=settings.bridge,
        )
        self.outbox = Outbox(outbox, self.ctx.wake_outbox)
        self._servers: list[asyncio.Server] = []
        self._health = HealthServer(self._healthy, self.metrics)
        self._draining = False
        self.ports: dict[str, int] = {}

    async def _lookup(self, system_id: str) -> SmppAccount | None:
        account: SmppAccount | None = await asyncio.to_thread(self._accounts.get, SmppAccount, system_id)
        return account

    def _healthy(self) -> bool:
        return not self._draining

    def metrics(self) -> dict[str, Any]:
        return {
            **asdict(self.ctx.stats),
            "binds": self.ctx.authenticator.binds(),
            "open_connections": len(self.ctx.connections),
            "window_in_use": sum(len(c.in_flight) for c in self.ctx.connections),
            "draining": self._draining,
            **({"operators": self.operators.metrics()} if self.operators is not None else {}),
        }

    async def start(self) -> dict[str, int]:
        b = self.settings.bridge
        listeners: tuple[tuple[str, int | None, int | None, AdapterFactory], ...] = (
            ("smpp", b.smpp_port, b.smpp_tls_port, SmppAdapter),
            ("ucp", b.ucp_port, b.ucp_tls_port, UcpAdapter),
            ("cimd2", b.cimd2_port, b.cimd2_tls_port, Cimd2Adapter),
        )
        tls_context: ssl.SSLContext | None = None
        for name, port, tls_port, adapter in listeners:
            if port is not None:
                self.ports[name] = await self._listen(adapter, port)
            if tls_port is not None:
                if tls_context is None:
                    tls_context = self._tls_context(f"{name}_tls_port")
                self.ports[f"{name}_tls"] = await self._listen(adapter, tls_port, tls_context)
        self.ports["health"] = await self._health.start(b.host, b.health_port)
        if self.operators is not None:
            await self.operators.start()
        logger.info("bridge listening", extra={"ports": self.ports})
        return self.ports

    def _tls_context(self, setting: str) -> ssl.SSLContext:
        b = self.settings.bridge
        if not (b.tls_cert_file and b.tls_key_file):
            raise ValueError(f"{setting} needs tls_cert_file and tls_key_file")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(b.tls_cert_file, b.tls_key_file)
        return context

    async def _listen(self, adapter: AdapterFactory, port: int, context: ssl.SSLContext | None = None) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self._draining:
                writer.close()
                return
            await serve_connection(self.ctx, reader, writer, adapter)

        server = await asyncio.start_server(serve, self.settings.bridge.host, port, ssl=context)
        self._servers.append(server)
        port_found: int = server.sockets[0].getsockname()[1]
        return port_found

    async def drain(self) -> None:
        self._draining = True
        for server in self._servers:
            server.close()
        timeout_s = self.settings.bridge.drain_timeout_s
        connections = list(self.ctx.connections)
        drains = [c.drain(timeout_s) for c in connections]
        if self.operators is not None:
            drains.append(self.operators.drain(timeout_s))
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)
        await self._health.stop()
        logger.info("bridge drained", extra={"metrics": self.metrics()})
