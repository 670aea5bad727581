"""The admin API as deployed (functions/admin_api/app.py) over in-memory stores and a clock."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.domain.entities import (
    AdminKey,
    ApiKey,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
)
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import AdminLimits, ApiLimits
from smsbilling.web.admin import deps as admin_deps
from smsbilling.web.conventions import ConventionDeps

admin_api = importlib.import_module("functions.admin_api.app")

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
ADMIN_KEY = "adm_test_admin_key_0123456789"
REVOKED_ADMIN_KEY = "adm_test_revoked_key_0123456789"
PARTNER_KEY = "sk_test_partner_one_0123456789"
REVOKED_PARTNER_KEY = "sk_test_partner_revoked_012345"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Context:
    function_name = "admin-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:admin-api"
    aws_request_id = "req-1"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def code(self) -> str | None:
        body = self.json
        return body.get("code") if isinstance(body, dict) else None

    def __str__(self) -> str:
        return f"{self.status} {self.text[:400]}"


class AdminWorld:
    """A platform with one admin, partner p1 (active, with an API key and a pending service)."""

    def __init__(self, limits: AdminLimits | None = None) -> None:
        self.entities = MemoryEntityStore()
        self.ledger = MemoryLedgerStore()
        self.clock = Clock()
        self.limits = limits or AdminLimits()
        self.api_limits = ApiLimits()
        self.events = MemoryEventPublisher()  # what reviews of held messages re-queue
        self.entities.put(AdminKey(key_hash=hash_token(ADMIN_KEY), key_id="ops-1", name="Ops", created_at=T0))
        self.entities.put(
            AdminKey(
                key_hash=hash_token(REVOKED_ADMIN_KEY),
                key_id="old",
                name="Old",
                created_at=T0,
                revoked_at=T0,
            )
        )
        self.add_partner("p1", PartnerStatus.ACTIVE)
        self.entities.put(
            ApiKey(key_hash=hash_token(PARTNER_KEY), key_id="k1", partner_id="p1", created_at=T0)
        )
        self.entities.put(
            ApiKey(
                key_hash=hash_token(REVOKED_PARTNER_KEY),
                key_id="k0",
                partner_id="p1",
                created_at=T0,
                revoked_at=T0,
            )
        )
        self.add_service("svc1", "p1")

    def add_partner(self, partner_id: str, status: PartnerStatus) -> Partner:
        partner = Partner(
            partner_id=partner_id,
            name=f"Partner {partner_id}",
            email=f"{partner_id}@example.com",
            status=status,
            created_at=T0,
            callback_secrets=("whsec_secret_of_" + partner_id,),
        )
        self.entities.put(partner)
        return partner

    def add_service(
        self, service_id: str, partner_id: str, status: ServiceStatus = ServiceStatus.PENDING_MODERATION
    ) -> PartnerService:
        service = PartnerService(
            service_id=service_id,
            partner_id=partner_id,
            name=f"Service {service_id}",
            prefix=service_id.upper(),
            short_numbers=("op1#4444",),
            handler_kind=HandlerKind.HTTP_POST_SYNC,
            handler_url="https://partner.example.com/mo",
            status=status,
        )
        self.entities.put(service)
        return service

    @contextmanager
    def serving(self) -> Iterator[AdminWorld]:
        admin_deps.use(
            admin_deps.AdminDeps(
                entities=self.entities,
                ledger=self.ledger,
                limits=self.limits,
                api=self.api_limits,
                clock=self.clock,
                events=self.events,
            )
        )
        admin_api.conventions.use(
            ConventionDeps(
                idempotency=MemoryIdempotencyStore(),
                counter=MemoryRateCounter(),
                limits=self.api_limits,
                clock=self.clock,
            )
        )
        try:
            yield self
        finally:
            admin_deps.use(None)
            admin_api.conventions.use(None)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = ADMIN_KEY,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        self.clock.advance(0.001)  # every request a moment later: audit entries keep their order
        split = urlsplit(path)
        query = parse_qs(split.query, keep_blank_values=True)
        all_headers = {"Content-Type": "application/json"} | (headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        event = {
            "resource": split.path,
            "path": split.path,
            "httpMethod": method,
            "headers": all_headers,
            "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": method, "path": split.path},
            "body": body if isinstance(body, str) or body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
        answer = admin_api.app.resolve(event, Context())
        out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        out |= {k.lower(): v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
        return Answer(answer["statusCode"], out, answer.get("body") or "")

    def get(self, path: str, **kw: Any) -> Answer:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, {} if body is None else body, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Answer:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Answer:
        return self.call("DELETE", path, **kw)

    def audit(self, day: date | None = None) -> list[dict[str, Any]]:
        """The audit log of one UTC day (default: the clock's), oldest first."""
        answer = self.get(f"/admin/audit?day={(day or self.clock.now.date()).isoformat()}&limit=200")
        assert answer.status == 200, answer
        items: list[dict[str, Any]] = answer.json["items"]
        return items


OPERATOR = {
    "operator_id": "op1",
    "name": "Op One",
    "country_code": "44",
    "currency": "GBP",
    "default_reply": "Unknown keyword",
    "msisdn_prefixes": ["447"],
}


def setup_catalogue(world: AdminWorld) -> None:
    """Operator op1 with short number 4444 (what most tests build on)."""
    assert world.post("/admin/operators", OPERATOR).status == 201
    number = {"number": "4444", "billing_model": "mo", "tariff_plan_id": "plan-a"}
    assert world.post("/admin/operators/op1/short-numbers", number).status == 201
