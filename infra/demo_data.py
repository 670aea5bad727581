"""Demo data for `make run`: what a new aggregator would set up first.

Idempotent (puts by fixed ids), so a second `make run` against a fresh local cloud gives the same
demo, with the same credentials printed. Local demo credentials only: never used on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smsbilling.adapters.dynamodb_inbound import DynamoLinkDirectory
from smsbilling.domain.inbound import OperatorLink
from smsbilling.domain.secrets import hash_token

DEMO_OPERATOR_ID = "demo-operator"
DEMO_HTTP_LINK_ID = "demo-http"
DEMO_HTTP_LINK_TOKEN = "demo-link-token"  # noqa: S105 - a published local-only demo credential


@dataclass(frozen=True)
class Demo:
    operator_id: str
    http_link_id: str
    http_link_token: str


def load(dynamodb: Any, tables: dict[str, str]) -> Demo:
    links = DynamoLinkDirectory(dynamodb, tables["entities"])
    links.put_link(
        OperatorLink(
            link_id=DEMO_HTTP_LINK_ID,
            operator_id=DEMO_OPERATOR_ID,
            protocol="http",
            http_token_hash=hash_token(DEMO_HTTP_LINK_TOKEN),
        )
    )
    return Demo(
        operator_id=DEMO_OPERATOR_ID, http_link_id=DEMO_HTTP_LINK_ID, http_link_token=DEMO_HTTP_LINK_TOKEN
    )
