"""Blacklists through the APIs: the admin's per-service lists and CSV imports (web/admin/lists.py),
and the partner's own list (web/blacklist.py), as the deployed apps serve them over in-memory stores."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.contracts import MtPurpose
from smsbilling.domain.entities import BlacklistEntry, PartnerStatus
from smsbilling.logic.blacklists import StopList, mt_refusal
from smsbilling.settings import ApiLimits, TrafficLimits
from smsbilling.web import blacklist
from tests.unit.admin.world import T0 as ADMIN_T0
from tests.unit.admin.world import AdminWorld
from tests.unit.api_partner.world import Context, World, partner_api

CSV = {"Content-Type": "text/csv"}
ROWS_MAX = 5


def entry(entities: Any, scope: str, msisdn: str) -> BlacklistEntry | None:
    found: BlacklistEntry | None = entities.get(BlacklistEntry, f"{scope}#{msisdn}")
    return found


# --- the admin API --------------------------------------------------------------------------------------


@pytest.fixture
def admin() -> Iterator[AdminWorld]:
    world = AdminWorld()
    world.add_partner("p2", PartnerStatus.ACTIVE)
    world.add_service("svc2", "p2")
    with world.serving():
        yield world


def test_admin_keeps_a_services_list_apart_from_its_partners(admin: AdminWorld) -> None:
    added = admin.post("/admin/blacklist", {"msisdn": "+44 7700 900123", "service_id": "svc1", "reason": "r"})
    assert added.status == 201, added
    assert added.json | {"created_at": None} == {
        "msisdn": "447700900123",
        "partner_id": "p1",
        "service_id": "svc1",
        "reason": "r",
        "opted_out": False,
        "created_at": None,
    }
    assert entry(admin.entities, "p1/svc1", "447700900123") is not None
    assert admin.get("/admin/blacklist?service_id=svc1").json["items"][0]["msisdn"] == "447700900123"
    assert admin.get("/admin/blacklist?partner_id=p1").json["items"] == []
    assert admin.get("/admin/blacklist/447700900123?service_id=svc1&partner_id=p1").status == 200
    assert admin.get("/admin/blacklist/447700900123?partner_id=p1").status == 404
    # a service of another partner, or none at all
    assert admin.get("/admin/blacklist?service_id=svc1&partner_id=p2").status == 404
    assert admin.get("/admin/blacklist?service_id=nothing").status == 404
    refused = admin.post("/admin/blacklist", {"msisdn": "447700900124", "service_id": "nothing"})
    assert refused.status == 422 and refused.json["errors"][0]["field"] == "service_id"
    assert admin.delete("/admin/blacklist/447700900123?service_id=svc1").status == 200
    assert entry(admin.entities, "p1/svc1", "447700900123") is None


def test_admin_imports_a_csv_idempotently_with_one_audit_record(admin: AdminWorld) -> None:
    text = "msisdn,reason\n+44 7700 900123,complained\n\n447700900124\nnonsense\n"
    first = admin.call("POST", "/admin/blacklist/import?partner_id=p2", text, headers=CSV)
    assert first.status == 200, first
    assert first.json == {
        "rows": 3,
        "added": 2,
        "already_listed": 0,
        "errors": [{"line": 5, "value": "nonsense", "reason": first.json["errors"][0]["reason"]}],
    }
    stored = entry(admin.entities, "p2", "447700900123")
    assert stored is not None and stored.reason == "complained"
    again = admin.call("POST", "/admin/blacklist/import?partner_id=p2", text, headers=CSV)
    assert (again.json["added"], again.json["already_listed"]) == (0, 2)
    imports = [item for item in admin.audit() if item["action"] == "blacklist.import"]
    assert len(imports) == 1
    assert imports[0]["changes"]["added"] == ["447700900123", "447700900124"]
    assert imports[0]["admin_key_id"] == "ops-1"


def test_admin_imports_to_the_platform_list_and_a_services(admin: AdminWorld) -> None:
    assert admin.call("POST", "/admin/blacklist/import", "447700900123\n", headers=CSV).json["added"] == 1
    assert entry(admin.entities, "*", "447700900123") is not None
    answer = admin.call("POST", "/admin/blacklist/import?service_id=svc2", "447700900123\n", headers=CSV)
    assert answer.json["added"] == 1 and entry(admin.entities, "p2/svc2", "447700900123") is not None


def test_admin_import_refusals(admin: AdminWorld) -> None:
    as_json = admin.post("/admin/blacklist/import?partner_id=p1", {"msisdn": "447700900123"})
    assert (as_json.status, as_json.code) == (415, "unsupported_media_type")
    unknown = admin.call("POST", "/admin/blacklist/import?partner_id=nobody", "447700900123\n", headers=CSV)
    assert unknown.status == 404
    many = "".join(f"4477009{n:05d}\n" for n in range(TrafficLimits().blacklist_import_rows_max + 1))
    too_many = admin.call("POST", "/admin/blacklist/import?partner_id=p1", many, headers=CSV)
    assert too_many.status == 422 and "split" in too_many.json["errors"][0]["reason"]
    assert admin.entities.blacklist("p1", limit=10) == ([], None)  # nothing of a refused import
    partner = admin.call(
        "POST",
        "/admin/blacklist/import?partner_id=p1",
        "447700900123\n",
        headers=CSV,
        key="sk_test_partner_one_0123456789",
    )
    assert partner.status == 403


def test_admin_may_lift_a_stop_but_not_write_one(admin: AdminWorld) -> None:
    StopList(admin.entities).stopped("p1", "447700900123", ADMIN_T0)
    shown = admin.get("/admin/blacklist/447700900123?partner_id=p1").json
    assert shown["opted_out"] is True and shown["reason"].startswith("STOP from subscriber")
    forged = admin.post(
        "/admin/blacklist", {"msisdn": "447700900124", "partner_id": "p1", "reason": shown["reason"]}
    )
    assert forged.status == 422 and forged.json["errors"][0]["field"] == "reason"
    assert admin.delete("/admin/blacklist/447700900123?partner_id=p1").status == 200


# --- the partner API ------------------------------------------------------------------------------------


class PartnerWorld(World):
    """The partner API with the blacklist router over the same in-memory entities."""

    def install(self, *, allow_loopback: bool) -> None:
        super().install(allow_loopback=allow_loopback)
        blacklist.use(
            blacklist.BlacklistDeps(
                entities=self.entities,
                traffic=TrafficLimits(blacklist_import_rows_max=ROWS_MAX),
                api=ApiLimits(request_body_bytes_max=4096),
                clock=self.clock,
            )
        )

    @staticmethod
    def uninstall() -> None:
        World.uninstall()
        blacklist.use(None)

    def send(
        self,
        method: str,
        path: str,
        body: str,
        *,
        key: str,
        content_type: str = "text/csv",
        base64_body: bool = False,
    ) -> tuple[int, Any]:
        """A request with a body that is not JSON."""
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {key}"}
        route, _, query = path.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&")) if query else None
        event = {
            "resource": "/v1/{proxy+}",
            "path": route,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": params,
            "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} if params else None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {"requestId": "r1", "stage": "Prod", "httpMethod": method, "path": route},
            "body": base64.b64encode(body.encode("latin-1")).decode() if base64_body else body,
            "isBase64Encoded": base64_body,
        }
        answer = partner_api.app.resolve(event, Context())
        return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


@pytest.fixture
def api() -> Iterator[PartnerWorld]:
    world = PartnerWorld()
    yield world
    PartnerWorld.uninstall()


def service_of(api: PartnerWorld, key: str, prefix: str) -> str:
    status, _, body = api.call("POST", "/v1/services", api.service_body(prefix), key=key)
    assert status == 201, body
    return str(body["service_id"])


def test_a_partner_keeps_its_own_list(api: PartnerWorld) -> None:
    partner_id, key = api.active_partner("Acme")
    status, _, added = api.call(
        "POST", "/v1/blacklist", {"msisdn": "+44 7700 900123", "reason": "r"}, key=key
    )
    assert status == 201
    assert set(added) == {"msisdn", "service_id", "reason", "opted_out", "created_at"}
    assert (added["msisdn"], added["service_id"], added["opted_out"]) == ("447700900123", None, False)
    assert api.call("POST", "/v1/blacklist", {"msisdn": "00447700900123", "reason": "r"}, key=key)[0] == 200
    other = api.call("POST", "/v1/blacklist", {"msisdn": "447700900123", "reason": "other"}, key=key)
    assert (other[0], other[2]["code"]) == (409, "already_exists")
    assert api.call("GET", "/v1/blacklist/%2B447700900123", key=key)[2]["reason"] == "r"
    status, _, page = api.call("GET", "/v1/blacklist", key=key)
    assert status == 200 and [item["msisdn"] for item in page["items"]] == ["447700900123"]
    # what the MT processor reads: the partner's entry blocks its sends
    assert mt_refusal(
        api.entities, "447700900123", partner_id=partner_id, service_id=None, purpose=MtPurpose.API
    )
    assert api.call("DELETE", "/v1/blacklist/447700900123", key=key)[0] == 200
    assert api.call("GET", "/v1/blacklist/447700900123", key=key)[0] == 404
    assert api.call("DELETE", "/v1/blacklist/447700900123", key=key)[0] == 404


def test_a_service_list_takes_only_the_callers_services(api: PartnerWorld) -> None:
    a_id, a_key = api.active_partner("Acme")
    b_id, b_key = api.active_partner("Bravo")
    a_service = service_of(api, a_key, "QUIZ")
    body = {"msisdn": "447700900123", "service_id": a_service}
    assert api.call("POST", "/v1/blacklist", body, key=a_key)[0] == 201
    assert entry(api.entities, f"{a_id}/{a_service}", "447700900123") is not None
    assert api.call("GET", "/v1/blacklist", key=a_key)[2]["items"] == []  # the partner-wide list
    listed = api.call("GET", "/v1/blacklist", key=a_key, query={"service_id": a_service})[2]["items"]
    assert [(item["msisdn"], item["service_id"]) for item in listed] == [("447700900123", a_service)]
    # Bravo names Acme's service: as if it did not exist, and nothing changes
    for method, path, payload in (
        ("GET", "/v1/blacklist", None),
        ("GET", "/v1/blacklist/447700900123", None),
        ("DELETE", "/v1/blacklist/447700900123", None),
        ("POST", "/v1/blacklist", body),
    ):
        status, _, answer = api.call(
            method, path, payload, key=b_key, query={"service_id": a_service} if payload is None else None
        )
        assert (status, answer["code"]) == (404, "not_found"), (method, path, answer)
    status, imported = api.send(
        "POST", f"/v1/blacklist/import?service_id={a_service}", "447700900124\n", key=b_key
    )
    assert status == 404 and imported["code"] == "not_found"
    assert entry(api.entities, f"{a_id}/{a_service}", "447700900124") is None
    assert api.entities.blacklist(b_id, limit=10) == ([], None)
    assert api.call("GET", "/v1/blacklist", key=a_key, query={"service_id": "random"})[0] == 404


def test_a_partner_imports_csv(api: PartnerWorld) -> None:
    partner_id, key = api.active_partner("Acme")
    text = "msisdn;reason\n+44 7700 900123;complained\n447700900124\n12;short\n"
    status, first = api.send("POST", "/v1/blacklist/import", text, key=key)
    assert status == 200, first
    assert (first["rows"], first["added"], first["already_listed"]) == (3, 2, 0)
    assert [(e["line"], e["value"]) for e in first["errors"]] == [(4, "12")]
    assert api.send("POST", "/v1/blacklist/import", text, key=key)[1]["already_listed"] == 2
    stored = entry(api.entities, partner_id, "447700900123")
    assert stored is not None and stored.reason == "complained"


def test_partner_import_refusals(api: PartnerWorld) -> None:
    partner_id, key = api.active_partner("Acme")
    as_json = api.send(
        "POST", "/v1/blacklist/import", '{"msisdn": "447700900123"}', key=key, content_type="application/json"
    )
    assert (as_json[0], as_json[1]["code"]) == (415, "unsupported_media_type")
    many = "".join(f"4477009001{n:02d}\n" for n in range(ROWS_MAX + 1))
    status, answer = api.send("POST", "/v1/blacklist/import", many, key=key)
    assert status == 422 and answer["errors"][0]["field"] == "body"
    latin1 = api.send(
        "POST", "/v1/blacklist/import", "447700900123,r\u00e9clamation\n", key=key, base64_body=True
    )
    assert latin1[0] == 422 and latin1[1]["errors"] == [{"field": "body", "reason": "not UTF-8 text"}]
    big = api.send("POST", "/v1/blacklist/import", "447700900123," + "x" * 5000, key=key)
    assert (big[0], big[1]["code"]) == (413, "payload_too_large")
    assert api.entities.blacklist(partner_id, limit=10) == ([], None)
    assert (
        api.send("POST", "/v1/blacklist/import", "447700900123\n", key="sk_nobody_0123456789abcdef")[0] == 401
    )


def test_a_read_key_reads_and_a_write_key_writes(api: PartnerWorld) -> None:
    _, key = api.active_partner("Acme")
    reader = api.key(key, ["services:read"])["secret"]
    assert api.call("GET", "/v1/blacklist", key=reader)[0] == 200
    status, _, refused = api.call("POST", "/v1/blacklist", {"msisdn": "447700900123"}, key=reader)
    assert (status, refused["code"], refused["scope"]) == (403, "insufficient_scope", "services:write")
    assert api.send("POST", "/v1/blacklist/import", "447700900123\n", key=reader)[0] == 403
    sender = api.key(key, ["messages:send"])["secret"]
    assert api.call("GET", "/v1/blacklist", key=sender)[0] == 403


def test_a_partner_cannot_lift_a_subscribers_stop(api: PartnerWorld) -> None:
    partner_id, key = api.active_partner("Acme")
    StopList(api.entities).stopped(partner_id, "447700900123", api.clock())
    status, _, shown = api.call("GET", "/v1/blacklist/447700900123", key=key)
    assert status == 200 and shown["opted_out"] is True
    status, _, refused = api.call("DELETE", "/v1/blacklist/447700900123", key=key)
    assert (status, refused["code"]) == (409, "opted_out")
    assert entry(api.entities, partner_id, "447700900123") is not None
    forged = {"msisdn": "447700900124", "reason": shown["reason"]}
    assert api.call("POST", "/v1/blacklist", forged, key=key)[0] == 422
