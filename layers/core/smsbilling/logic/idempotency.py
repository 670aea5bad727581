"""``Idempotency-Key`` on the APIs: claim, replay, conflict (docs/api-conventions.md).

A client that sends ``Idempotency-Key`` with a write (POST, PUT, PATCH, DELETE) may repeat it
safely. The key is scoped to the caller (a partner, or one admin credential) and kept at least
``idempotency_key_ttl_s`` (24 h) after the answer:

* first use: :func:`begin` *claims* the key with a conditional write (an in-flight record with a
  lease and a random token) and the request runs; :func:`finish` stores its answer under the
  token, or releases the claim when the answer must not be kept (5xx, 429, too large), so a retry
  runs again;
* the same key and the same request again: :class:`Replay` of the stored answer;
* the same key with another request (method, path, query or body): :class:`KeyReused` (422);
* the same key while the first request still runs: :class:`InFlight` (409 with Retry-After).
  A claim whose lease ran out (the function crashed or timed out) may be taken over.

This caches *answers*; it does not make an effect happen once by itself. A crash between a write
and :func:`finish` leaves a claim that expires after its lease, and the retry runs the handler
again. Routes that create or move something therefore also derive the id of their write from the
key (``derived_id(partner, key)``, as the OTP and ledger writes do), so a rerun finds it done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.settings import ApiLimits

# --- the stored record and the port ----------------------------------------------------------------


class StoredResponse(BaseModel):
    """An answer as replayed: status, headers (every value a list) and the body as sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int = Field(ge=100, le=599)
    headers: dict[str, list[str]] = Field(default_factory=dict)
    body: str = ""
    body_base64: bool = False  # the body is base64 of bytes (binary answers)

    def size_bytes(self) -> int:
        return len(self.model_dump_json().encode())


class IdempotencyRecord(BaseModel):
    """One key of one caller: in flight (no response yet) or done (its response)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str = Field(min_length=1, max_length=200)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    token: str = Field(min_length=1, max_length=64)
    created_at: datetime
    lease_until: datetime
    expires_at: datetime
    response: StoredResponse | None = None

    def blocks(self, now: datetime) -> bool:
        """Whether this record still holds its key at ``now`` (else a claim may replace it)."""
        if self.expires_at <= now:
            return False
        return self.response is not None or self.lease_until > now


class IdempotencyStore(Protocol):
    """Records by (scope, key hash). Implementations: adapters.memory_idempotency, .dynamodb_idempotency;
    one suite: tests/contract/test_idempotency_contract.py."""

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        """Store the in-flight ``record`` unless a record that :meth:`~IdempotencyRecord.blocks` at
        ``now`` holds its key. None when claimed, else the blocking record (atomic: of racing
        claims exactly one gets None)."""
        ...

    def complete(
        self, scope: str, key_hash: str, token: str, response: StoredResponse, expires_at: datetime
    ) -> bool:
        """Store the answer on the in-flight record holding ``token``; False if it no longer does."""
        ...

    def release(self, scope: str, key_hash: str, token: str) -> None:
        """Remove the in-flight record holding ``token`` (nothing if it no longer does)."""
        ...

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None: ...


# --- outcomes of begin -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proceed:
    """The key is ours: run the request, then :func:`finish` (or :func:`abandon`) with this claim."""

    claim: IdempotencyRecord


@dataclass(frozen=True, slots=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key was used with another request (422 ``idempotency_key_reused``)."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """The same request with this key is running now (409 ``idempotency_key_in_flight``)."""

    retry_after_s: int


type Outcome = Proceed | Replay | KeyReused | InFlight


# --- pure helpers ----------------------------------------------------------------------------------


def key_hash(key: str) -> str:
    """The stored form of a key: any characters, a fixed-size sort key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_problem(key: str, limits: ApiLimits) -> str | None:
    """Why ``key`` cannot be used (a sentence for the 400 answer), or None."""
    if not key.strip():
        return "Idempotency-Key must not be empty."
    if len(key) > limits.idempotency_key_chars_max:
        return f"Idempotency-Key must be at most {limits.idempotency_key_chars_max} characters."
    return None


def fingerprint(method: str, path: str, query: dict[str, list[str]], body: str | None) -> str:
    """What "the same request" means: method, path, query and body (JSON compared by value)."""
    canonical_body = body or ""
    if canonical_body:
        with contextlib.suppress(ValueError):  # not JSON: compared byte for byte
            canonical_body = json.dumps(json.loads(canonical_body), sort_keys=True, separators=(",", ":"))
    canonical_query = sorted((name, sorted(values)) for name, values in query.items())
    material = json.dumps([method.upper(), path, canonical_query, canonical_body], separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def storable(response: StoredResponse, limits: ApiLimits) -> bool:
    """5xx and 429 are worth a retry, so they are not kept; nor is an answer too large to store."""
    if response.status >= 500 or response.status == 429:
        return False
    return response.size_bytes() <= limits.idempotency_response_bytes_max


# --- orchestration ---------------------------------------------------------------------------------


def begin(
    store: IdempotencyStore,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    now: datetime,
    limits: ApiLimits,
) -> Outcome:
    record = IdempotencyRecord(
        scope=scope,
        key_hash=key_hash(key),
        fingerprint=request_fingerprint,
        token=uuid.uuid4().hex,
        created_at=now,
        lease_until=now + timedelta(seconds=limits.idempotency_lease_s),
        expires_at=now + timedelta(seconds=limits.idempotency_key_ttl_s),
    )
    existing = store.claim(record, now)
    if existing is None:
        return Proceed(record)
    if existing.fingerprint != request_fingerprint:
        return KeyReused()
    if existing.response is None:
        return InFlight(retry_after_s=limits.idempotency_in_flight_retry_after_s)
    return Replay(existing.response)


def finish(
    store: IdempotencyStore,
    claim: IdempotencyRecord,
    response: StoredResponse,
    *,
    now: datetime,
    limits: ApiLimits,
) -> bool:
    """Keep the answer (True), or release the claim when it is not to be kept (False)."""
    if not storable(response, limits):
        abandon(store, claim)
        return False
    expires_at = now + timedelta(seconds=limits.idempotency_key_ttl_s)
    return store.complete(claim.scope, claim.key_hash, claim.token, response, expires_at)


def abandon(store: IdempotencyStore, claim: IdempotencyRecord) -> None:
    """The request failed without an answer worth keeping: a retry with the key runs again."""
    store.release(claim.scope, claim.key_hash, claim.token)
