"""Tenant isolation (R5): one case per partner-API operation that takes an object id in its path.

A case says how partner A gets an object of that kind, what B sends, what A can observe of the
object (to prove nothing changed), and how the object gets deleted. ``test_isolation.py`` runs
every case three ways -- B with A's id, with a random id, with a deleted id -- each expecting a
404 problem and A's object unchanged, then checks A can still use it (so a 404 is isolation, not a
broken request). ``test_every_id_operation_has_an_isolation_case`` fails for an operation the
apps serve that has no case here, naming it.

Adding a case: key it by the operation as ``"METHOD /path/{param}"`` (the OpenAPI path), create
the object the way a partner would (through the API where the API creates it), and make
``observe`` read what a change by B would show.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from smsbilling.domain.entities import HandlerKind, PartnerService, ServiceStatus
from tests.security.api import Answer, Client
from tests.security.world import PartnerHandle, World

Ids = dict[str, str]


@dataclass
class Ctx:
    """One run of a case: the world, partner A (the owner) and partner B (the intruder)."""

    world: World
    a: PartnerHandle
    b: PartnerHandle
    as_a: Client
    as_b: Client
    notes: dict[str, Any] = field(default_factory=dict)  # what a case keeps between its steps

    def api_service(self, *, active: bool = False) -> str:
        """A service of A created through the API (pending moderation; ``active``: approved by an admin)."""
        body = {
            "name": "Security test service",
            "prefix": f"S{uuid.uuid4().hex[:7].upper()}",
            "short_numbers": [self.world.short_number.entity_id],
            "handler_kind": "http_post_async",
            "handler_url": "https://partner.example/mo",
        }
        service_id = str(_created(self.as_a.post("/v1/services", body), 201)["service_id"])
        if active:
            admin = self.world.client(self.world.admin_key(), "admin")
            _created(admin.post(f"/admin/services/{service_id}/approve", {}), 200)
        return service_id

    def service(self, owner: PartnerHandle, **fields: Any) -> str:
        """An active service of ``owner`` on the world's short number (its id)."""
        service_id = f"sec-svc-{uuid.uuid4().hex[:10]}"
        values: dict[str, Any] = {
            "service_id": service_id,
            "partner_id": owner.partner_id,
            "name": "Security test service",
            "prefix": f"S{uuid.uuid4().hex[:6].upper()}",
            "short_numbers": (self.world.short_number.entity_id,),
            "handler_kind": HandlerKind.HTTP_POST_ASYNC,
            "handler_url": "https://partner.example/mo",
            "status": ServiceStatus.ACTIVE,
        } | fields
        self.world.entities.put(PartnerService(**values))
        return service_id


def _created(answer: Answer, *statuses: int) -> Any:
    assert answer.status in statuses, f"creating the object as A failed: {answer}"
    return answer.body


@dataclass(frozen=True)
class IsolationCase:
    create: Callable[[Ctx], Ids]  # as A; the path parameters of A's object
    body: Callable[[Ctx, Ids], Any]  # what B sends (a valid request: a 404 must not be a 422 in disguise)
    observe: Callable[[Ctx, Ids], Any]  # what A can see of the object; equal before and after B's calls
    delete: Callable[[Ctx, Ids], None]  # the object gone, as A would delete it (or as it expires)
    control: Callable[[Ctx, Ids], None]  # A can still use the object after B's attempts
    random_ids: Callable[[Ids], Ids] = field(default=lambda ids: {name: uuid.uuid4().hex for name in ids})


# --- POST /v1/otp/{otp_id}/verify ------------------------------------------------------------------


def _otp_create(ctx: Ctx) -> Ids:
    service_id = ctx.service(ctx.a, otp_enabled=True)
    sent = _created(ctx.as_a.post("/v1/otp", {"service_id": service_id, "msisdn": "447700900123"}), 202)
    return {"otp_id": sent["otp_id"]}


def _otp_observe(ctx: Ctx, ids: Ids) -> Any:
    record = ctx.world.otps.get(ids["otp_id"])
    return None if record is None else record.model_dump(mode="json")


def _otp_control(ctx: Ctx, ids: Ids) -> None:
    answer = ctx.as_a.post(f"/v1/otp/{ids['otp_id']}/verify", {"code": "000000"})
    assert answer.status == 200, answer
    assert answer.body["attempts_left"] == 4, f"B's attempts were counted against A's code: {answer}"


# --- POST /v1/messages/{message_id}/reply ------------------------------------------------------------


def _reply_control(ctx: Ctx, ids: Ids) -> None:
    answer = ctx.as_a.post(f"/v1/messages/{ids['message_id']}/reply", {"text": "The owner's reply"})
    assert answer.status == 202, (
        f"A cannot reply to its own MO after B's attempts (B's reply stuck?): {answer}"
    )


# --- /v1/keys/{key_id} --------------------------------------------------------------------------------


def _key_create(ctx: Ctx) -> Ids:
    created = _created(ctx.as_a.post("/v1/keys", {"label": "second key"}), 201)
    ctx.notes["secret"] = created["secret"]
    return {"key_id": created["key_id"]}


