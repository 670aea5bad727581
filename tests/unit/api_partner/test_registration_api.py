"""Registration and e-mail confirmation over the partner API (web/partners.py), on the fakes."""

from __future__ import annotations

from smsbilling.domain.entities import ConfirmationToken, Partner, PartnerEmail, PartnerStatus
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import PartnerAccountLimits

from .world import World


def test_registration_creates_a_pending_partner_with_a_key_shown_once(world: World) -> None:
    body = world.register("Acme", "Sales@Example.com")
    partner, key = body["partner"], body["api_key"]
    assert set(body) == {"partner", "api_key", "confirmation"}
    assert partner["status"] == "pending_confirmation" and partner["email"] == "Sales@Example.com"
    assert set(key) == {"key_id", "label", "scopes", "hint", "created_at", "revoked_at", "secret"}
    assert key["secret"].startswith("sk_") and key["hint"] == key["secret"][-4:]
    assert "keys:manage" in key["scopes"] and "services:write" in key["scopes"]
    assert body["confirmation"]["sent"] is True
    # At rest: the key and the token as hashes only, the address claimed in lower case.
    stored = world.entities.get(Partner, partner["partner_id"])
    assert stored is not None and stored.status is PartnerStatus.PENDING_CONFIRMATION
    token = world.notifier.token_for("Sales@Example.com")
    assert world.entities.get(ConfirmationToken, hash_token(token)) is not None
    claim = world.entities.get(PartnerEmail, "sales@example.com")
    assert claim is not None and claim.token_hash == hash_token(token)
    dumped = repr([e.model_dump() for e in world.entities.items.values()])
    assert key["secret"] not in dumped and token not in dumped


def test_the_key_works_only_after_confirmation(world: World) -> None:
    body = world.register("Acme")
    secret = body["api_key"]["secret"]
    status, _, me = world.call("GET", "/v1/partners/me", key=secret)
    assert status == 200 and me["status"] == "pending_confirmation"
    status, _, problem = world.call("GET", "/v1/services", key=secret)
    assert status == 403 and problem["code"] == "partner_not_active"
    status, _, _ = world.call("POST", "/v1/services", world.service_body(), key=secret)
    assert status == 403

    token = world.notifier.token_for("acme@example.com")
    status, _, confirmed = world.call("POST", "/v1/partners/confirm", {"token": token})
    assert status == 200 and confirmed["status"] == "active"
    assert world.call("GET", "/v1/services", key=secret)[0] == 200
    claim = world.entities.get(PartnerEmail, "acme@example.com")
    assert claim is not None and claim.confirmed_at == world.clock.now and claim.token_hash is None


def test_a_token_is_single_use(world: World) -> None:
    world.register("Acme")
    token = world.notifier.token_for("acme@example.com")
    assert world.call("POST", "/v1/partners/confirm", {"token": token})[0] == 200
    status, headers, problem = world.call("POST", "/v1/partners/confirm", {"token": token})
    assert status == 422 and problem["code"] == "invalid_token"
    assert headers["content-type"] == "application/problem+json"
    assert world.entities.get(ConfirmationToken, hash_token(token)) is None


def test_an_expired_token_is_refused_and_a_new_one_replaces_it() -> None:
    world = World(PartnerAccountLimits(confirmation_token_ttl_s=600))
    try:
        partner_id = world.register("Acme")["partner"]["partner_id"]
        old = world.notifier.token_for("acme@example.com")
        world.clock.advance(601)
        status, _, problem = world.call("POST", "/v1/partners/confirm", {"token": old})
        assert status == 422 and problem["code"] == "token_expired"

        status, _, body = world.call("POST", "/v1/partners/confirm/resend", {"email": "ACME@example.com"})
        assert status == 202 and body == {"accepted": True}
        new = world.notifier.token_for("acme@example.com")
        assert new != old
        assert world.entities.get(ConfirmationToken, hash_token(old)) is None  # replaced, not kept
        assert world.call("POST", "/v1/partners/confirm", {"token": old})[2]["code"] == "invalid_token"
        assert world.call("POST", "/v1/partners/confirm", {"token": new})[0] == 200
        partner = world.entities.get(Partner, partner_id)
        assert partner is not None and partner.status is PartnerStatus.ACTIVE
    finally:
        World.uninstall()


