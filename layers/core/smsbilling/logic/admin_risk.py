"""The risk policy as the admin keeps it (domain/risk.py, docs/traffic/risk-score.md).

One item, ``RiskPolicy#default``; none stored means the platform defaults (what :func:`current`
answers then, with ``updated_at`` null). A PUT replaces the whole policy: weights per signal
(0..1000 points at full strength), thresholds sorted by ``score_min`` with a higher score never
asking for a milder action, and the switch. Every change is audit-logged with what it set. The
processors cache the policy for ``traffic.rules_cache_s``, so a change reaches every message within
that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from smsbilling.domain.risk import RiskPolicy, RiskPolicyError, RiskThreshold, RiskWeights, check_thresholds
from smsbilling.domain.traffic import Action
from smsbilling.logic.admin_common import AdminCall, AdminStore, Invalid, record

POLICY_ID = "default"


def current(store: AdminStore) -> RiskPolicy:
    """The stored policy, or the defaults when none is stored."""
    return store.get(RiskPolicy, POLICY_ID) or RiskPolicy()


def replace(
    store: AdminStore,
    call: AdminCall,
    *,
    enabled: bool,
    weights: dict[str, int],
    thresholds: Sequence[tuple[int, Action]],
) -> RiskPolicy:
    """Store the whole policy (Invalid names the field at fault) and audit it."""
    try:
        steps = tuple(RiskThreshold(score_min=score_min, action=action) for score_min, action in thresholds)
        check_thresholds(steps)
        policy = RiskPolicy(
            enabled=enabled, weights=RiskWeights(**weights), thresholds=steps, updated_at=call.now
        )
    except RiskPolicyError as error:
        raise Invalid("thresholds", str(error)) from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise Invalid(field, str(first.get("msg", "invalid"))) from None
    store.put(policy)
    changes: dict[str, Any] = {
        "enabled": policy.enabled,
        "weights": policy.weights.model_dump(),
        "thresholds": [t.model_dump() for t in policy.thresholds],
    }
    record(store, call, "risk_policy.put", policy, changes)
    return policy
