"""Shared builders and the in-memory HttpClient fake for the delivery tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smsbilling.domain.handler_protocol import HandlerMo, RawResponse, TransportError

NOW = 1_718_000_000
SECRET = "whsec_test_0123456789abcdef0123456789"


def make_mo(**overrides: object) -> HandlerMo:
    fields: dict[str, object] = {
        "message_id": "mo_01J0000000000000000000000",
        "msisdn": "+447700900123",
        "short_number": "4444",
        "text": "ABC hello & bye = 100% Привет 😀",
        "operator_id": "demo-mobile",
        "received_at": datetime(2024, 6, 10, 6, 13, 20, 123456, tzinfo=UTC),
        "is_test": False,
        "service_id": "svc-abc",
        "prefix": "ABC",
    }
    fields.update(overrides)
    return HandlerMo.model_validate(fields)


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout_s: float
    body_bytes_max: int


@dataclass
class FakeHandlerClient:
    """Answers each send with the next scripted response, or raises the next scripted error."""

    script: list[RawResponse | TransportError] = field(default_factory=list)
    sent: list[SentRequest] = field(default_factory=list)

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
        self.sent.append(SentRequest(method, url, dict(headers), body, timeout_s, body_bytes_max))
        step = self.script.pop(0)
        if isinstance(step, TransportError):
            raise step
        return RawResponse(step.status, step.headers, step.body[: body_bytes_max + 1])
