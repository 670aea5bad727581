"""A small API on the conventions, over the in-memory stores, with a clock the tests move."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict

from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.settings import ApiLimits
from smsbilling.web.conventions import (
    ApiConventions,
    Caller,
    ConventionDeps,
    install_api_conventions,
    shown_once,
)
from smsbilling.web.problems import ApiProblem

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
CALLERS = {
    "key-a": Caller("partner:a", "key:a/1"),
    "key-a2": Caller("partner:a", "key:a/2"),
    "key-b": Caller("partner:b", "key:b/1"),
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Context:
    function_name = "test-api"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test-api"
    aws_request_id = "req-1"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    answer: str = "ok"  # what the route does: ok, bug, problem404, problem503, problem429, text


class Answer(BaseModel):
    number: int
    name: str


def resolve_caller(headers: Mapping[str, str]) -> Caller | None:
    auth = headers.get("authorization", "")
    return CALLERS.get(auth.removeprefix("Bearer "))


class World:
    """The app, its stores and what its routes did."""

    def __init__(self, limits: ApiLimits | None = None, *, install: bool = True) -> None:
        self.limits = limits or ApiLimits(
            api_key_requests_per_s_max=1000, api_key_requests_per_min_max=10_000
        )
        self.store = MemoryIdempotencyStore()
        self.counter = MemoryRateCounter()
        self.clock = Clock()
        self.created: list[str] = []
        self.app = APIGatewayRestResolver(enable_validation=True)
        self.conventions: ApiConventions | None = None
        if install:
            self.conventions = install_api_conventions(self.app, caller=resolve_caller, deps=self.deps)
        self._routes()

    def deps(self) -> ConventionDeps:
        return ConventionDeps(
            idempotency=self.store, counter=self.counter, limits=self.limits, clock=self.clock
        )

    def _routes(self) -> None:
        app = self.app

        @app.post("/items")
        def create(body: Annotated[Item, Body()]) -> tuple[Answer, int]:
            if resolve_caller({k.lower(): v for k, v in app.current_event.headers.items()}) is None:
                raise ApiProblem(401, "unauthenticated", "A valid API key is required.")
            self.created.append(body.name)
            match body.answer:
                case "bug":
                    raise RuntimeError("a bug in the route")
                case "problem404":
                    raise ApiProblem(404, "not_found", "No such resource.")
                case "problem503":
                    raise ApiProblem(503, "temporarily_unavailable", "Try again.")
                case "problem429":
                    raise ApiProblem(429, "rate_limited", "Slow down.", headers={"Retry-After": "7"})
            return Answer(number=len(self.created), name=body.name), 201

        @app.post("/keys")
        def create_key(body: Annotated[Item, Body()]) -> Response[Answer]:
            self.created.append(body.name)
            return shown_once(Answer(number=len(self.created), name=f"secret-{body.name}"), 201)

        @app.delete("/items/<name>")
        def delete(name: str) -> Response[str]:
            self.created.append(f"-{name}")
            return Response(status_code=200, content_type="text/plain", body=f"deleted {len(self.created)}")

        @app.get("/items")
        def listing() -> dict[str, Any]:
            return {"count": len(self.created)}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = "key-a",
        idempotency_key: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        event = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": method, "path": path},
            "body": body if isinstance(body, str) or body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
        answer = self.app.resolve(event, Context())
        out = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        out |= {k.lower(): v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
        return answer["statusCode"], out, answer["body"]


def problem_code(body: str) -> str:
    return str(json.loads(body)["code"])
