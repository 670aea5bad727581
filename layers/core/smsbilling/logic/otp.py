"""The "password by SMS" ready service: send a one-time code to a subscriber, verify it later.

A partner enables it per service (``PartnerService.otp_enabled``). :func:`send_code` checks the
service (the caller's, active, OTP enabled), counts the send against the subscriber's window
(at most ``sends_per_msisdn_max`` codes per ``sends_window_s`` to one MSISDN, whoever asks:
pumping one number costs nothing), draws a code with :mod:`secrets`, stores only its scrypt hash
(a 6-digit code hashed with SHA-256 would fall to a million guesses in a blink; scrypt makes that
hours, longer than any code lives) and queues ``MtRequested(purpose=OTP, billed=False)`` from the
service's first short number. :func:`verify_code` spends one attempt *before* comparing (an
atomic decrement, so parallel guesses cannot exceed the limit), compares in constant time, and
marks a match used with a conditional write (a code is good once); a verified code is counted
for the risk score's OTP conversion signal (:class:`VerifiedCounter`, logic/risk.py).

Answers (docs/partner-api-otp.md): an unknown id, or another partner's, is :class:`OtpNotFound`
(404: no way to probe other partners' ids); an expired, used or exhausted code verifies as
``valid: false`` with the reason, so a partner can tell the subscriber what to do.

An ``Idempotency-Key`` makes the send repeatable: the OTP id is derived from (partner, key), the
same key with the same request answers the stored OTP without a second SMS, and with another
request :class:`OtpKeyReused`. If the command cannot be queued the record is removed again, so a
retry with the same key sends a fresh code.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.contracts import MtPurpose, MtRequested
from smsbilling.domain.entities import PartnerService, ServiceStatus, ShortNumber
from smsbilling.domain.ids import derived_id
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn
from smsbilling.domain.secrets import hash_password, password_matches
from smsbilling.logic.mo_intake import EntityReader
from smsbilling.settings import OtpLimits

# --- errors: each maps to one problem response in web/otp.py ---------------------------------------


class OtpError(Exception):
    """Base of the errors :func:`send_code` and :func:`verify_code` raise on purpose."""


class OtpInvalid(OtpError):
    """The request is well formed but asks for something out of range (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class OtpNotFound(OtpError):
    """No such service or OTP for this partner (404)."""


class OtpServiceUnavailable(OtpError):
    """The service exists but cannot send codes now: not active, OTP not enabled (409)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class OtpRateLimited(OtpError):
    """Too many codes to this MSISDN in the current window (429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class OtpKeyReused(OtpError):
    """The Idempotency-Key was used before with another request (422)."""


# --- the stored record and the ports ---------------------------------------------------------------


class OtpState(StrEnum):
    PENDING = "pending"  # sent, not yet verified
    USED = "used"  # verified once: never again


class OtpRecord(BaseModel):
    """A code as stored: its hash, never the code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    otp_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    partner_id: str
    service_id: str
    msisdn: str
    code_hash: str = Field(repr=False)
    attempts_left: int = Field(ge=0)
    state: OtpState = OtpState.PENDING
    created_at: datetime
    expires_at: datetime
    request_fingerprint: str


class OtpStore(Protocol):
    def create(self, record: OtpRecord) -> OtpRecord | None:
        """Store ``record`` unless its id exists: None if stored, else the record that was there."""
        ...

    def get(self, otp_id: str) -> OtpRecord | None: ...

    def take_attempt(self, otp_id: str, now: datetime) -> OtpRecord | None:
        """Spend one attempt of a pending, unexpired code with attempts left (atomically).

        The record as it was *before* the decrement, or None if no attempt could be spent.
        """
        ...

    def mark_used(self, otp_id: str) -> bool:
        """pending -> used; False if it was not pending (a concurrent verify won)."""
        ...

    def delete(self, otp_id: str) -> None: ...


class SendLimiter(Protocol):
    def try_count(self, key: str, *, window_start: datetime, window_s: int, limit: int) -> bool:
        """Count one send in the window if fewer than ``limit`` were counted; False when full."""
        ...


class MtPublisher(Protocol):
    def publish_mt_requested(self, command: MtRequested) -> None: ...


class VerifiedCounter(Protocol):
    """Counts a verified code for the risk score's OTP conversion (logic/risk.py: OtpVerifications)."""

    def count_verified(self, partner_id: str, otp_id: str, at: datetime) -> None: ...


# --- sending ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtpRequest:
    partner_id: str
    service_id: str
    msisdn: str  # as the partner wrote it; normalised here
    length: int | None = None
    ttl_s: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class OtpSent:
    otp_id: str
    expires_at: datetime
    replayed: bool = False  # an Idempotency-Key replay: nothing new was sent


def send_code(
    request: OtpRequest,
    *,
    now: datetime,
    entities: EntityReader,
    store: OtpStore,
    limiter: SendLimiter,
    events: MtPublisher,
    limits: OtpLimits,
) -> OtpSent:
    length = _in_range(
        "length", request.length, limits.code_length_default, limits.code_length_min, limits.code_length_max
    )
    ttl_s = _in_range("ttl_s", request.ttl_s, limits.ttl_s_default, limits.ttl_s_min, limits.ttl_s_max)
    try:
        msisdn = normalise_msisdn(request.msisdn, default_country_code=None)
    except MsisdnError:
        raise OtpInvalid("msisdn", "not an international (E.164) number") from None
    service = entities.get(PartnerService, request.service_id)
    if service is None or service.partner_id != request.partner_id:
        raise OtpNotFound(f"no service {request.service_id}")
    if service.status is not ServiceStatus.ACTIVE:
        raise OtpServiceUnavailable("service_not_active", f"the service is {service.status.value}")
    if not service.otp_enabled:
        raise OtpServiceUnavailable("otp_not_enabled", "the password-by-SMS service is not enabled")
    source = entities.get(ShortNumber, service.short_numbers[0])
    if source is None:
        raise OtpServiceUnavailable("service_misconfigured", "the service's short number does not exist")

    fingerprint = _fingerprint(service.service_id, msisdn, length, ttl_s)
    otp_id = (
        derived_id("otp", request.partner_id, request.idempotency_key)
        if request.idempotency_key
        else uuid.uuid4().hex
    )
    if request.idempotency_key:
        earlier = store.get(otp_id)
        if earlier is not None:
            return _replay(earlier, fingerprint)

    window_start = _window_start(now, limits.sends_window_s)
    if not limiter.try_count(
        msisdn, window_start=window_start, window_s=limits.sends_window_s, limit=limits.sends_per_msisdn_max
    ):
        retry_after = window_start + timedelta(seconds=limits.sends_window_s) - now
        raise OtpRateLimited(max(1, int(retry_after.total_seconds())))

    code = "".join(secrets.choice("0123456789") for _ in range(length))
    record = OtpRecord(
        otp_id=otp_id,
        partner_id=request.partner_id,
        service_id=service.service_id,
        msisdn=msisdn,
        code_hash=hash_password(code),
        attempts_left=limits.verify_attempts_max,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        request_fingerprint=fingerprint,
    )
    earlier = store.create(record)
    if earlier is not None:  # the same key, concurrently
        return _replay(earlier, fingerprint)
    command = MtRequested(
        message_id=derived_id("otp", otp_id),
        purpose=MtPurpose.OTP,
        partner_id=service.partner_id,
        service_id=service.service_id,
        operator_id=source.operator_id,
        source=source.number,
        destination=msisdn,
        text=f"{service.name}: your code is {code}. It expires in {_minutes(ttl_s)}.",
        billed=False,
        requested_at=now,
    )
    try:
        events.publish_mt_requested(command)
    except Exception:
        store.delete(otp_id)  # not sent: a retry (same key) must be able to send a fresh code
        raise
    return OtpSent(otp_id=otp_id, expires_at=record.expires_at)


def _in_range(field: str, value: int | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not low <= value <= high:
        raise OtpInvalid(field, f"must be between {low} and {high}")
    return value


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _replay(earlier: OtpRecord, fingerprint: str) -> OtpSent:
    if not secrets.compare_digest(earlier.request_fingerprint, fingerprint):
        raise OtpKeyReused("the Idempotency-Key was used with another request")
    return OtpSent(otp_id=earlier.otp_id, expires_at=earlier.expires_at, replayed=True)


def _window_start(now: datetime, window_s: int) -> datetime:
    epoch_s = int(now.timestamp())
    return datetime.fromtimestamp(epoch_s - epoch_s % window_s, tz=now.tzinfo)


def _minutes(ttl_s: int) -> str:
    minutes = max(1, round(ttl_s / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


# --- verifying -------------------------------------------------------------------------------------


class VerifyReason(StrEnum):
    MISMATCH = "mismatch"  # wrong code; attempts may remain
    EXPIRED = "expired"
    USED = "used"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    reason: VerifyReason | None = None
    attempts_left: int = 0


def verify_code(
    partner_id: str,
    otp_id: str,
    code: str,
    *,
    now: datetime,
    store: OtpStore,
    verified: VerifiedCounter | None = None,
) -> Verification:
    record = store.get(otp_id)
    if record is None or record.partner_id != partner_id:
        raise OtpNotFound(f"no OTP {otp_id}")
    if record.state is OtpState.USED:
        return Verification(valid=False, reason=VerifyReason.USED)
    if record.expires_at <= now:
        return Verification(valid=False, reason=VerifyReason.EXPIRED)
    spent = store.take_attempt(otp_id, now)
    if spent is None:  # none left, or it changed since the read: decide from the fresh record
        return _closed(store.get(otp_id), now)
    left = spent.attempts_left - 1
    if not password_matches(code, spent.code_hash):  # constant time (hmac.compare_digest)
        return Verification(valid=False, reason=VerifyReason.MISMATCH, attempts_left=left)
    if not store.mark_used(otp_id):
        return Verification(valid=False, reason=VerifyReason.USED)
    if verified is not None:
        verified.count_verified(partner_id, otp_id, now)
    return Verification(valid=True, attempts_left=left)


def _closed(record: OtpRecord | None, now: datetime) -> Verification:
    if record is None or record.state is OtpState.USED:
        return Verification(valid=False, reason=VerifyReason.USED)
    if record.expires_at <= now:
        return Verification(valid=False, reason=VerifyReason.EXPIRED)
    return Verification(valid=False, reason=VerifyReason.ATTEMPTS_EXHAUSTED)
