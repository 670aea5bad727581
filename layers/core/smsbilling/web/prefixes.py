"""Partner API: is a prefix free? (logic/services.py, docs/partner-api.md "Prefixes").

``GET /v1/prefixes/{prefix}/availability?short_numbers=<id>,<id>`` (``services:read``) answers 200
with the verdict for the word (invalid, reserved, forbidden) and for each short number given
(taken, yours, unknown_short_number). Without ``short_numbers`` only the word is checked. It is a
snapshot: the prefix is leased only when a service takes it (``POST /v1/services``), where a
concurrent lease of the same prefix makes exactly one of the two win.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from smsbilling.domain.api_scopes import Scope
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic import services
from smsbilling.web.account_deps import caller, deps, problem_of, responses

router = Router()  # type: ignore[no-untyped-call]


class NumberAvailabilityView(BaseModel):
    short_number_id: str
    available: bool
    reason: str | None = Field(description="taken, yours, unknown_short_number, reserved, forbidden, invalid")
    service_id: str | None = Field(description="reason yours: your service holding it")


class AvailabilityView(BaseModel):
    prefix: str
    folded: str = Field(description="the form matched against MOs: case and look-alikes folded")
    available: bool
    reason: str | None = Field(
        description="invalid, reserved, forbidden, taken or yours; null when available"
    )
    detail: str | None
    short_numbers: list[NumberAvailabilityView]


@router.get(
    "/v1/prefixes/<prefix>/availability",
    summary="Check whether a prefix can be leased",
    tags=["services"],
    responses=responses(
        (200, "The verdict, for the word and each short number."),
        {
            403: "The key lacks services:read, or the account is not active (e-mail not confirmed).",
            422: "Invalid request: too many short numbers.",
        },
    ),
)
def availability(
    prefix: Annotated[str, Path(min_length=1, max_length=64)],
    short_numbers: Annotated[str | None, Query(max_length=2000, description="comma-separated ids")] = None,
) -> AvailabilityView:
    _, partner = caller(router, Scope.SERVICES_READ)
    numbers = [n.strip() for n in (short_numbers or "").split(",") if n.strip()]
    word = unquote(prefix)  # the path may arrive percent-encoded (non-ASCII prefixes)
    try:
        found = services.prefix_availability(
            partner.partner_id, word, numbers, store=deps().store, limits=deps().limits
        )
    except accounts.AccountError as error:
        raise problem_of(error) from None
    return AvailabilityView(
        prefix=found.prefix,
        folded=found.folded,
        available=found.available,
        reason=found.reason,
        detail=found.detail,
        short_numbers=[
            NumberAvailabilityView(
                short_number_id=n.short_number_id,
                available=n.available,
                reason=n.reason,
                service_id=n.service_id,
            )
            for n in found.short_numbers
        ],
    )
