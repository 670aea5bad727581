"""An HLR provider over a generic JSON HTTP API (port ``HlrProvider`` in logic/hlr.py).

The request (settings ``traffic.hlr_url``, ``hlr_token``, ``hlr_timeout_s``):

- a URL with ``{msisdn}`` in it: ``GET`` with the E.164 digits put there (URL-encoded);
- any other URL: ``POST`` of ``{"msisdn": "+<digits>"}`` (the shape of hlr-lookups.com's
  ``POST /api/v2/hlr-lookup``);
- ``Authorization: Bearer <token>`` when a token is set. The token is never logged, never put in
  an answer's error text, and not in this object's ``repr``.

The transport is the bounded one of partner delivery (:class:`~smsbilling.adapters.http_delivery.
UrllibHandlerClient`: one total deadline, TLS verified, no redirects, no proxy, the body read up to
a limit). Nothing raises: every failure is ``HlrResult.failed`` (the check then fails open).

The answer follows the documented response object of **hlr-lookups.com** (API v2, ``POST
/hlr-lookup``): ``connectivity_status`` ``CONNECTED`` / ``ABSENT`` / ``INVALID_MSISDN`` /
``UNDETERMINED``, ``mccmnc``, ``is_ported``, ``processing_status`` (``COMPLETED`` or a failure).
Providers that answer with a ``status`` word instead (MessageBird's HLR object: ``active``,
``absent``, ``unknown``, ``failed``, ``sent``; ``network`` as an integer MCC-MNC;
``details.ported`` 0/1) are read too:

==================================================================  ==============================
answer                                                              result
==================================================================  ==============================
``CONNECTED``; ``active``, ``reachable``, ``connected``, ``ok``     reachable
``INVALID_MSISDN``; ``invalid``, ``unknown_subscriber``, ``barred``  unreachable
``ABSENT``; ``absent``                                              unknown, absent subscriber
``UNDETERMINED``; ``unknown``, ``sent``, anything else              unknown (the provider spoke)
``failed``/``error``; ``processing_status`` not ``COMPLETED``       provider failure
non-2xx, no answer in time, not JSON, no status field, too large    provider failure
==================================================================  ==============================
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote

from pydantic import SecretStr

from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.domain.handler_protocol import TransportError
from smsbilling.logic.hlr import HlrResult, HlrStatus, clean_error
from smsbilling.ports import HttpClient
from smsbilling.settings import TrafficLimits

USER_AGENT: Final = "smsbilling-hlr/1"
PLACEHOLDER: Final = "{msisdn}"

_REACHABLE: Final = frozenset({"connected", "active", "reachable", "ok", "delivered"})
_UNREACHABLE: Final = frozenset(
    {"invalid_msisdn", "invalid", "unknown_subscriber", "barred", "unreachable", "not_reachable"}
)
_ABSENT: Final = frozenset({"absent", "absent_subscriber"})
_FAILED: Final = frozenset({"failed", "error", "rejected"})


def read_answer(status: int, body: bytes) -> HlrResult:
    """Classify the provider's HTTP answer to one lookup."""
    if not 200 <= status < 300:
        return HlrResult.failed(f"provider: http:{status}")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return HlrResult.failed("provider: answer is not JSON")
    if not isinstance(document, dict):
        return HlrResult.failed("provider: answer is not a JSON object")
    processing = document.get("processing_status")
    if isinstance(processing, str) and processing.upper() != "COMPLETED":
        return HlrResult.failed(f"provider: processing {processing}")
    word = document.get("connectivity_status", document.get("status"))
    if not isinstance(word, str) or not word.strip():
        return HlrResult.failed("provider: no status in the answer")
    return classify(word, document)


def classify(word: str, document: dict[str, Any]) -> HlrResult:
    """The result of a status ``word`` (either naming) with the document's network and ported flag."""
    word = word.strip().lower().replace(" ", "_")
    if word in _FAILED:
        return HlrResult.failed(f"provider: lookup {word}")
    network, ported = _network(document), _ported(document)
    if word in _REACHABLE:
        return HlrResult(HlrStatus.REACHABLE, network=network, ported=ported)
    if word in _UNREACHABLE:
        return HlrResult(
            HlrStatus.UNREACHABLE, network=network, ported=ported, error=clean_error(word.replace("_", " "))
        )
    if word in _ABSENT:
        return HlrResult(
            HlrStatus.UNKNOWN, network=network, ported=ported, error="absent subscriber", absent=True
        )
    return HlrResult(HlrStatus.UNKNOWN, network=network, ported=ported, error=clean_error(f"status {word}"))


def _network(document: dict[str, Any]) -> str | None:
    value = document.get("mccmnc", document.get("network"))
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isdigit() and 5 <= len(text) <= 6 else None


def _ported(document: dict[str, Any]) -> bool | None:
    details = document.get("details")
    value = document.get("is_ported", document.get("ported"))
    if value is None and isinstance(details, dict):
        value = details.get("ported")
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    return None


class HttpHlrProvider:
    def __init__(
        self,
        url: str,
        token: SecretStr,
        *,
        timeout_s: float,
        body_bytes_max: int,
        transport: HttpClient | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the HLR URL must be http:// or https://")
        self._url = url
        self._token = token
        self._timeout_s = timeout_s
        self._body_bytes_max = body_bytes_max
        self._transport: HttpClient = transport if transport is not None else UrllibHandlerClient()

    @classmethod
    def from_limits(cls, limits: TrafficLimits, transport: HttpClient | None = None) -> HttpHlrProvider:
        return cls(
            limits.hlr_url,
            limits.hlr_token,
            timeout_s=limits.hlr_timeout_s,
            body_bytes_max=limits.hlr_response_bytes_max,
            transport=transport,
        )

    def __repr__(self) -> str:
        return (
            f"HttpHlrProvider(url={self._url!r}, token={'***' if self._token.get_secret_value() else ''!r})"
        )

    def lookup(self, msisdn: str) -> HlrResult:
        digits = msisdn.removeprefix("+")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._token.get_secret_value():
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        if PLACEHOLDER in self._url:
            method, url, body = "GET", self._url.replace(PLACEHOLDER, quote(digits, safe="")), b""
        else:
            method, url = "POST", self._url
            body = json.dumps({"msisdn": f"+{digits}"}, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            raw = self._transport.send(
                method, url, headers, body, timeout_s=self._timeout_s, body_bytes_max=self._body_bytes_max
            )
        except TransportError as error:
            return HlrResult.failed(f"provider: {error.reason.value}")
        except Exception as error:  # never raise: the check fails open on any provider trouble
            return HlrResult.failed(f"provider: {type(error).__name__}")
        if len(raw.body) > self._body_bytes_max:
            return HlrResult.failed(f"provider: http:{raw.status} answer too large")
        return read_answer(raw.status, raw.body)
