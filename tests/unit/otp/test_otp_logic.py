"""Password by SMS: sending and verifying codes over the in-memory fakes."""

from __future__ import annotations

import collections
from datetime import timedelta

import pytest

from smsbilling.adapters.sqs_events import PublishFailed
from smsbilling.contracts import MtPurpose
from smsbilling.domain.entities import ServiceStatus
from smsbilling.logic import otp
from smsbilling.logic.otp import OtpRequest, VerifyReason
from smsbilling.settings import OtpLimits

from .world import OtpWorld


def send(w: OtpWorld, **changes: object) -> otp.OtpSent:
    values: dict[str, object] = {
        "partner_id": "p1",
        "service_id": "otp1",
        "msisdn": "+44 7700 900123",
    } | changes
    return otp.send_code(
        OtpRequest(**values),  # type: ignore[arg-type]
        now=w.clock(),
        entities=w.entities,
        store=w.store,
        limiter=w.limiter,
        events=w.events,
        limits=w.limits,
    )


def verify(w: OtpWorld, otp_id: str, code: str, partner_id: str = "p1") -> otp.Verification:
    return otp.verify_code(partner_id, otp_id, code, now=w.clock(), store=w.store)


def test_send_queues_one_unbilled_otp_sms_from_the_first_short_number() -> None:
    w = OtpWorld()
    sent = send(w, length=8, ttl_s=120)
    (sms,) = w.events.mt
    assert sms.purpose is MtPurpose.OTP and not sms.billed
    assert (sms.source, sms.operator_id, sms.destination) == ("4444", "op1", "447700900123")
    assert (sms.partner_id, sms.service_id) == ("p1", "otp1")
    code = w.code_of(sent.otp_id)
    assert len(code) == 8 and code.isdigit()
    assert sms.text == f"Acme Bank: your code is {code}. It expires in 2 minutes."
    assert sent.expires_at == w.clock.now + timedelta(seconds=120)
    record = w.store.get(sent.otp_id)
    assert record is not None and code not in record.model_dump_json()  # only the hash is stored
    assert record.attempts_left == w.limits.verify_attempts_max


def test_codes_are_random_and_of_the_default_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otp, "hash_password", lambda code: f"fast${code}")  # scrypt is slow on purpose
    w = OtpWorld(OtpLimits(sends_per_msisdn_max=1000))
    codes = [w.code_of(send(w).otp_id) for _ in range(200)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 190  # 200 draws from a million: a repeat or two at most
    first_digits = collections.Counter(c[0] for c in codes)
    assert len(first_digits) == 10  # leading zeros too


def test_a_code_verifies_once() -> None:
    w = OtpWorld()
    sent = send(w)
    code = w.code_of(sent.otp_id)
    assert verify(w, sent.otp_id, code) == otp.Verification(valid=True, attempts_left=4)
    assert verify(w, sent.otp_id, code) == otp.Verification(valid=False, reason=VerifyReason.USED)


def test_wrong_codes_spend_attempts_then_even_the_right_one_fails() -> None:
    w = OtpWorld(OtpLimits(verify_attempts_max=3))
    sent = send(w)
    code = w.code_of(sent.otp_id)
    wrong = "000000" if code != "000000" else "111111"
    results = [verify(w, sent.otp_id, wrong) for _ in range(3)]
    assert [(r.valid, r.reason, r.attempts_left) for r in results] == [
        (False, VerifyReason.MISMATCH, 2),
        (False, VerifyReason.MISMATCH, 1),
        (False, VerifyReason.MISMATCH, 0),
    ]
    assert verify(w, sent.otp_id, code) == otp.Verification(
        valid=False, reason=VerifyReason.ATTEMPTS_EXHAUSTED
    )


def test_an_expired_code_does_not_verify() -> None:
    w = OtpWorld()
    sent = send(w, ttl_s=60)
    code = w.code_of(sent.otp_id)
    w.clock.advance(60)
    assert verify(w, sent.otp_id, code) == otp.Verification(valid=False, reason=VerifyReason.EXPIRED)


def test_unknown_and_other_partners_otps_are_not_found() -> None:
    w = OtpWorld()
    sent = send(w)
    with pytest.raises(otp.OtpNotFound):
        verify(w, sent.otp_id, w.code_of(sent.otp_id), partner_id="p2")
    with pytest.raises(otp.OtpNotFound):
        verify(w, "0" * 32, "123456")
    assert w.store.get(sent.otp_id).attempts_left == w.limits.verify_attempts_max  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"service_id": "otp2"}, otp.OtpNotFound),  # p2's service
        ({"service_id": "nope"}, otp.OtpNotFound),
        ({"length": 3}, otp.OtpInvalid),
        ({"length": 11}, otp.OtpInvalid),
        ({"ttl_s": 5}, otp.OtpInvalid),
        ({"ttl_s": 86_400}, otp.OtpInvalid),
        ({"msisdn": "07700 900123"}, otp.OtpInvalid),  # national: no country
        ({"msisdn": "call me"}, otp.OtpInvalid),
    ],
)
def test_bad_requests_send_nothing(changes: dict[str, object], error: type[Exception]) -> None:
    w = OtpWorld()
    with pytest.raises(error):
        send(w, **changes)
    assert not w.events.mt and not w.store.records and not w.limiter.counts


