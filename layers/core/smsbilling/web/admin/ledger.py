"""Admin API: manual ledger adjustments with a reason (logic/admin_ledger.py).

``POST /admin/partners/{partner_id}/adjustments`` posts one ``adjustment`` transfer. Money is an
integer in minor units of ``currency`` (``XCR`` for the credits book), signed: > 0 raises the
partner's balance. ``adjustment_id`` is the admin's: the same request again answers 200 with the
posted adjustment, another request under that id is 409 ``adjustment_conflict``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.logic import admin_ledger as ledger
from smsbilling.logic.admin_ledger import AdjustedBook
from smsbilling.web.admin.common import ID_DESCRIPTION, ID_PATTERN, admin_call, admin_errors, created_status
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adjustment_id: str = Field(pattern=ID_PATTERN, description=f"yours, for retries: {ID_DESCRIPTION}")
    book: AdjustedBook = Field(description="available / earned_pending (money) or credits (XCR)")
    amount: int = Field(description="minor units (credits for XCR), signed: > 0 raises the balance")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, or XCR for the credits book")
    reason: str = Field(min_length=1, max_length=200, description="kept in the ledger with the transfer")


class AdjustmentView(BaseModel):
    adjustment_id: str
    transfer_id: str
    partner_id: str
    book: AdjustedBook
    amount: int
    currency: str
    reason: str
    posted_at: datetime


def adjustment_view(adjustment: ledger.Adjustment) -> AdjustmentView:
    return AdjustmentView(
        adjustment_id=adjustment.adjustment_id,
        transfer_id=adjustment.transfer_id,
        partner_id=adjustment.partner_id,
        book=adjustment.book,
        amount=adjustment.amount,
        currency=adjustment.currency,
        reason=adjustment.reason,
        posted_at=adjustment.posted_at,
    )


@router.post(
    "/admin/partners/<partner_id>/adjustments",
    summary="Adjust a partner's balance, with a reason",
    tags=["ledger"],
    responses={
        200: {"description": "Posted before with the same fields (a retry)."},
        404: {"description": "No such partner."},
        409: {"description": "adjustment_conflict (the id was used otherwise) or insufficient_funds."},
    },
)
def adjust(
    partner_id: Annotated[str, Path(min_length=1, max_length=64)], body: Annotated[AdjustmentCreate, Body()]
) -> tuple[AdjustmentView, int]:
    call, current = admin_call(router), deps()
    request = ledger.AdjustmentRequest(
        adjustment_id=body.adjustment_id,
        partner_id=partner_id,
        book=body.book,
        amount=body.amount,
        currency=body.currency,
        reason=body.reason,
    )
    with admin_errors():
        adjustment, created = ledger.adjust(
            current.entities,
            current.ledger,
            call,
            request,
            amount_abs_max=current.limits.adjustment_amount_abs_max,
        )
    return adjustment_view(adjustment), created_status(created)


@router.get("/admin/adjustments/<adjustment_id>", summary="Get an adjustment", tags=["ledger"])
def get_adjustment(
    adjustment_id: Annotated[str, Path(pattern=ID_PATTERN, description=ID_DESCRIPTION)],
) -> AdjustmentView:
    admin_call(router)
    with admin_errors():
        return adjustment_view(ledger.find_adjustment(deps().ledger, adjustment_id))
