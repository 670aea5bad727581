"""The admin API's routers (docs/admin-api.md), served by ``functions/admin_api/app.py``.

Every route authenticates an **admin key** first (web/admin_auth.py: a partner key is 403), runs
one use case of ``logic/admin_*.py`` over the entities table and the ledger, and records the change
in the audit log. Ids the admin chooses go in paths; request models refuse unknown and server-owned
fields; credentials are write-only.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from smsbilling.web.admin import (
    alerts,
    audit,
    catalog,
    fraud_limits,
    held,
    ledger,
    lists,
    moderation,
    plans,
    risk,
    smpp_accounts,
    spam,
    traffic_defaults,
    traffic_settings,
)

ROUTERS: tuple[Router, ...] = (
    catalog.router,
    plans.router,
    moderation.router,
    lists.router,
    ledger.router,
    audit.router,
    held.router,
    risk.router,
    fraud_limits.router,
    alerts.router,
    traffic_settings.router,
    spam.router,
    traffic_defaults.router,
    smpp_accounts.router,
)