def _key_observe(ctx: Ctx, ids: Ids) -> Any:
    listed = ctx.as_a.get("/v1/keys?limit=100")
    assert listed.status == 200, listed
    return next((item for item in listed.body["items"] if item["key_id"] == ids["key_id"]), None)


def _key_control(ctx: Ctx, ids: Ids) -> None:
    me = ctx.as_a.as_key(ctx.notes["secret"]).get("/v1/partners/me")
    assert me.status == 200, f"A's key stopped working after B's attempts: {me}"
    revoked = ctx.as_a.call("DELETE", f"/v1/keys/{ids['key_id']}")
    assert revoked.status == 200 and revoked.body["revoked_at"], f"A cannot revoke its own key: {revoked}"


def _key_delete(ctx: Ctx, ids: Ids) -> None:
    _created(ctx.as_a.call("DELETE", f"/v1/keys/{ids['key_id']}"), 200)


# --- /v1/services/{service_id} and what hangs off it ---------------------------------------------------


def _service_read(ctx: Ctx, ids: Ids) -> Any:
    answer = ctx.as_a.get(f"/v1/services/{ids['service_id']}")
    assert answer.status in (200, 404), answer
    return answer.body if answer.status == 200 else None


def _service_delete(ctx: Ctx, ids: Ids) -> None:
    answer = ctx.as_a.call("DELETE", f"/v1/services/{ids['service_id']}")
    assert answer.status == 204, f"A cannot delete its own service: {answer}"


def _service_control_read(ctx: Ctx, ids: Ids) -> None:
    assert _service_read(ctx, ids) is not None, "A's service is gone after B's attempts"


def _service_control_patch(ctx: Ctx, ids: Ids) -> None:
    answer = ctx.as_a.call("PATCH", f"/v1/services/{ids['service_id']}", {"name": "Renamed by its owner"})
    assert answer.status == 200 and answer.body["name"] == "Renamed by its owner", answer


def _test_log(ctx: Ctx, ids: Ids) -> Any:
    """The log's entries (which test MOs it holds), not their progress: the test MO the case sent
    is still being delivered to the handler while B calls, so its state may move on meanwhile."""
    answer = ctx.as_a.get(f"/v1/services/{ids['service_id']}/test-log")
    if answer.status == 404:
        return None
    assert answer.status == 200, answer
    return sorted(item["message_id"] for item in answer.body["items"])


def _test_mo_create(ctx: Ctx) -> Ids:
    service_id = ctx.api_service(active=True)
    _created(ctx.as_a.post(f"/v1/services/{service_id}/test-mo", {"text": "hello from the owner"}), 202)
    return {"service_id": service_id}


def _test_mo_control(ctx: Ctx, ids: Ids) -> None:
    answer = ctx.as_a.post(f"/v1/services/{ids['service_id']}/test-mo", {"text": "the owner again"})
    assert answer.status == 202, f"A cannot test its own service: {answer}"
    assert answer.body["service_id"] == ids["service_id"]


# --- /v1/messages/{message_id} -------------------------------------------------------------------------


def _message_read(ctx: Ctx, ids: Ids) -> Any:
    answer = ctx.as_a.get(f"/v1/messages/{ids['message_id']}")
    assert answer.status in (200, 404), answer
    return answer.body if answer.status == 200 else None


def _message_control(ctx: Ctx, ids: Ids) -> None:
    body = _message_read(ctx, ids)
    assert body is not None and body["message_id"] == ids["message_id"], f"A cannot read its own MO: {body}"


# --- /v1/blacklist/{msisdn} ------------------------------------------------------------------------------


def _random_msisdn() -> str:
    return f"4477009{uuid.uuid4().int % 100_000:05d}"


def _blacklist_create(ctx: Ctx) -> Ids:
    entry = {"msisdn": f"+{_random_msisdn()}", "reason": "the owner's entry"}
    return {"msisdn": _created(ctx.as_a.post("/v1/blacklist", entry), 201)["msisdn"]}


def _blacklist_read(ctx: Ctx, ids: Ids) -> Any:
    answer = ctx.as_a.get(f"/v1/blacklist/{ids['msisdn']}")
    assert answer.status in (200, 404), answer
    return answer.body if answer.status == 200 else None


def _blacklist_delete(ctx: Ctx, ids: Ids) -> None:
    _created(ctx.as_a.call("DELETE", f"/v1/blacklist/{ids['msisdn']}"), 200)


def _blacklist_control_read(ctx: Ctx, ids: Ids) -> None:
    body = _blacklist_read(ctx, ids)
    assert body is not None and body["reason"] == "the owner's entry", f"A's entry changed: {body}"


