"""Partner API: statistics (logic/statistics.py, domain/statistics.py, docs/partner-api.md).

``GET /v1/statistics?from=YYYY-MM-DD&to=YYYY-MM-DD&group_by=day,service,short_number,operator``
answers the caller's billed messages and income for the UTC days ``from``..``to`` (both
included; at most ``reports.statistics_days_max``), one row per currency and grouped dimension
(the others summed), plus totals per currency. Money is integer minor units beside its currency.
Needs the ``messages:read`` scope.

The stores are built from the settings on first use; tests swap them with :func:`use`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_statistics import DynamoStatisticsStore
from smsbilling.domain.api_scopes import Scope
from smsbilling.domain.statistics import Counts, Dimension, StatRow
from smsbilling.logic import statistics as stats
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import ReportLimits, load_settings
from smsbilling.web.reports import invalid, scoped_key

router = Router()  # type: ignore[no-untyped-call]

DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class StatisticsDeps:
    entities: EntityReader
    reader: stats.StatisticsReader
    limits: ReportLimits
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


_override: list[StatisticsDeps] = []


def use(deps: StatisticsDeps | None) -> None:
    """Serve with these dependencies (tests); None goes back to the deployed ones."""
    _override.clear()
    if deps is not None:
        _override.append(deps)


@cache
def _deployed() -> StatisticsDeps:
    settings = load_settings()
    client = aws.dynamodb()
    return StatisticsDeps(
        entities=DynamoEntityStore(client, settings.tables.entities),
        reader=DynamoStatisticsStore(
            client, settings.tables.counters, shards=settings.reports.statistics_shards_count
        ),
        limits=settings.reports,
    )


def _deps() -> StatisticsDeps:
    return _override[0] if _override else _deployed()


# --- models -----------------------------------------------------------------------------------------


class CountsOut(BaseModel):
    currency: str
    charged: int = Field(description="charges posted (MO-billing at the MO, MT-billing on delivery)")
    income: int = Field(description="your share of them, minor units")
    pending: int = Field(description="MT-billing charges waiting for the delivery receipt")
    pending_income: int = Field(description="your share of those, not yet income")
    voided: int = Field(description="MT-billing charges voided (not delivered)")


class StatRowOut(CountsOut):
    day: date | None = Field(default=None, description="set when grouped by day")
    service_id: str | None = Field(default=None, description="set when grouped by service")
    short_number: str | None = Field(default=None, description="set when grouped by short_number")
    operator_id: str | None = Field(default=None, description="set when grouped by operator")


class StatisticsOut(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    group_by: list[Dimension]
    rows: list[StatRowOut]
    totals: list[CountsOut] = Field(description="per currency, over every row")


def _counts(currency: str, counts: Counts) -> dict[str, object]:
    return {
        "currency": currency,
        "charged": counts.charged,
        "income": counts.income,
        "pending": counts.pending,
        "pending_income": counts.pending_income,
        "voided": counts.voided,
    }


def _row(row: StatRow) -> StatRowOut:
    return StatRowOut.model_validate(
        _counts(row.currency, row.counts)
        | {
            "day": row.day,
            "service_id": row.service_id,
            "short_number": row.short_number,
            "operator_id": row.operator_id,
        }
    )


def _group_by(raw: str) -> tuple[Dimension, ...]:
    dims = []
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        try:
            dims.append(Dimension(name))
        except ValueError:
            raise invalid("group_by", f"unknown dimension {name!r}") from None
    return tuple(dict.fromkeys(dims))


# --- route ------------------------------------------------------------------------------------------


@router.get(
    "/v1/statistics",
    summary="Billed messages and income by day, service, short number and operator",
    tags=["statistics"],
    responses={
        200: {"description": "Rows per currency and grouped dimension, and totals per currency."},
        403: {"description": "The API key lacks the messages:read scope."},
        422: {"description": "Bad dates (reversed, or too many days) or an unknown dimension."},
    },
)
def read_statistics(
    from_: Annotated[date | None, Query(alias="from", description="first UTC day (default: to - 29)")] = None,
    to: Annotated[date | None, Query(description="last UTC day, included (default: today)")] = None,
    group_by: Annotated[
        str,
        Query(max_length=100, description="comma-separated: day, service, short_number, operator"),
    ] = "day",
    service_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> StatisticsOut:
    deps = _deps()
    key = scoped_key(router, deps.entities, Scope.MESSAGES_READ)
    dims = _group_by(group_by)
    last = to or deps.clock().astimezone(UTC).date()
    try:
        first = from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:
        raise invalid("to", "out of range") from None
    try:
        report = stats.partner_statistics(
            deps.reader,
            key.partner_id,
            first=first,
            last=last,
            group_by=dims,
            service_id=service_id,
            days_max=deps.limits.statistics_days_max,
        )
    except stats.StatisticsRangeError as error:
        raise invalid("from", str(error)) from None
    return StatisticsOut.model_validate(
        {
            "from": report.first,
            "to": report.last,
            "group_by": list(report.group_by),
            "rows": [_row(row) for row in report.rows],
            "totals": [CountsOut.model_validate(_counts(cur, counts)) for cur, counts in report.totals],
        }
    )
