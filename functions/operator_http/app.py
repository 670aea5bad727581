"""Operator HTTP link: operators deliver MO messages and delivery receipts over HTTPS.

Routes (formats in docs/operator-http.md, "Inbound"; mapping in logic/operator_http_forms.py):

* ``POST /operator/links/{link_id}/mo``: JSON :class:`InboundMo`, ``Authorization: Bearer <token>``.
* ``GET|POST /operator/links/{link_id}/kannel/mo``: Kannel's ``get-url`` / ``post-url`` query.
* ``POST /operator/links/{link_id}/dlr``: JSON receipt.
* ``GET /operator/links/{link_id}/kannel/dlr``: Kannel's ``dlr-url`` query.

Kannel forms carry the link token as ``token=`` (Kannel's URLs cannot send headers). Every answer
comes after the message is stored and queued (MO) or queued (DLR); Kannel forms answer 202 with
an empty body, which Kannel's ``max-messages = 0`` keeps from becoming an SMS reply.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
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
from smsbilling.contracts import DlrReceived
from smsbilling.domain.entities import OperatorLink
from smsbilling.domain.inbound import InboundMo, StoredMo
from smsbilling.logic import operator_http_forms as forms
from smsbilling.logic.mo_intake import LinkNotAuthorised, accept_mo, authorise_link
from smsbilling.settings import load_settings
from smsbilling.web.problems import ApiProblem, install_problem_handlers

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver(enable_validation=True)
install_problem_handlers(app)
LinkId = Annotated[str, Path(max_length=64)]


def _bearer_token() -> str | None:
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _query() -> dict[str, list[str]]:
    event = app.current_event
    multi = event.multi_value_query_string_parameters
    if multi:
        return {name: list(values) for name, values in multi.items()}
    return {name: [value] for name, value in (event.query_string_parameters or {}).items()}


def _link(link_id: str, token: str | None) -> OperatorLink:
    entities = DynamoEntityStore(aws.dynamodb(), load_settings().tables.entities)
    try:
        return authorise_link(entities, link_id, token)
    except LinkNotAuthorised:
        raise ApiProblem(401, "link_unauthorised", "Unknown link or wrong credentials.") from None


def _form[T](build: Callable[[], T]) -> T:
    try:
        return build()
    except forms.FormRejected as rejected:
        raise ApiProblem(422, rejected.code, rejected.detail, errors=rejected.errors) from None


def _publisher() -> SqsEventPublisher:
    return SqsEventPublisher(aws.sqs(), load_settings().queues)


def _accept(link: OperatorLink, mo: InboundMo) -> StoredMo:
    settings = load_settings()
    stored = accept_mo(
        link,
        mo,
        now=datetime.now(UTC),
        store=DynamoInboundStore(aws.dynamodb(), settings.tables.messages),
        events=_publisher(),
    )
    logger.info("mo accepted", extra={"message_id": stored.message_id, "link_id": link.link_id})
    return stored


def _queue_dlr(event: DlrReceived) -> Response[str]:
    _publisher().publish_mt_event(event)
    logger.info("dlr queued", extra={"receipt_id": event.receipt_id, "status": event.status.value})
    return Response(status_code=202, content_type="text/plain", body="")


def _raw_body() -> str | bytes | None:
    """The POST body: exact bytes when API Gateway base64-encoded it, else the text it decoded."""
    body = app.current_event.body
    if not body or not app.current_event.is_base64_encoded:
        return body or None
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ApiProblem(400, "malformed_body", "The request body is not valid base64.") from None


@app.post("/operator/links/<link_id>/mo")
def receive_mo(link_id: LinkId, mo: InboundMo) -> Response[dict[str, str]]:
    stored = _accept(_link(link_id, _bearer_token()), mo)
    return Response(status_code=202, body={"message_id": stored.message_id, "state": stored.state.value})


@app.route("/operator/links/<link_id>/kannel/mo", method=["GET", "POST"])
def receive_kannel_mo(link_id: LinkId) -> Response[str]:
    query = _query()
    link = _link(link_id, forms.query_token(query) or _bearer_token())
    body = _raw_body() if app.current_event.http_method == "POST" else None
    mo = _form(lambda: forms.kannel_mo(query, body=body))
    stored = _accept(link, mo)
    logger.info("kannel mo", extra={"message_id": stored.message_id, "smsc": query.get("smsc", [""])[0]})
    return Response(status_code=202, content_type="text/plain", body="")


@app.post("/operator/links/<link_id>/dlr")
def receive_dlr(link_id: LinkId, dlr: forms.JsonDlr) -> Response[str]:
    link = _link(link_id, _bearer_token())
    return _queue_dlr(_form(lambda: forms.json_dlr(link, dlr, now=datetime.now(UTC))))


@app.get("/operator/links/<link_id>/kannel/dlr")
def receive_kannel_dlr(link_id: LinkId) -> Response[str]:
    query = _query()
    link = _link(link_id, forms.query_token(query) or _bearer_token())
    return _queue_dlr(_form(lambda: forms.kannel_dlr(link, query, now=datetime.now(UTC))))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