CASES: dict[str, IsolationCase] = {
    "DELETE /v1/keys/{key_id}": IsolationCase(
        create=_key_create,
        body=lambda ctx, ids: None,
        observe=_key_observe,
        delete=_key_delete,  # a revoked key
        control=_key_control,
    ),
    "GET /v1/services/{service_id}": IsolationCase(
        create=lambda ctx: {"service_id": ctx.api_service()},
        body=lambda ctx, ids: None,
        observe=_service_read,
        delete=_service_delete,
        control=_service_control_read,
    ),
    "PATCH /v1/services/{service_id}": IsolationCase(
        create=lambda ctx: {"service_id": ctx.api_service()},
        body=lambda ctx, ids: {
            "name": "Renamed by an intruder",
            "handler_url": "https://intruder.example/mo",
        },
        observe=_service_read,
        delete=_service_delete,
        control=_service_control_patch,
    ),
    "DELETE /v1/services/{service_id}": IsolationCase(
        create=lambda ctx: {"service_id": ctx.api_service()},
        body=lambda ctx, ids: None,
        observe=_service_read,
        delete=_service_delete,
        control=_service_delete,  # the owner can
    ),
    "GET /v1/services/{service_id}/test-log": IsolationCase(
        create=_test_mo_create,
        body=lambda ctx, ids: None,
        observe=_test_log,
        delete=_service_delete,
        control=lambda ctx, ids: _assert_listed(_test_log(ctx, ids)),
    ),
    "POST /v1/services/{service_id}/test-mo": IsolationCase(
        create=_test_mo_create,
        body=lambda ctx, ids: {"text": "hello from an intruder"},
        observe=_test_log,
        delete=_service_delete,
        control=_test_mo_control,
    ),
    "GET /v1/messages/{message_id}": IsolationCase(
        create=lambda ctx: {"message_id": ctx.world.routed_mo(ctx.a, ctx.service(ctx.a))},
        body=lambda ctx, ids: None,
        observe=_message_read,
        delete=lambda ctx, ids: ctx.world.forget_mo(ids["message_id"]),  # as its TTL removes it
        control=_message_control,
    ),
    "POST /v1/otp/{otp_id}/verify": IsolationCase(
        create=_otp_create,
        body=lambda ctx, ids: {"code": "123456"},
        observe=_otp_observe,
        delete=lambda ctx, ids: ctx.world.forget_otp(ids["otp_id"]),  # as its TTL removes it
        control=_otp_control,
    ),
    "GET /v1/blacklist/{msisdn}": IsolationCase(
        create=_blacklist_create,
        body=lambda ctx, ids: None,
        observe=_blacklist_read,
        delete=_blacklist_delete,
        control=_blacklist_control_read,
        random_ids=lambda ids: {"msisdn": _random_msisdn()},
    ),
    "DELETE /v1/blacklist/{msisdn}": IsolationCase(
        create=_blacklist_create,
        body=lambda ctx, ids: None,
        observe=_blacklist_read,
        delete=_blacklist_delete,
        control=_blacklist_delete,  # the owner can
        random_ids=lambda ids: {"msisdn": _random_msisdn()},
    ),
    "POST /v1/messages/{message_id}/reply": IsolationCase(
        create=lambda ctx: {"message_id": ctx.world.routed_mo(ctx.a, ctx.service(ctx.a))},
        body=lambda ctx, ids: {"text": "An intruder's reply"},
        observe=lambda ctx, ids: _mo_state(ctx, ids["message_id"]),
        delete=lambda ctx, ids: ctx.world.forget_mo(ids["message_id"]),  # as its TTL removes it
        control=_reply_control,
    ),
}


def _mo_state(ctx: Ctx, message_id: str) -> Any:
    mo = ctx.world.mos.get(message_id)
    return None if mo is None else mo.model_dump(mode="json")


def _assert_listed(items: Any) -> None:
    assert items, "A's test log is empty: its own test MO is not listed"


# --- operations whose path parameter is not an object of a partner --------------------------------------


def _availability_of_a_taken_prefix(ctx: Ctx) -> None:
    """A prefix is a word, not A's object: every partner may ask whether it is free. B learns that
    A's prefix is taken, and nothing about who holds it."""
    service_id = ctx.api_service()
    prefix = _service_read(ctx, {"service_id": service_id})["prefix"]
    number = quote(ctx.world.short_number.entity_id, safe="")
    path = f"/v1/prefixes/{quote(prefix, safe='')}/availability?short_numbers={number}"
    seen_by_b = ctx.as_b.get(path)
    assert seen_by_b.status == 200 and seen_by_b.body["available"] is False, seen_by_b
    assert seen_by_b.body["reason"] == "taken", seen_by_b
    shown = str(seen_by_b.body)
    assert service_id not in shown and ctx.a.partner_id not in shown, f"B sees who holds it: {seen_by_b}"
    seen_by_a = ctx.as_a.get(path)
    assert seen_by_a.status == 200 and seen_by_a.body["reason"] == "yours", seen_by_a


# Operation -> the check that stands in for an isolation case, with why it is not one.
NOT_TENANT_OBJECTS: dict[str, Callable[[Ctx], None]] = {
    "GET /v1/prefixes/{prefix}/availability": _availability_of_a_taken_prefix,
}
