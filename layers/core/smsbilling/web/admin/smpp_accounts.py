"""Admin API: SMPP accounts, the bridge's logins (logic/admin_smpp_accounts.py).

``POST /admin/smpp-accounts`` (a new login for a partner or an operator), ``GET
/admin/smpp-accounts`` (paged by system_id), ``GET`` and ``PATCH /admin/smpp-accounts/{system_id}``:
the bind limits of one account (docs/traffic/rate-limits-and-countries.md), ``POST
/admin/smpp-accounts/{system_id}/password``: a new password. A rate of ``null`` is the bridge's
default (``SMSBILLING_SMPP__SUBMIT_RATE_PER_S`` per bind, ``..._ACCOUNT_SUBMIT_RATE_PER_S`` per
account). The platform makes every password: it is in the answer that made it, once (``no-store``;
an idempotent replay gets 409, not the password again), and after that only ``has_password``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.entities import SmppAccount, SubmitRate
from smsbilling.logic import admin_smpp_accounts as accounts
from smsbilling.web.admin.common import Cursor, Limit, admin_call, admin_errors, page_size
from smsbilling.web.admin.deps import deps
from smsbilling.web.conventions import shown_once

router = Router()  # type: ignore[no-untyped-call]

SystemId = Annotated[str, Path(min_length=1, max_length=15, description="the account's system_id")]
SYSTEM_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,15}$"  # fits an SMPP system_id, a UCP OAdC login, a CIMD2 user
BINDS_MAX = 100
CIDRS_MAX = 50
_RATE_NOTE = "submits per second; null: the bridge's default"


class SmppAccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    binds_max: int | None = Field(default=None, gt=0, le=BINDS_MAX, description="binds at once")
    enabled: bool | None = Field(default=None, description="false: refuses new binds")
    allowed_cidrs: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] | None = Field(
        default=None,
        max_length=CIDRS_MAX,
        description="IPv4/IPv6 networks (or addresses) that may bind; empty: none may",
    )
    submit_rate_per_s: SubmitRate | None = Field(default=None, description=f"each bind: {_RATE_NOTE}")
    account_submit_rate_per_s: SubmitRate | None = Field(
        default=None, description=f"all binds of the account together: {_RATE_NOTE}"
    )


class SmppAccountCreate(SmppAccountUpdate):
    system_id: str = Field(pattern=SYSTEM_ID_PATTERN, description="the login: letters, digits, _ . -")
    owner_kind: Literal["partner", "operator"]
    owner_id: str = Field(min_length=1, max_length=64, description="the partner or operator it is for")


class SmppAccountView(BaseModel):
    system_id: str
    owner_kind: Literal["partner", "operator"]
    owner_id: str
    allowed_cidrs: list[str]
    binds_max: int
    enabled: bool
    submit_rate_per_s: float | None = Field(description="each bind; null: the bridge's default")
    account_submit_rate_per_s: float | None = Field(description="all binds; null: the bridge's default")
    has_password: bool


class NewSmppPassword(SmppAccountView):
    password: str = Field(description="shown once: the platform keeps only its hash")


class SmppAccountPage(BaseModel):
    items: list[SmppAccountView]
    next_cursor: str | None


def account_view(account: SmppAccount) -> SmppAccountView:
    return SmppAccountView(
        **account.model_dump(exclude={"password_hash"}), has_password=bool(account.password_hash)
    )


@router.get("/admin/smpp-accounts", summary="List SMPP accounts (bridge logins)", tags=["smpp accounts"])
def list_smpp_accounts(limit: Limit = None, cursor: Cursor = None) -> SmppAccountPage:
    admin_call(router)
    with admin_errors():
        found, after = accounts.list_accounts(deps().entities, limit=page_size(limit), cursor=cursor)
    return SmppAccountPage(items=[account_view(one) for one in found], next_cursor=after)


@router.post(
    "/admin/smpp-accounts",
    summary="Create an SMPP account (its password is shown once)",
    tags=["smpp accounts"],
    responses={409: {"description": "The system_id is taken."}},
)
def create_smpp_account(body: Annotated[SmppAccountCreate, Body()]) -> Response[NewSmppPassword]:
    call = admin_call(router)
    with admin_errors():
        created, password = accounts.create_account(
            deps().entities, call, body.model_dump(exclude_unset=True)
        )
    return shown_once(NewSmppPassword(**account_view(created).model_dump(), password=password), 201)


@router.post(
    "/admin/smpp-accounts/<system_id>/password",
    summary="Give an SMPP account a new password (shown once; from the next bind)",
    tags=["smpp accounts"],
)
def new_smpp_password(system_id: SystemId) -> Response[NewSmppPassword]:
    call = admin_call(router)
    with admin_errors():
        updated, password = accounts.new_account_password(deps().entities, call, system_id)
    return shown_once(NewSmppPassword(**account_view(updated).model_dump(), password=password), 200)


@router.get("/admin/smpp-accounts/<system_id>", summary="Get an SMPP account", tags=["smpp accounts"])
def get_smpp_account(system_id: SystemId) -> SmppAccountView:
    admin_call(router)
    with admin_errors():
        return account_view(accounts.get_account(deps().entities, system_id))


@router.patch(
    "/admin/smpp-accounts/<system_id>",
    summary="Change an SMPP account's bind limits (from its next bind)",
    tags=["smpp accounts"],
)
def update_smpp_account(system_id: SystemId, body: Annotated[SmppAccountUpdate, Body()]) -> SmppAccountView:
    call = admin_call(router)
    with admin_errors():
        updated = accounts.update_account(
            deps().entities, call, system_id, body.model_dump(exclude_unset=True)
        )
    return account_view(updated)
