"""Partner self-service over the deployed partner API (real HTTP, the local cloud).

register -> the confirmation token, read where a developer reads it on the local stage (the
function's log, in the local cloud's CloudWatch Logs) -> confirm -> keys -> two partners race for
one prefix (exactly one wins) -> update -> another partner's, random and deleted ids are 404 and
change nothing -> unknown and server-owned fields are 422 -> delete releases the prefix.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.notifier_log import TOKEN_LOG_MESSAGE
from smsbilling.domain.entities import PartnerService, PrefixClaim, ServiceStatus, ShortNumber
from tests.conftest import Stack

pytestmark = pytest.mark.localcloud


def confirmation_token(stack: Stack, partner_id: str, timeout_s: float = 30.0) -> str:
    """The token the logging notifier wrote to the partner API's log (local stage only)."""
    function = stack.client("cloudformation").describe_stack_resource(
        StackName=stack.cloud.name, LogicalResourceId="PartnerApiFunction"
    )["StackResourceDetail"]["PhysicalResourceId"]
    logs = stack.client("logs")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function}"}
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    line = event["message"]
                    if TOKEN_LOG_MESSAGE in line and partner_id in line:
                        return str(json.loads(line[line.index("{") :])["token"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no confirmation token for {partner_id} in the function's log within {timeout_s} s")


def call(stack: Stack, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return stack.api.request(method, path, headers=headers, **kwargs)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def register_and_confirm(stack: Stack, name: str) -> tuple[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    registered = call(stack, "POST", "/v1/partners", json={"name": name, "email": email})
    assert registered.status_code == 201, registered.text
    body = registered.json()
    partner_id, secret = body["partner"]["partner_id"], body["api_key"]["secret"]
    assert body["partner"]["status"] == "pending_confirmation" and body["confirmation"]["sent"] is True
    # Until the address is confirmed, the key authenticates but the account does nothing.
    problem(call(stack, "GET", "/v1/services", secret), 403, "partner_not_active")
    token = confirmation_token(stack, partner_id)
    confirmed = call(stack, "POST", "/v1/partners/confirm", json={"token": token})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "active", confirmed.text
    problem(call(stack, "POST", "/v1/partners/confirm", json={"token": token}), 422, "invalid_token")
    return partner_id, secret


@pytest.fixture(scope="module")
def numbers(stack: Stack) -> list[str]:
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    made = []
    for number in ("4441", "4442"):
        short = ShortNumber(operator_id=operator_id, number=number, tariff_plan_id="none")
        entities.put(short)
        made.append(short.entity_id)
    return made


def test_partner_self_service_end_to_end(stack: Stack, numbers: list[str]) -> None:
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    a_id, a_root = register_and_confirm(stack, "alpha")
    b_id, b_root = register_and_confirm(stack, "beta")

    # Keys: a scoped key for services; the root key (keys:manage) lists them without secrets.
    made = call(stack, "POST", "/v1/keys", a_root, json={"scopes": ["services:write"], "label": "deploy"})
    assert made.status_code == 201, made.text
    a_key = made.json()["secret"]
    listed = call(stack, "GET", "/v1/keys", a_root).json()["items"]
    assert {k["label"] for k in listed} == {"registration", "deploy"} and a_key not in json.dumps(listed)
    problem(call(stack, "GET", "/v1/keys", a_key), 403, "insufficient_scope")

    # The prefix is free; then both partners race for it on the first number, spelt alike.
    prefix = f"Q{uuid.uuid4().hex[:6].upper()}"
    free = call(
        stack, "GET", f"/v1/prefixes/{prefix}/availability", a_key, params={"short_numbers": numbers[0]}
    )
    assert free.status_code == 200 and free.json()["available"] is True, free.text
    bodies = [
        {
            "name": f"Quiz {n}",
            "prefix": spelling,
            "short_numbers": [numbers[0]],
            "handler_kind": "http_post_sync",
            "handler_url": "http://127.0.0.1:9/mo",  # loopback is allowed on the local stage only
        }
        for n, spelling in enumerate((prefix, prefix.lower()))
    ]
    answers: list[httpx.Response | None] = [None, None]
    barrier = threading.Barrier(2)

    def lease(n: int, key: str) -> None:
        with httpx.Client(base_url=str(stack.api.base_url), timeout=30) as client:
            barrier.wait()
            answers[n] = client.post(
                "/v1/services", json=bodies[n], headers={"Authorization": f"Bearer {key}"}
            )

    threads = [threading.Thread(target=lease, args=(n, key)) for n, key in enumerate((a_key, b_root))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(answer.status_code for answer in answers if answer is not None)
    assert statuses == [201, 409], [a.text for a in answers if a is not None]
    winner_n = next(n for n, answer in enumerate(answers) if answer is not None and answer.status_code == 201)
    loser_n = 1 - winner_n
    winner_key, loser_key = (a_key, b_root) if winner_n == 0 else (b_root, a_key)
    loser_answer = answers[loser_n]
    assert loser_answer is not None
    assert problem(loser_answer, 409, "prefix_unavailable")["reason"] == "taken"
    service = answers[winner_n].json()  # type: ignore[union-attr]
    sid = service["service_id"]
    assert service["status"] == "pending_moderation"
    claim = entities.get(PrefixClaim, f"{numbers[0]}#{prefix.lower()}")
    assert claim is not None and claim.service_id == sid
    assert call(stack, "GET", "/v1/services", loser_key).json()["items"] == []

    # Update: a rename keeps the status an admin set; a handler change goes back to moderation.
    stored = entities.get(PartnerService, sid)
    assert stored is not None
    entities.put(stored.model_copy(update={"status": ServiceStatus.ACTIVE}))
    renamed = call(stack, "PATCH", f"/v1/services/{sid}", winner_key, json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["status"] == "active", renamed.text
    moved = call(
        stack, "PATCH", f"/v1/services/{sid}", winner_key,
        json={"short_numbers": numbers, "handler_url": "http://127.0.0.1:9/other"},
    )  # fmt: skip
    assert moved.status_code == 200 and moved.json()["status"] == "pending_moderation", moved.text
    assert entities.get(PrefixClaim, f"{numbers[1]}#{prefix.lower()}") is not None
    problem(
        call(
            stack,
            "PATCH",
            f"/v1/services/{sid}",
            winner_key,
            json={"handler_url": "https://169.254.169.254/"},
        ),
        422,
        "validation_failed",
    )

    # Unknown and server-owned fields: 422, nothing changed.
    for body in ({"status": "active"}, {"partner_id": a_id}, {"colour": "blue"}):
        problem(call(stack, "PATCH", f"/v1/services/{sid}", winner_key, json=body), 422, "validation_failed")
    problem(call(stack, "POST", "/v1/services", winner_key, json={**bodies[0], "status": "active"}), 422,
            "validation_failed")  # fmt: skip

    # Another partner's id, a random id: 404 for every operation, and nothing changed.
    before = entities.get(PartnerService, sid)
    for target in (sid, "svc_" + uuid.uuid4().hex[:24]):
        problem(call(stack, "GET", f"/v1/services/{target}", loser_key), 404, "not_found")
        problem(
            call(stack, "PATCH", f"/v1/services/{target}", loser_key, json={"name": "x"}), 404, "not_found"
        )
        problem(call(stack, "DELETE", f"/v1/services/{target}", loser_key), 404, "not_found")
    assert entities.get(PartnerService, sid) == before
    b_keys = call(stack, "GET", "/v1/keys", b_root).json()["items"]
    problem(call(stack, "DELETE", f"/v1/keys/{b_keys[0]['key_id']}", a_root), 404, "not_found")

    # Delete: 204, the id is gone for every operation, and the prefix is free again.
    assert call(stack, "DELETE", f"/v1/services/{sid}", winner_key).status_code == 204
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        problem(call(stack, method, f"/v1/services/{sid}", winner_key, json=body), 404, "not_found")
    assert entities.get(PrefixClaim, f"{numbers[0]}#{prefix.lower()}") is None
    again = call(
        stack,
        "GET",
        f"/v1/prefixes/{prefix}/availability",
        loser_key,
        params={"short_numbers": ",".join(numbers)},
    )
    assert again.json()["available"] is True, again.text
    retaken = call(stack, "POST", "/v1/services", loser_key, json=bodies[loser_n])
    assert retaken.status_code == 201, retaken.text

    # Revoking: the scoped key stops working; the last manage key stays.
    a_keys = {k["label"]: k["key_id"] for k in call(stack, "GET", "/v1/keys", a_root).json()["items"]}
    assert call(stack, "DELETE", f"/v1/keys/{a_keys['deploy']}", a_root).status_code == 200
    problem(call(stack, "GET", "/v1/services", a_key), 401, "unauthenticated")
    problem(call(stack, "DELETE", f"/v1/keys/{a_keys['registration']}", a_root), 409, "last_manage_key")
    assert call(stack, "GET", "/v1/partners/me", a_root).json()["partner_id"] == a_id
    assert datetime.fromisoformat(
        call(stack, "GET", "/v1/partners/me", b_root).json()["created_at"]
    ) <= datetime.now(UTC)
    assert b_id != a_id