def test_resend_answers_alike_for_unknown_and_confirmed_addresses(world: World) -> None:
    world.active_partner("Acme")
    sent = len(world.notifier.notices)
    for email in ("nobody@example.com", "acme@example.com"):
        status, _, body = world.call("POST", "/v1/partners/confirm/resend", {"email": email})
        assert (status, body) == (202, {"accepted": True})
    assert len(world.notifier.notices) == sent


def test_unknown_tokens_are_refused(world: World) -> None:
    for token in ("ct_nothing", "x" * 256):
        status, _, problem = world.call("POST", "/v1/partners/confirm", {"token": token})
        assert status == 422 and problem["code"] == "invalid_token"


def test_one_partner_per_address(world: World) -> None:
    world.register("Acme", "owner@example.com")
    before = dict(world.entities.items)
    status, _, problem = world.call("POST", "/v1/partners", {"name": "Other", "email": " OWNER@example.com "})
    assert status == 409 and problem["code"] == "email_taken"
    assert world.entities.items == before


def test_registration_refuses_unknown_and_server_owned_fields(world: World) -> None:
    for extra in (
        {"status": "active"},
        {"partner_id": "mine"},
        {"created_at": "2026-01-01T00:00:00Z"},
        {"x": 1},
    ):
        status, _, problem = world.call(
            "POST", "/v1/partners", {"name": "A", "email": "a@example.com", **extra}
        )
        assert status == 422 and problem["code"] == "validation_failed", extra
        assert problem["errors"][0]["field"] == next(iter(extra))
    assert not any(isinstance(e, Partner) for e in world.entities.items.values())


def test_registration_validates_the_address_and_the_referrer(world: World) -> None:
    for email in ("not-an-address", "a@b", "a b@example.com", "a@@example.com", "a@example.com\nX"):
        status, _, problem = world.call("POST", "/v1/partners", {"name": "A", "email": email})
        assert status == 422 and problem["errors"][0]["field"] == "email", email
    status, _, problem = world.call(
        "POST", "/v1/partners", {"name": "A", "email": "a@example.com", "referrer_id": "ptr_nobody"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "referrer_id"
    referrer_id, _ = world.active_partner("Ref")
    body = world.register("Referred", referrer_id=referrer_id)
    assert body["partner"]["referrer_id"] == referrer_id


def test_registrations_are_limited_per_source_address() -> None:
    world = World(PartnerAccountLimits(registrations_per_ip_max=2, registrations_window_s=3600))
    try:
        for n in range(2):
            assert world.call("POST", "/v1/partners", {"name": "A", "email": f"a{n}@example.com"})[0] == 201
        status, headers, problem = world.call(
            "POST", "/v1/partners", {"name": "A", "email": "a9@example.com"}
        )
        assert status == 429 and problem["code"] == "rate_limited"
        assert 0 < int(headers["retry-after"]) <= 3600
        assert world.entities.get(PartnerEmail, "a9@example.com") is None
        # Another address is counted on its own; the next window starts afresh.
        other = world.call(
            "POST", "/v1/partners", {"name": "A", "email": "b@example.com"}, source_ip="198.51.100.1"
        )
        assert other[0] == 201
        world.clock.advance(3600)
        assert world.call("POST", "/v1/partners", {"name": "A", "email": "a9@example.com"})[0] == 201
    finally:
        World.uninstall()


def test_a_failed_notification_keeps_the_registration(world: World) -> None:
    world.notifier.failing = True
    body = world.register("Acme")
    assert body["confirmation"]["sent"] is False and body["api_key"]["secret"]
    world.notifier.failing = False
    assert world.call("POST", "/v1/partners/confirm/resend", {"email": "acme@example.com"})[0] == 202
    token = world.notifier.token_for("acme@example.com")
    assert world.call("POST", "/v1/partners/confirm", {"token": token})[0] == 200


def test_a_suspended_partner_cannot_confirm_into_activity(world: World) -> None:
    partner_id = world.register("Acme")["partner"]["partner_id"]
    stored = world.entities.get(Partner, partner_id)
    assert stored is not None
    world.entities.put(stored.model_copy(update={"status": PartnerStatus.SUSPENDED}))
    token = world.notifier.token_for("acme@example.com")
    status, _, problem = world.call("POST", "/v1/partners/confirm", {"token": token})
    assert status == 409 and problem["code"] == "conflict"
    after = world.entities.get(Partner, partner_id)
    assert after is not None and after.status is PartnerStatus.SUSPENDED
