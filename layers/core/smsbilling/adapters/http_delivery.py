"""The HTTP transport of partner delivery: one request, bounded in time and size, nothing followed.

:class:`UrllibHandlerClient` implements ``logic.partner_delivery.HandlerClient`` with the
standard library only (``urllib.parse`` for the URL, ``http.client`` for the exchange: the
``urllib.request`` opener cannot enforce a *total* deadline, and it follows redirects and
environment proxies unless each is switched off). What it guarantees:

- only ``http`` and ``https`` URLs with a host; anything else is ``TransportError(INVALID_URL)``;
- TLS certificates and host names are verified (a context with verification off is refused);
- redirects are never followed (the 3xx comes back as a response), no proxy is used;
- ``timeout_s`` bounds the whole exchange: each socket operation has it as its timeout, and a
  watchdog shuts the socket down when it runs out, so a handler dripping one byte at a time is
  cut off too;
- at most ``body_bytes_max + 1`` bytes of the body are read (the ``+ 1`` tells "too large").

Every failure to get a response is a :class:`TransportError`; nothing else escapes.

Not done here (follow-up): SSRF protection. A handler URL may name a private, loopback or
link-local address (the instance metadata endpoint included); the fix is to resolve the host once,
refuse non-public addresses unless allow-listed, and connect to the checked address. DNS
resolution itself is not under the deadline (``getaddrinfo`` has no timeout), and a host with
several addresses gets ``timeout_s`` per connect attempt.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import urlsplit

from smsbilling.domain.handler_protocol import RawResponse, Reason, TransportError


class _Watchdog:
    """Shuts the socket down when the deadline passes: a blocked read then returns end-of-file."""

    def __init__(self, timeout_s: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        """Hold the socket itself: http.client drops ``connection.sock`` once the response has it."""
        self._sock = sock

    def _fire(self) -> None:
        self.fired = True
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket, TLS or not

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()


def _failure(error: Exception, timed_out: bool) -> TransportError:
    detail = f"{type(error).__name__}: {error}"[:200]
    if timed_out or isinstance(error, TimeoutError):
        return TransportError(Reason.TIMEOUT, detail)
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return TransportError(Reason.TLS_FAILED, detail)
    if isinstance(error, OSError):  # refused, reset, unreachable, DNS (gaierror), closed early
        return TransportError(Reason.CONNECTION_FAILED, detail)
    return TransportError(Reason.INVALID_RESPONSE, detail)  # http.client.HTTPException, ValueError


class UrllibHandlerClient:
    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
        if context.verify_mode is not ssl.CERT_REQUIRED or not context.check_hostname:
            raise ValueError("partner delivery verifies TLS certificates and host names")
        self._ssl = context

    def _connection(self, url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise TransportError(Reason.INVALID_URL, str(error)) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(Reason.INVALID_URL, "only http:// and https:// URLs with a host")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            return http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout_s, context=self._ssl
            ), target
        return http.client.HTTPConnection(parts.hostname, port, timeout=timeout_s), target

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        timeout_s: float,
        body_bytes_max: int,
    ) -> RawResponse:
        connection, target = self._connection(url, timeout_s)
        watchdog = _Watchdog(timeout_s)
        try:
            with watchdog:
                connection.connect()  # bounded by the socket timeout; the watchdog needs the socket
                watchdog.watch(connection.sock)
                if watchdog.fired:
                    raise TimeoutError("deadline passed while connecting")
                connection.request(
                    method, target, body=body or None, headers={**headers, "Connection": "close"}
                )
                with connection.getresponse() as response:  # it owns the socket from here on
                    data = response.read(body_bytes_max + 1)
                    if watchdog.fired:  # a body cut short by the watchdog may look complete
                        raise TimeoutError("deadline passed while reading the response")
                    response_headers = {name.lower(): value for name, value in response.getheaders()}
                    return RawResponse(status=response.status, headers=response_headers, body=data)
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _failure(error, watchdog.fired) from None
        finally:
            connection.close()