@pytest.mark.parametrize(
    ("status", "enabled", "code"),
    [
        (ServiceStatus.SUSPENDED, True, "service_not_active"),
        (ServiceStatus.PENDING_MODERATION, True, "service_not_active"),
        (ServiceStatus.ACTIVE, False, "otp_not_enabled"),
    ],
)
def test_service_must_be_active_with_otp_enabled(status: ServiceStatus, enabled: bool, code: str) -> None:
    w = OtpWorld()
    w.service("otp1", "p1", status=status, otp_enabled=enabled)
    with pytest.raises(otp.OtpServiceUnavailable) as raised:
        send(w)
    assert raised.value.code == code and not w.events.mt


def test_sends_per_msisdn_are_limited_per_window_across_partners() -> None:
    w = OtpWorld(OtpLimits(sends_per_msisdn_max=3, sends_window_s=600))
    w.clock.now = w.clock.now.replace(minute=0, second=0) + timedelta(seconds=100)
    for _ in range(2):
        send(w)
    send(w, partner_id="p2", service_id="otp2")
    with pytest.raises(otp.OtpRateLimited) as raised:
        send(w)
    assert raised.value.retry_after_s == 500
    send(w, msisdn="447700900999")  # another subscriber is not affected
    assert len(w.events.mt) == 4
    w.clock.advance(500)
    send(w)
    assert len(w.events.mt) == 5


def test_idempotency_key_replays_without_a_second_sms() -> None:
    w = OtpWorld()
    first = send(w, idempotency_key="k1")
    again = send(w, idempotency_key="k1")
    assert (again.otp_id, again.expires_at, again.replayed) == (first.otp_id, first.expires_at, True)
    assert len(w.events.mt) == 1
    with pytest.raises(otp.OtpKeyReused):
        send(w, idempotency_key="k1", msisdn="447700900999")
    other_partner = send(w, idempotency_key="k1", partner_id="p2", service_id="otp2")
    assert other_partner.otp_id != first.otp_id and len(w.events.mt) == 2


def test_a_code_that_could_not_be_queued_is_not_kept() -> None:
    w = OtpWorld()
    w.events.fail = True
    with pytest.raises(PublishFailed):
        send(w, idempotency_key="k2")
    assert not w.store.records
    w.events.fail = False
    sent = send(w, idempotency_key="k2")  # the retry sends a fresh code
    assert not sent.replayed and len(w.events.mt) == 1
    assert verify(w, sent.otp_id, w.code_of(sent.otp_id)).valid
