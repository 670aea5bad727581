"""A tiny HTTP endpoint for the load balancer's health check and for metrics.

``GET /health`` answers 200 while the bridge accepts connections and 503 while it drains;
``GET /metrics`` returns the counters as JSON. Anything else is 404. One request per connection,
bounded request size and read time, so a slow or hostile client cannot hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

REQUEST_BYTES_MAX = 8192
READ_TIMEOUT_S = 5.0


class HealthServer:
    def __init__(self, is_healthy: Callable[[], bool], metrics: Callable[[], dict[str, Any]]) -> None:
        self._is_healthy = is_healthy
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=REQUEST_BYTES_MAX)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            status, body = self._route(head.split(b"\r\n", 1)[0])
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status, body = 400, {"error": "bad request"}
        payload = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    def _route(self, request_line: bytes) -> tuple[int, dict[str, Any]]:
        method, path, _ = request_line.decode("ascii").split(" ", 2)
        if method != "GET":
            return 404, {"error": "not found"}
        if path == "/health":
            healthy = self._is_healthy()
            return (200 if healthy else 503), {"status": "ok" if healthy else "draining"}
        if path == "/metrics":
            return 200, self._metrics()
        return 404, {"error": "not found"}
