"""Delivering an MO to a partner's HTTP handler: one attempt over the :class:`HttpClient` port.

:func:`deliver_mo` builds the signed request (pure), sends it through the port and classifies
what came back (pure). It never sleeps and never loops: a retry is the caller's next invocation,
scheduled by :func:`~smsbilling.domain.handler_protocol.plan_next` (a queue delay in the
delivery consumer), so a slow or failing handler holds one message for at most
``request_timeout_s`` and never blocks other partners' messages.

The port raises only :class:`~smsbilling.domain.handler_protocol.TransportError`; this function
raises nothing for any handler behaviour or configuration: every outcome is a ``DeliveryResult``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smsbilling.domain.entities import HandlerKind, PartnerService
from smsbilling.domain.handler_protocol import (
    DeliveryResult,
    HandlerMo,
    HandlerUrlError,
    Outcome,
    Reason,
    TransportError,
    build_request,
    classify,
    transport_failure,
)
from smsbilling.domain.signing import SignatureError
from smsbilling.ports import HttpClient
from smsbilling.settings import PartnerDeliveryLimits


@dataclass(frozen=True)
class DeliveryRequest:
    mo: HandlerMo
    kind: HandlerKind
    url: str | None
    attempt: int = 1

    @classmethod
    def for_service(cls, mo: HandlerMo, service: PartnerService, attempt: int = 1) -> DeliveryRequest:
        return cls(mo=mo, kind=service.handler_kind, url=service.handler_url, attempt=attempt)


def deliver_mo(
    request: DeliveryRequest,
    *,
    client: HttpClient,
    secrets: Sequence[str],
    now: int,
    limits: PartnerDeliveryLimits,
) -> DeliveryResult:
    """One delivery attempt of ``request.mo`` to the handler, signed with ``secrets`` at ``now``."""
    if request.url is None:
        return DeliveryResult(Outcome.PERMANENT, Reason.INVALID_URL, detail="the service has no handler URL")
    try:
        http = build_request(
            request.mo, request.kind, request.url, secrets=secrets, now=now, attempt=request.attempt
        )
    except HandlerUrlError as error:
        reason = Reason.INVALID_URL if request.kind is not HandlerKind.SMPP else Reason.NOT_HTTP
        return DeliveryResult(Outcome.PERMANENT, reason, detail=str(error))
    except SignatureError as error:
        return DeliveryResult(Outcome.PERMANENT, Reason.NO_SIGNING_SECRET, detail=error.failure.value)
    try:
        raw = client.send(
            http.method,
            http.url,
            dict(http.headers),
            http.body,
            timeout_s=limits.request_timeout_s,
            body_bytes_max=limits.response_body_bytes_max,
        )
    except TransportError as error:
        return transport_failure(error)
    return classify(raw.status, raw.headers, raw.body, kind=request.kind, now=now, limits=limits)
