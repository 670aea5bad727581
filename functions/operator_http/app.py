"""Operator HTTP link: operators deliver MO messages (and later DLRs) over HTTPS.

``POST /operator/links/{link_id}/mo`` with ``Authorization: Bearer <link token>`` and a JSON body
(:class:`InboundMo`). Answers 202 with the platform message id only after the message is stored
and queued; repeating a request with the same ``operator_message_id`` is safe and returns the same id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smsbilling.adapters import aws
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.sqs_events import SqsEventPublisher
from smsbilling.domain.inbound import InboundMo
from smsbilling.logic.mo_intake import LinkNotAuthorised, accept_mo, authorise_link
from smsbilling.settings import load_settings
from smsbilling.web.problems import ApiProblem, install_problem_handlers

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver(enable_validation=True)
install_problem_handlers(app)


def _bearer_token() -> str | None:
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


@app.post("/operator/links/<link_id>/mo")
def receive_mo(link_id: Annotated[str, Path(max_length=64)], mo: InboundMo) -> Response[dict[str, str]]:
    settings = load_settings()
    client = aws.dynamodb()
    try:
        link = authorise_link(DynamoEntityStore(client, settings.tables.entities), link_id, _bearer_token())
    except LinkNotAuthorised:
        raise ApiProblem(401, "link_unauthorised", "Unknown link or wrong credentials.") from None
    stored = accept_mo(
        link,
        mo,
        now=datetime.now(UTC),
        store=DynamoInboundStore(client, settings.tables.messages),
        events=SqsEventPublisher(aws.sqs(), settings.queues),
    )
    logger.info("mo accepted", extra={"message_id": stored.message_id, "link_id": link_id})
    return Response(status_code=202, body={"message_id": stored.message_id, "state": stored.state.value})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
