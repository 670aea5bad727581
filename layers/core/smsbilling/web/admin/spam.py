"""Admin API: anti-spam rules for outgoing texts (logic/admin_spam.py, docs/traffic/anti-spam.md).

A rule is platform-wide (``partner_id`` null) or one partner's. ``GET /admin/spam-rules`` lists
every rule, ``?partner_id=p1`` one partner's, ``?partner_id=*`` the platform-wide ones. A pattern
that cannot run as a rule of its kind is refused with 422 naming ``pattern``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain.spam import GLOBAL_SCOPE, PATTERN_CHARS_MAX, RULE_ID_PATTERN, SpamKind, SpamRule
from smsbilling.domain.traffic import Action
from smsbilling.logic import admin_spam as spam
from smsbilling.logic.admin_common import Invalid, NotFound, must_get
from smsbilling.logic.spam import spam_limits
from smsbilling.web.admin.common import (
    ID_DESCRIPTION,
    Cursor,
    Limit,
    admin_call,
    admin_errors,
    created_status,
    page_size,
)
from smsbilling.web.admin.deps import deps

router = Router()  # type: ignore[no-untyped-call]

RuleId = Annotated[str, Path(pattern=RULE_ID_PATTERN, description=ID_DESCRIPTION)]
PartnerFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="a partner's rules; '*': the platform-wide ones; omitted: all",
    ),
]
_PATTERN_DESCRIPTION = (
    "word: one word ('free', a stem with a trailing '*': 'скидк*'); phrase: words in order; "
    "regex: a regular expression (no backreferences or lookarounds); url: a domain, or '@shorteners'"
)


class SpamRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(pattern=RULE_ID_PATTERN, description=ID_DESCRIPTION)
    kind: SpamKind
    pattern: str = Field(min_length=1, max_length=PATTERN_CHARS_MAX, description=_PATTERN_DESCRIPTION)
    partner_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="null: every partner"
    )
    action: Action = Field(description="alert: send and raise an alert; hold: wait for an admin; reject")
    reason: str = Field(default="", max_length=200, description="shown after the match on the message")
    enabled: bool = True


class SpamRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SpamKind | None = None
    pattern: str | None = Field(default=None, min_length=1, max_length=PATTERN_CHARS_MAX)
    action: Action | None = None
    reason: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class SpamRuleView(BaseModel):
    rule_id: str
    kind: SpamKind
    pattern: str
    partner_id: str | None = Field(description="null: platform-wide")
    action: Action
    reason: str
    enabled: bool
    created_at: datetime
    updated_at: datetime | None


class SpamRulePage(BaseModel):
    items: list[SpamRuleView]
    next_cursor: str | None


def rule_view(rule: SpamRule) -> SpamRuleView:
    fields = rule.model_dump(exclude={"scope"})
    return SpamRuleView.model_validate(
        fields | {"partner_id": None if rule.scope == GLOBAL_SCOPE else rule.scope}
    )


@router.get("/admin/spam-rules", summary="List anti-spam rules", tags=["anti-spam"])
def list_spam_rules(
    partner_id: PartnerFilter = None, limit: Limit = None, cursor: Cursor = None
) -> SpamRulePage:
    admin_call(router)
    store = deps().entities
    with admin_errors():
        scope = None if partner_id is None else spam.rule_scope(store, partner_id)
        found, after = spam.list_rules(store, scope, limit=page_size(limit), cursor=cursor)
    return SpamRulePage(items=[rule_view(rule) for rule in found], next_cursor=after)


@router.post(
    "/admin/spam-rules",
    summary="Create an anti-spam rule",
    tags=["anti-spam"],
    responses={200: {"description": "The same rule existed already."}, 409: {"description": "Id taken."}},
)
def create_spam_rule(body: Annotated[SpamRuleCreate, Body()]) -> tuple[SpamRuleView, int]:
    call, current = admin_call(router), deps()
    with admin_errors():
        try:
            scope = spam.rule_scope(current.entities, body.partner_id)
        except NotFound:  # a reference in the body, not the path
            raise Invalid("partner_id", "no such partner") from None
        rule = SpamRule.model_validate(
            body.model_dump(exclude={"partner_id"}) | {"scope": scope, "created_at": call.now}
        )
        stored, created = spam.create_rule(
            current.entities,
            call,
            rule,
            limits=spam_limits(current.traffic),
            rules_max=current.traffic.spam_rules_max,
        )
    return rule_view(stored), created_status(created)


@router.get("/admin/spam-rules/<rule_id>", summary="Get an anti-spam rule", tags=["anti-spam"])
def get_spam_rule(rule_id: RuleId) -> SpamRuleView:
    admin_call(router)
    with admin_errors():
        return rule_view(must_get(deps().entities, SpamRule, rule_id, "spam rule"))


@router.patch("/admin/spam-rules/<rule_id>", summary="Change an anti-spam rule", tags=["anti-spam"])
def update_spam_rule(rule_id: RuleId, body: Annotated[SpamRuleUpdate, Body()]) -> SpamRuleView:
    call, current = admin_call(router), deps()
    with admin_errors():
        updated = spam.update_rule(
            current.entities,
            call,
            rule_id,
            body.model_dump(exclude_unset=True),
            limits=spam_limits(current.traffic),
        )
    return rule_view(updated)


@router.delete("/admin/spam-rules/<rule_id>", summary="Delete an anti-spam rule", tags=["anti-spam"])
def delete_spam_rule(rule_id: RuleId) -> SpamRuleView:
    call = admin_call(router)
    with admin_errors():
        return rule_view(spam.delete_rule(deps().entities, call, rule_id))
