"""The conventions middlewares on a small app: idempotency, rate limits, failure policy."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from smsbilling.logic import idempotency as idem
from smsbilling.settings import ApiLimits
from smsbilling.web.conventions import ConventionDeps, install_api_conventions
from smsbilling.web.problems import ApiProblem

from .harness import Context, World, problem_code, resolve_caller

# --- idempotency -----------------------------------------------------------------------------------


def test_same_key_and_body_replays_the_stored_answer_and_runs_once() -> None:
    w = World()
    first = w.call("POST", "/items", {"name": "x", "answer": "ok"}, idempotency_key="k1")
    again = w.call("POST", "/items", '{ "answer": "ok",\n  "name": "x" }', idempotency_key="k1")  # same JSON
    assert first[0] == again[0] == 201
    assert first[2] == again[2] == '{"number":1,"name":"x"}'
    assert again[1]["idempotent-replayed"] == "true" and "idempotent-replayed" not in first[1]
    assert again[1]["content-type"] == first[1]["content-type"] == "application/json"
    assert w.created == ["x"]


def test_an_answer_holding_a_secret_is_never_kept_and_its_replay_says_so() -> None:
    w = World()
    first = w.call("POST", "/keys", {"name": "x"}, idempotency_key="k1")
    assert (first[0], json.loads(first[2])["name"]) == (201, "secret-x")
    assert first[1]["cache-control"] == "no-store"
    again = w.call("POST", "/keys", {"name": "x"}, idempotency_key="k1")
    assert (again[0], problem_code(again[2])) == (409, "idempotent_secret_withheld")
    assert w.created == ["x"]  # not run twice
    assert "secret-x" not in repr(w.store.records)  # the secret is nowhere in the store


def test_same_key_with_another_request_is_422_and_runs_nothing() -> None:
    w = World()
    w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")
    for other in [
        ("POST", "/items", {"name": "y"}, None),
        ("POST", "/items", {"name": "x"}, {"dry": "1"}),  # another query
        ("DELETE", "/items/x", None, None),  # another method and path
    ]:
        method, path, body, query = other
        status, headers, text = w.call(method, path, body, idempotency_key="k1", query=query)
        assert (status, problem_code(text)) == (422, "idempotency_key_reused")
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(text)["field"] == "Idempotency-Key"
    assert w.created == ["x"]


def test_a_key_in_flight_is_409_with_retry_after_until_its_lease_runs_out() -> None:
    w = World()
    # Another invocation claimed the key for the same request and is still running.
    fingerprint = idem.fingerprint("POST", "/items", {}, json.dumps({"name": "x"}))
    started = idem.begin(
        w.store, scope="partner:a", key="k1", request_fingerprint=fingerprint, now=w.clock(), limits=w.limits
    )
    assert isinstance(started, idem.Proceed)
    status, headers, text = w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")
    assert (status, problem_code(text)) == (409, "idempotency_key_in_flight")
    assert headers["retry-after"] == str(w.limits.idempotency_in_flight_retry_after_s)
    # With another body while in flight, the key is reused: 422 rather than 409.
    assert w.call("POST", "/items", {"name": "y"}, idempotency_key="k1")[0] == 422
    assert w.created == []
    # The other invocation died; once its lease ends a retry runs, and its late answer is not kept.
    w.clock.advance(w.limits.idempotency_lease_s)
    status, _, _ = w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")
    assert status == 201 and w.created == ["x"]
    late = idem.StoredResponse(status=201, body="late")
    assert not idem.finish(w.store, started.claim, late, now=w.clock(), limits=w.limits)
    assert w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")[2] == '{"number":1,"name":"x"}'


def test_keys_are_scoped_per_caller() -> None:
    w = World()
    a = w.call("POST", "/items", {"name": "x"}, idempotency_key="k1", key="key-a")
    b = w.call("POST", "/items", {"name": "x"}, idempotency_key="k1", key="key-b")
    assert a[2] != b[2] and w.created == ["x", "x"]
    # Another API key of the same partner shares the partner's keys.
    a2 = w.call("POST", "/items", {"name": "x"}, idempotency_key="k1", key="key-a2")
    assert a2[2] == a[2] and a2[1]["idempotent-replayed"] == "true"


def test_records_last_the_configured_ttl_then_the_key_is_free() -> None:
    w = World()
    w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")
    w.clock.advance(w.limits.idempotency_key_ttl_s - 1)
    assert w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")[1]["idempotent-replayed"] == "true"
    w.clock.advance(1)
    status, headers, _ = w.call("POST", "/items", {"name": "y"}, idempotency_key="k1")
    assert status == 201 and "idempotent-replayed" not in headers and w.created == ["x", "y"]


@pytest.mark.parametrize(
    ("key", "status"), [("k" * 255, 201), ("k" * 256, 400), ("   ", 400), ("with space", 201)]
)
def test_key_length(key: str, status: int) -> None:
    w = World()
    answer = w.call("POST", "/items", {"name": "x"}, idempotency_key=key)
    assert answer[0] == status
    if status == 400:
        assert problem_code(answer[2]) == "invalid_idempotency_key" and w.created == []


def test_problems_the_route_raises_are_answers_and_are_replayed() -> None:
    w = World()
    first = w.call("POST", "/items", {"name": "x", "answer": "problem404"}, idempotency_key="k1")
    again = w.call("POST", "/items", {"name": "x", "answer": "problem404"}, idempotency_key="k1")
    assert first[0] == again[0] == 404 and first[2] == again[2]
    assert (
        again[1]["content-type"] == "application/problem+json" and again[1]["idempotent-replayed"] == "true"
    )
    assert w.created == ["x"]


@pytest.mark.parametrize("answer", ["problem503", "problem429"])
def test_5xx_and_429_are_not_kept_so_a_retry_runs(answer: str) -> None:
    w = World()
    first = w.call("POST", "/items", {"name": "x", "answer": answer}, idempotency_key="k1")
    assert first[0] in (429, 503)
    again = w.call("POST", "/items", {"name": "x", "answer": answer}, idempotency_key="k1")
    assert again[0] == first[0] and "idempotent-replayed" not in again[1]
    assert w.created == ["x", "x"] and not w.store.records


def test_a_route_that_raised_releases_its_claim() -> None:
    w = World()
    with pytest.raises(RuntimeError):
        w.call("POST", "/items", {"name": "x", "answer": "bug"}, idempotency_key="k1")
    assert not w.store.records
    with pytest.raises(RuntimeError):
        w.call("POST", "/items", {"name": "x", "answer": "bug"}, idempotency_key="k1")
    assert w.created == ["x", "x"]


def test_a_large_answer_is_not_kept() -> None:
    w = World(ApiLimits(idempotency_response_bytes_max=1024))
    name = "n" * 2000
    assert w.call("POST", "/items", {"name": name}, idempotency_key="k1")[0] == 201
    assert w.call("POST", "/items", {"name": name}, idempotency_key="k1")[0] == 201
    assert w.created == [name, name] and not w.store.records


def test_text_answers_of_other_methods_replay_byte_for_byte() -> None:
    w = World()
    first = w.call("DELETE", "/items/x", idempotency_key="d1")
    again = w.call("DELETE", "/items/x", idempotency_key="d1")
    assert first[2] == again[2] == "deleted 1" and again[1]["content-type"] == "text/plain"


def test_without_a_key_or_on_a_read_nothing_is_stored() -> None:
    w = World()
    w.call("POST", "/items", {"name": "x"})
    w.call("POST", "/items", {"name": "x"})
    w.call("GET", "/items", idempotency_key="g1")
    assert w.call("GET", "/items", idempotency_key="g1")[2] == '{"count":2}'
    assert w.created == ["x", "x"] and not w.store.records


@pytest.mark.parametrize("key", [None, "key-unknown"])
def test_requests_without_a_valid_credential_pass_through_untouched(key: str | None) -> None:
    w = World(ApiLimits(api_key_requests_per_s_max=1, api_key_requests_per_min_max=1))
    for _ in range(3):
        status, _, text = w.call("POST", "/items", {"name": "x"}, key=key, idempotency_key="k1")
        assert (status, problem_code(text)) == (401, "unauthenticated")  # the route's own answer
    assert not w.store.records and not w.counter.minutes


def test_an_invalid_body_is_answered_by_validation_and_nothing_is_kept() -> None:
    w = World()
    status, _, text = w.call("POST", "/items", {"name": "x", "owner": "me"}, idempotency_key="k1")
    assert (status, problem_code(text)) == (422, "validation_failed")
    assert not w.store.records
    assert w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")[0] == 201


# --- rate limits ------------------------------------------------------------------------------------


def test_over_the_per_second_limit_is_429_with_retry_after_and_the_route_does_not_run() -> None:
    w = World(ApiLimits(api_key_requests_per_s_max=3, api_key_requests_per_min_max=100))
    assert [w.call("POST", "/items", {"name": str(i)})[0] for i in range(3)] == [201] * 3
    status, headers, text = w.call("POST", "/items", {"name": "over"}, idempotency_key="k1")
    assert (status, problem_code(text), headers["retry-after"]) == (429, "rate_limited", "1")
    assert headers["content-type"] == "application/problem+json"
    assert w.call("GET", "/items")[0] == 429  # reads count too
    assert w.call("GET", "/items", key="key-b")[0] == 200  # per API key
    assert w.call("GET", "/items", key="key-a2")[0] == 200  # another key of the same partner
    assert w.created == ["0", "1", "2"] and not w.store.records
    w.clock.advance(1)
    assert w.call("POST", "/items", {"name": "next"})[0] == 201


def test_over_the_per_minute_limit_retry_after_is_the_rest_of_the_minute() -> None:
    w = World(ApiLimits(api_key_requests_per_s_max=100, api_key_requests_per_min_max=4))
    w.clock.advance(15)  # 12:00:15
    for _ in range(4):
        assert w.call("GET", "/items")[0] == 200
    w.clock.advance(20)  # 12:00:35, same minute
    status, headers, _ = w.call("GET", "/items")
    assert (status, headers["retry-after"]) == (429, "25")
    w.clock.advance(25)  # 12:01:00, a new minute
    assert w.call("GET", "/items")[0] == 200


def test_not_found_routes_are_counted_too() -> None:
    w = World(ApiLimits(api_key_requests_per_s_max=1, api_key_requests_per_min_max=100))
    assert w.call("GET", "/nowhere")[0] == 404
    assert w.call("GET", "/nowhere")[0] == 429


# --- failure policy and installation ---------------------------------------------------------------


class Broken:
    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise ConnectionError("table unreachable")

        return fail


def test_counters_down_let_requests_through_idempotency_store_down_refuses_writes() -> None:
    w = World()
    assert w.conventions is not None
    w.conventions.use(ConventionDeps(idempotency=Broken(), counter=Broken(), limits=w.limits, clock=w.clock))  # type: ignore[arg-type]
    assert w.call("GET", "/items")[0] == 200
    assert w.call("POST", "/items", {"name": "x"})[0] == 201  # no key: the store is not needed
    status, headers, text = w.call("POST", "/items", {"name": "y"}, idempotency_key="k1")
    assert (status, problem_code(text), headers["retry-after"]) == (503, "temporarily_unavailable", "1")
    assert w.created == ["x"]
    w.conventions.use(None)
    assert w.call("POST", "/items", {"name": "y"}, idempotency_key="k1")[0] == 201


def test_a_caller_resolver_that_fails_passes_the_request_through() -> None:
    w = World(ApiLimits(api_key_requests_per_s_max=1, api_key_requests_per_min_max=1))
    assert w.conventions is not None

    def down(headers: object) -> None:
        raise ConnectionError("entities table unreachable")

    w.conventions.use(w.deps(), caller=down)
    for _ in range(2):
        assert w.call("POST", "/items", {"name": "x"}, idempotency_key="k1")[0] == 201
    assert not w.store.records and not w.counter.minutes


def test_install_adds_the_problem_handlers_when_missing() -> None:
    app = APIGatewayRestResolver(enable_validation=True)
    w = World()
    install_api_conventions(app, caller=resolve_caller, deps=w.deps)

    @app.post("/fail")
    def fail() -> None:
        raise ApiProblem(409, "conflict", "No.")

    event = {
        "path": "/fail",
        "httpMethod": "POST",
        "headers": {"Authorization": "Bearer key-a", "Idempotency-Key": "f1"},
        "requestContext": {"stage": "Prod"},
        "body": None,
    }
    for replayed in (False, True):
        answer = app.resolve(event, Context())
        assert answer["statusCode"] == 409 and json.loads(answer["body"])["code"] == "conflict"
        headers = {k.lower(): v for k, v in (answer.get("multiValueHeaders") or {}).items()}
        assert headers["content-type"] == ["application/problem+json"]
        assert ("idempotent-replayed" in headers) is replayed
