"""Partner API: balance and statements (logic/statements.py, docs/partner-api.md).

``GET /v1/balance`` answers the caller's ledger accounts (money and prepaid credits) as integers
in minor units beside their currency; ``GET /v1/statements?from=&to=`` lists the ledger
transfers that touched the caller's accounts, newest first, with only the caller's own legs, in
cursor pages. Both need the ``billing:read`` scope.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Protocol

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.cursors import CursorError
from smsbilling.domain.ledger import LedgerError
from smsbilling.domain.statements import StatementLine
from smsbilling.logic import statements
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import ReportLimits, load_settings
from smsbilling.web.problems import ApiProblem
from smsbilling.web.reports import invalid, page_size, scoped_key, utc

router = Router()  # type: ignore[no-untyped-call]


class LedgerReader(statements.BalanceReader, statements.PartnerJournal, Protocol):
    """Both ledger stores are this."""


@dataclass(frozen=True, slots=True)
class BalanceDeps:
    entities: EntityReader
    ledger: LedgerReader
    limits: ReportLimits
    page_size_max: int
    block_slots_max: int
    cursor_key: bytes


_override: list[BalanceDeps] = []


def use(deps: BalanceDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> BalanceDeps:
    settings = load_settings()
    client = aws.dynamodb()
    return BalanceDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        ledger=DynamoDbLedgerStore(settings.tables.ledger, client, settings.ledger),
        limits=settings.reports,
        page_size_max=settings.api.page_size_max,
        block_slots_max=settings.ledger.credit_block_slots_max,
        cursor_key=settings.reports.cursor_signing_key.encode(),
    )


def _deps() -> BalanceDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------


class MoneyOut(BaseModel):
    currency: str
    earned: int = Field(description="income booked, not yet settled (minor units)")
    earned_awaiting_delivery: int = Field(description="MT-billing income waiting for its delivery receipt")
    available: int = Field(description="settled: can be paid out")
    payouts_in_progress: int = Field(description="requested payouts, held on available")
    paid_out: int


class CreditsOut(BaseModel):
    balance: int = Field(description="prepaid credits owned (main account and reserved blocks)")
    reserved: int = Field(description="held for messages on their way")
    credit_limit: int
    spendable: int = Field(description="balance + credit_limit - reserved")


class BalanceOut(BaseModel):
    money: MoneyOut | None = Field(description="None: no money account opened yet")
    credits: CreditsOut | None = Field(description="None: no credits account opened yet")


class EntryOut(BaseModel):
    account: str = Field(description="earned_pending, available, payouts, credits or credit_block")
    slot: str | None = Field(default=None, description="credit_block: which block")
    amount: int = Field(description="the change to the balance, as posted (0 while pending or voided)")
    pending: int = Field(description="the change held while the transfer is pending")


class StatementLineOut(BaseModel):
    transfer_id: str
    kind: str = Field(description="mo_charge, mt_charge, recount, settlement, payout, sms_credits, ...")
    state: str = Field(description="posted, pending or voided")
    at: datetime
    currency: str
    reference: str = Field(description="the business key: a message id, partner|period, a payment id")
    entries: list[EntryOut] = Field(description="your accounts only")


class StatementOut(BaseModel):
    items: list[StatementLineOut]
    next_cursor: str | None = Field(description="pass as ?cursor= with the same from/to; None: the end")


def _line(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        transfer_id=line.transfer_id,
        kind=line.kind.value,
        state=line.state.value,
        at=datetime.fromtimestamp(line.at_ms / 1000, tz=UTC),
        currency=line.currency,
        reference=line.ref,
        entries=[
            EntryOut(account=e.book.value, slot=e.sub or None, amount=e.amount, pending=e.pending)
            for e in line.entries
        ],
    )


# --- routes -----------------------------------------------------------------------------------------


def _unavailable() -> ApiProblem:
    return ApiProblem(503, "temporarily_unavailable", "The ledger cannot be read now; try again.")


@router.get(
    "/v1/balance",
    summary="Your balances: income, payouts and prepaid credits",
    tags=["billing"],
    responses={
        200: {"description": "Money and credits; a book never opened is null."},
        403: {"description": "The API key lacks the billing:read scope."},
        503: {"description": "The ledger could not be read; try again."},
    },
)
def read_balance() -> BalanceOut:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.BILLING_READ)
    try:
        balance = statements.partner_balance(
            deps.ledger, key.partner_id, block_slots_max=deps.block_slots_max
        )
    except LedgerError as error:
        raise _unavailable() from error
    money, credits = balance.money, balance.credits
    return BalanceOut(
        money=None if money is None else MoneyOut.model_validate(money, from_attributes=True),
        credits=None if credits is None else CreditsOut.model_validate(credits, from_attributes=True),
    )


@router.get(
    "/v1/statements",
    summary="The ledger postings on your accounts",
    tags=["billing"],
    responses={
        200: {"description": "One page, newest first, and the cursor of the next (null at the end)."},
        400: {"description": "A cursor this listing did not hand out, or for other dates (invalid_cursor)."},
        403: {"description": "The API key lacks the billing:read scope."},
        422: {"description": "Bad dates."},
        503: {"description": "The ledger could not be read; try again."},
    },
)
def read_statement(
    from_: Annotated[datetime | None, Query(alias="from", description="at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="before this instant (ISO 8601)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="page size (capped)")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> StatementOut:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.BILLING_READ)
    from_, to = utc(from_, "from"), utc(to, "to")
    if from_ is not None and to is not None and to <= from_:
        raise invalid("to", "must be after 'from'")
    try:
        page = statements.statement(
            deps.ledger,
            key.partner_id,
            since=from_,
            until=to,
            cursor=cursor,
            limit=page_size(limit, deps.limits, deps.page_size_max),
            cursor_key=deps.cursor_key,
        )
    except CursorError:
        raise ApiProblem(400, "invalid_cursor", "This cursor is not valid here.", field="cursor") from None
    except LedgerError as error:
        raise _unavailable() from error
    return StatementOut(items=[_line(line) for line in page.lines], next_cursor=page.next_cursor)
