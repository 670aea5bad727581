"""Handler and status-callback URLs a partner may register: the SSRF guard, pure.

The platform calls these URLs from inside its own network (Lambda, the bridge on ECS). A URL naming
a private, loopback, link-local (the instance metadata service at 169.254.169.254 and fd00:ec2::254),
carrier-grade NAT, multicast or otherwise non-public address would let a partner make the platform
call into the aggregator's infrastructure, so :func:`check_handler_url` refuses it when the URL is
registered:

- ``https`` only; ``http`` (and https) to a loopback host only when ``allow_loopback`` (the local
  stage, where the demo handler listens on 127.0.0.1);
- no ``user:password@`` (it would be logged, and it is not how callbacks authenticate: they are
  signed, docs/partner-callbacks.md);
- an IP literal must be public (:func:`address_allowed`), in every spelling a resolver accepts:
  dotted decimal, the ``inet_aton`` shorthands (``2130706433``, ``0x7f.1``, ``0177.0.0.1``),
  IPv6 with an embedded IPv4 (mapped, NAT64, 6to4);
- a host name must be a syntactically valid public DNS name: at least two labels, a last label
  that is not numeric, not an internal suffix (``localhost``, ``.local``, ``.internal``, ...).

What this cannot see: a public-looking name whose DNS answer is a private address (or changes to
one later: DNS rebinding). The delivery transport must resolve the host, check every address with
:func:`address_allowed` and connect to the address it checked; see adapters/http_delivery.py.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

type IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

URL_CHARS_MAX: Final = 2048

_INTERNAL_SUFFIXES: Final = (
    "localhost",
    "local",
    "internal",
    "localdomain",
    "lan",
    "intranet",
    "home.arpa",
    "arpa",
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class UrlRefusal(StrEnum):
    MALFORMED = "malformed"
    TOO_LONG = "too_long"
    SCHEME = "scheme"  # not https (http only to loopback on the local stage)
    CREDENTIALS = "credentials"  # user:password@ in the URL
    HOST = "host"  # missing, invalid, numeric-looking or internal host name
    ADDRESS = "address"  # an IP literal that is not a public unicast address


class HandlerUrlError(ValueError):
    def __init__(self, refusal: UrlRefusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.detail = detail


def address_allowed(address: IpAddress) -> bool:
    """Whether the platform may call this address: public unicast only, embedded IPv4 unwrapped."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_allowed(embedded)
        if address.teredo is not None or address in _NAT64_LOCAL:
            return False
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _legacy_int(part: str) -> int | None:
    """One part of an ``inet_aton`` address: decimal, ``0x`` hex or ``0`` octal."""
    if part.startswith("0x"):
        digits, base = part[2:] or "0", 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    try:
        return int(digits, base)
    except ValueError:
        return None


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as a resolver's ``inet_aton`` would (1-4 parts; the last fills the rest)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_LABEL.match(part) for part in parts):
        return None
    numbers = [_legacy_int(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    return ipaddress.IPv4Address((value << (8 * (4 - len(head)))) | last)


def _host_address(host: str) -> IpAddress | None:
    """The IP a host literal names (IPv6, dotted IPv4 or an inet_aton spelling), else None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise HandlerUrlError(UrlRefusal.HOST, "The host is not a valid IPv6 address.") from None
    return parse_ipv4_loose(host)


def _check_name(host: str) -> None:
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise HandlerUrlError(UrlRefusal.HOST, "The host is not a valid DNS name.")
    if len(labels) < 2:
        raise HandlerUrlError(UrlRefusal.HOST, "The host must be a fully qualified public name.")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise HandlerUrlError(UrlRefusal.HOST, "The host looks like an address but is not a valid one.")
    if any(host == suffix or host.endswith(f".{suffix}") for suffix in _INTERNAL_SUFFIXES):
        raise HandlerUrlError(UrlRefusal.HOST, "The host is an internal name.")


def _is_loopback_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def check_handler_url(url: str, *, allow_loopback: bool, chars_max: int = URL_CHARS_MAX) -> str:
    """``url`` if the platform may call it; :class:`HandlerUrlError` with the reason otherwise.

    ``allow_loopback``: the local stage, where ``http`` and ``https`` to 127.0.0.0/8, ``::1`` and
    ``localhost`` are accepted (and nothing else private is).
    """
    if len(url) > chars_max:
        raise HandlerUrlError(UrlRefusal.TOO_LONG, f"The URL is longer than {chars_max} characters.")
    if not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise HandlerUrlError(UrlRefusal.MALFORMED, "The URL must be ASCII without spaces (punycode IDNs).")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise HandlerUrlError(UrlRefusal.MALFORMED, "The URL cannot be parsed.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise HandlerUrlError(UrlRefusal.SCHEME, "The URL must be https.")
    if "@" in parts.netloc:
        raise HandlerUrlError(UrlRefusal.CREDENTIALS, "The URL must not carry a user or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise HandlerUrlError(UrlRefusal.HOST, "The URL has no host.")
    if "%" in host:
        raise HandlerUrlError(UrlRefusal.ADDRESS, "Addresses with a zone are link-local.")
    address = _host_address(host)
    loopback = address.is_loopback if address is not None else _is_loopback_name(host)
    if loopback and allow_loopback:
        return url
    if address is not None:
        if not address_allowed(address):
            raise HandlerUrlError(UrlRefusal.ADDRESS, "The address is not a public one.")
    else:
        _check_name(host)
    if scheme != "https":
        raise HandlerUrlError(UrlRefusal.SCHEME, "The URL must be https.")
    return url
