"""Admin REST API (API Gateway REST → this Lambda): the aggregator's side of the platform.

Operators, links, short numbers, tariff plans, moderation, blacklists, reserved prefixes, ledger
adjustments and the audit log (docs/admin-api.md). Admin keys only: a partner key gets 403.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.web.admin import ROUTERS
from smsbilling.web.admin.deps import entities
from smsbilling.web.admin_auth import admin_caller, install_admin_gate
from smsbilling.web.conventions import install_api_conventions
from smsbilling.web.problems import install_problem_handlers

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver(enable_validation=True)
install_problem_handlers(app)
# Invalid requests are answered 401/403 unless an admin sent them (validation runs before routes).
install_admin_gate(app, entities)
# Rate limits per admin key and Idempotency-Key on writes (docs/api-conventions.md).
conventions = install_api_conventions(app, caller=admin_caller(entities))
app.configure_openapi(
    title="smsbilling admin API",
    version="1",
    description="The aggregator's API: catalogue, tariffs, moderation, blacklists, ledger adjustments.",
    security_schemes={"bearer": HTTPBearer(description="An admin key: Authorization: Bearer <key>")},
    security=[{"bearer": []}],
)
app.enable_swagger(path="/admin/docs")
for router in ROUTERS:
    app.include_router(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
