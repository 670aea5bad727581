"""Partner REST API (API Gateway REST → this Lambda). For now: health; the API grows here."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.settings import load_settings
from smsbilling.web import (
    balance,
    blacklist,
    keys,
    messages,
    otp,
    partners,
    prefixes,
    replies,
    services,
    sms,
    statistics,
    test_tool,
)
from smsbilling.web.conventions import install_api_conventions, partner_caller
from smsbilling.web.problems import ApiProblem, install_problem_handlers

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver(enable_validation=True)
install_problem_handlers(app)
# Rate limits per API key and Idempotency-Key on writes (docs/api-conventions.md).
conventions = install_api_conventions(app, caller=partner_caller())
# The document's metadata lives here, so /docs serves what docs/openapi/partner-api.json commits
# (infra/openapi.py). Swagger UI with its assets inlined from Powertools (works offline); JSON at
# /docs?format=json.
app.configure_openapi(
    title="smsbilling partner API",
    version="1",
    description="Partner REST API: services, prefixes, messages, statistics, balance and sending.",
    security_schemes={"bearer": HTTPBearer(description="A partner API key: Authorization: Bearer <key>")},
    security=[{"bearer": []}],
)
app.enable_swagger(path="/docs")
app.include_router(otp.router)
app.include_router(replies.router)
app.include_router(sms.router)
app.include_router(test_tool.router)
app.include_router(partners.router)  # registration, confirmation (docs/partner-api.md)
app.include_router(keys.router)
app.include_router(services.router)
app.include_router(prefixes.router)
app.include_router(messages.router)  # list, search, one message (docs/partner-api.md)
app.include_router(statistics.router)
app.include_router(balance.router)  # balance and statements
app.include_router(blacklist.router)  # the partner's own subscriber blacklist (CSV imports too)


@app.get("/health", summary="Service health", tags=["operations"])
def health() -> dict[str, Any]:
    """Liveness plus a real read of the entities table, so a broken deployment shows here."""
    settings = load_settings()
    try:
        aws.dynamodb().describe_table(TableName=settings.tables.entities)
    except Exception as error:  # any failure of the dependency is "unavailable", never a 500
        logger.warning("health check failed", extra={"error": type(error).__name__})
        raise ApiProblem(503, "dependency_unavailable", "The entities table cannot be reached.") from error
    return {"status": "ok", "stage": settings.stage}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
