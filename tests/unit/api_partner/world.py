"""The partner-account API as the partner API function serves it, over in-memory stores (no AWS).

``World`` installs the fakes behind the account routers (web/account_deps.py) and the API
conventions, and calls the real ``functions/partner_api/app.py`` with REST API events.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_otp import MemorySendLimiter
from smsbilling.adapters.memory_partner_accounts import MemoryPartnerAccounts
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.domain.entities import (
    ApiKey,
    Partner,
    PartnerStatus,
    PrefixClaim,
    ShortNumber,
    SmppAccount,
)
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.notifier import ConfirmationNotice, NotificationFailed
from smsbilling.settings import ApiLimits, PartnerAccountLimits
from smsbilling.web import account_deps
from smsbilling.web.conventions import ConventionDeps, partner_caller

partner_api = importlib.import_module("functions.partner_api.app")

T0 = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
NUMBERS = ("op1#4444", "op1#5555", "op2#4444")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingNotifier:
    """The test-visible notifier: keeps every notice, or fails when told to."""

    def __init__(self) -> None:
        self.notices: list[ConfirmationNotice] = []
        self.failing = False

    def send_confirmation(self, notice: ConfirmationNotice) -> None:
        if self.failing:
            raise NotificationFailed("mail server down")
        self.notices.append(notice)

    def token_for(self, email: str) -> str:
        return [n for n in self.notices if n.email == email][-1].token


class Context:
    function_name = "partner-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:partner-api"
    aws_request_id = "req-1"


class World:
    def __init__(self, limits: PartnerAccountLimits | None = None, *, allow_loopback: bool = False) -> None:
        self.entities = MemoryEntityStore()
        self.store = MemoryPartnerAccounts(self.entities)
        self.limiter = MemorySendLimiter()
        self.notifier = RecordingNotifier()
        self.clock = Clock()
        self.limits = limits or PartnerAccountLimits()
        for number_id in NUMBERS:
            operator_id, number = number_id.split("#")
            self.entities.put(ShortNumber(operator_id=operator_id, number=number, tariff_plan_id="plan1"))
        self.install(allow_loopback=allow_loopback)

    def install(self, *, allow_loopback: bool) -> None:
        account_deps.use(
            account_deps.AccountDeps(
                store=self.store,
                limiter=self.limiter,
                notifier=self.notifier,
                limits=self.limits,
                page_size_max=200,
                allow_loopback=allow_loopback,
                clock=self.clock,
            )
        )
        partner_api.conventions.use(
            ConventionDeps(
                idempotency=MemoryIdempotencyStore(),
                counter=MemoryRateCounter(),
                limits=ApiLimits(api_key_requests_per_s_max=10_000, api_key_requests_per_min_max=100_000),
                clock=self.clock,
            ),
            caller=partner_caller(lambda: self.entities),
        )

    @staticmethod
    def uninstall() -> None:
        account_deps.use(None)
        partner_api.conventions.use(None)

    # --- requests ----------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        query: dict[str, str] | None = None,
        source_ip: str = "203.0.113.7",
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        event = {
            "resource": "/v1/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": "r1",
                "stage": "Prod",
                "httpMethod": method,
                "path": path,
                "identity": {"sourceIp": source_ip},
            },
            "body": body if isinstance(body, str) or body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
        answer = partner_api.app.resolve(event, Context())
        text = answer["body"]
        out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        out |= {k.lower(): v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
        return answer["statusCode"], out, json.loads(text) if text else None

    # --- fixtures ------------------------------------------------------------------------------------

    def register(self, name: str = "Acme", email: str | None = None, **extra: Any) -> dict[str, Any]:
        email = email or f"{name.lower()}@example.com"
        status, _, body = self.call("POST", "/v1/partners", {"name": name, "email": email, **extra})
        assert status == 201, body
        return dict(body)

    def active_partner(self, name: str = "Acme") -> tuple[str, str]:
        """A registered, confirmed partner: (partner_id, its first key's secret)."""
        body = self.register(name)
        token = self.notifier.token_for(body["partner"]["email"])
        status, _, confirmed = self.call("POST", "/v1/partners/confirm", {"token": token})
        assert status == 200 and confirmed["status"] == "active", confirmed
        return body["partner"]["partner_id"], body["api_key"]["secret"]

    def key(self, secret: str, scopes: list[str], label: str = "") -> dict[str, Any]:
        status, _, body = self.call("POST", "/v1/keys", {"scopes": scopes, "label": label}, key=secret)
        assert status == 201, body
        return dict(body)

    def legacy_partner(self, partner_id: str, secret: str, *, scopes: tuple[str, ...] = ()) -> None:
        """A partner made outside the API (demo data): active, one key, no ring."""
        self.entities.put(
            Partner(
                partner_id=partner_id,
                name=partner_id,
                email=f"{partner_id}@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=T0,
            )
        )
        self.entities.put(
            ApiKey(
                key_hash=hash_token(secret),
                key_id=f"k-{partner_id}",
                partner_id=partner_id,
                scopes=scopes,
                created_at=T0,
            )
        )

    def smpp_account(self, system_id: str, owner_id: str) -> None:
        self.entities.put(
            SmppAccount(system_id=system_id, password_hash="x", owner_kind="partner", owner_id=owner_id)
        )

    def claims(self) -> dict[str, str]:
        """Every prefix claim: claim id -> service id."""
        return {e.entity_id: e.service_id for e in self.entities.items.values() if isinstance(e, PrefixClaim)}

    def service_body(self, prefix: str = "QUIZ", **overrides: Any) -> dict[str, Any]:
        return {
            "name": "Quiz",
            "prefix": prefix,
            "short_numbers": ["op1#4444"],
            "handler_kind": "http_post_sync",
            "handler_url": "https://partner.example.com/mo",
            **overrides,
        }
