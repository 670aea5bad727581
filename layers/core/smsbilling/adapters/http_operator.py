"""Sending MT parts to HTTP operator links: one signed-by-token POST per part (docs/operator-http.md).

:class:`HttpOperatorClient` implements ``ports.OperatorClient`` over the same bounded transport
as partner delivery (:class:`~smsbilling.adapters.http_delivery.UrllibHandlerClient`: one total
deadline, TLS verified, no redirects, no proxy, the body read up to a limit). It turns every
outcome into an :class:`~smsbilling.ports.OperatorAnswer`; nothing raises:

============================================  =========================================
what came back                                answer
============================================  =========================================
2xx with ``{"operator_message_id": "<id>"}``  accepted
2xx with anything else                        refused for good: ``http:200 invalid answer``
408, 429, 5xx; no answer in time; refused     refused for now (the MT processor retries)
3xx, other 4xx; a URL we will not call        refused for good: ``http:<status>``
============================================  =========================================

Why a 2xx without an id is final, not retried: the operator may have taken the part, and sending
it again could reach the handset twice; without an id its receipt cannot be matched, so the MT
ends ``rejected`` and a billed MT's charge is voided (the subscriber is never charged for what
we cannot prove was delivered).
"""

from __future__ import annotations

import json

from smsbilling.adapters.http_delivery import UrllibHandlerClient
from smsbilling.domain.dlr import OPERATOR_ID_CHARS_MAX
from smsbilling.domain.handler_protocol import Reason, TransportError
from smsbilling.ports import HttpClient, OperatorAnswer, OperatorPart
from smsbilling.settings import OperatorMtLimits

USER_AGENT = "smsbilling-mt/1"
_RETRYABLE_STATUSES = frozenset({408, 429})


def request_body(part: OperatorPart) -> bytes:
    """The compact UTF-8 JSON body of one part (``None`` fields left out)."""
    values = part.model_dump(mode="json", exclude_none=True)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_answer(status: int, body: bytes) -> OperatorAnswer:
    """Classify the operator's HTTP answer to one part."""
    if 200 <= status < 300:
        operator_id = _operator_id(body)
        if operator_id is None:
            return OperatorAnswer(accepted=False, error=f"http:{status} invalid answer", permanent=True)
        return OperatorAnswer(accepted=True, operator_message_id=operator_id)
    retryable = status in _RETRYABLE_STATUSES or status >= 500
    return OperatorAnswer(accepted=False, error=f"http:{status}", permanent=not retryable)


def _operator_id(body: bytes) -> str | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    value = document.get("operator_message_id") if isinstance(document, dict) else None
    if not isinstance(value, str) or not value.strip() or len(value) > min(64, OPERATOR_ID_CHARS_MAX):
        return None
    return value.strip()


class HttpOperatorClient:
    def __init__(self, limits: OperatorMtLimits, transport: HttpClient | None = None) -> None:
        self._limits = limits
        self._transport: HttpClient = transport if transport is not None else UrllibHandlerClient()

    def submit(self, url: str, token: str | None, part: OperatorPart) -> OperatorAnswer:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "X-Smsbilling-Message-Id": part.message_id,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            raw = self._transport.send(
                "POST",
                url,
                headers,
                request_body(part),
                timeout_s=self._limits.request_timeout_s,
                body_bytes_max=self._limits.response_body_bytes_max,
            )
        except TransportError as error:
            permanent = error.reason is Reason.INVALID_URL
            return OperatorAnswer(accepted=False, error=str(error)[:200], permanent=permanent)
        if 200 <= raw.status < 300 and len(raw.body) > self._limits.response_body_bytes_max:
            return OperatorAnswer(accepted=False, error=f"http:{raw.status} answer too large", permanent=True)
        return read_answer(raw.status, raw.body)
