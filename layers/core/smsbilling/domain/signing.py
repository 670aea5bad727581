"""Signed callbacks (R9): HMAC-SHA256 over the timestamp and the raw body, with key rotation.

Every request the platform sends to a partner carries::

    X-Smsbilling-Signature: t=1718000000,v1=<64 hex>[,v1=<64 hex>...]

``t`` is the signing time (Unix seconds); each ``v1`` is ``HMAC-SHA256(secret, f"{t}." + body)``
in lowercase hex, one per active secret, so a partner rotating its secret keeps verifying while
both are active. The verifier accepts when any ``v1`` matches any of its secrets and ``t`` is
within the tolerance window *in both directions* (a clock running ahead is as suspect as a
replay). Comparison is constant-time (:func:`hmac.compare_digest`).

The parser is strict where leniency would let a mutated header through: the timestamp is ASCII
decimal digits in canonical form, signatures are exactly 64 lowercase hex digits, a key appears
with ``=`` and no whitespace inside the value. Keys other than ``t`` and ``v1`` are skipped so a
future scheme (``v2``) can be added without breaking today's verifiers. Every refusal is a
:class:`SignatureError` with a :class:`SignatureFailure` code; nothing else escapes.

Pure: ``now`` is an argument, secrets are arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

SIGNATURE_HEADER = "X-Smsbilling-Signature"
SCHEME = "v1"
TOLERANCE_S_DEFAULT = 300
SECRET_CHARS_MIN = 16  # platform-issued secrets are 256-bit tokens; this refuses obvious mistakes
SECRETS_MAX = 8  # active secrets per signer (rotation needs two)
HEADER_CHARS_MAX = 1024  # 8 signatures with the timestamp fit in about 600
HEADER_ITEMS_MAX = 16

_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}", re.ASCII)
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}", re.ASCII)
_KEY = re.compile(r"[a-z][a-z0-9]{0,15}", re.ASCII)


class SignatureFailure(StrEnum):
    NO_SECRETS = "no_secrets"  # the signer or verifier has no usable secret (configuration)
    MALFORMED = "malformed_header"  # not a list of key=value items, too long, duplicated t
    MISSING_TIMESTAMP = "missing_timestamp"
    INVALID_TIMESTAMP = "invalid_timestamp"
    MISSING_SIGNATURE = "missing_signature"  # no v1 item
    INVALID_SIGNATURE = "invalid_signature"  # a v1 that is not 64 lowercase hex digits
    TOO_MANY_SIGNATURES = "too_many_signatures"
    OUTSIDE_TOLERANCE = "timestamp_outside_tolerance"
    MISMATCH = "no_matching_signature"


class SignatureError(Exception):
    """The one error of this module: a refused header (or an unusable secret list)."""

    def __init__(self, failure: SignatureFailure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    timestamp_text: str
    signatures: tuple[str, ...]


def signed_payload(timestamp: int | str, body: bytes) -> bytes:
    """The bytes the MAC covers: the decimal timestamp, a dot, then the raw body."""
    return f"{timestamp}.".encode("ascii") + body


def _mac(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def _usable_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(secrets, str):  # a bare string is a sequence of one-char "secrets": refuse it
        raise SignatureError(SignatureFailure.NO_SECRETS, "pass a sequence of secrets, not a string")
    unique = tuple(dict.fromkeys(secrets))
    if not unique:
        raise SignatureError(SignatureFailure.NO_SECRETS, "no secret configured")
    if len(unique) > SECRETS_MAX:
        raise SignatureError(SignatureFailure.NO_SECRETS, f"more than {SECRETS_MAX} active secrets")
    if any(len(secret) < SECRET_CHARS_MIN for secret in unique):
        raise SignatureError(SignatureFailure.NO_SECRETS, f"a secret shorter than {SECRET_CHARS_MIN} chars")
    return unique


def sign(body: bytes, secrets: Sequence[str], now: int) -> str:
    """The signature header value for ``body`` at ``now``: one ``v1`` per distinct secret, in order."""
    if now < 0:
        raise SignatureError(SignatureFailure.INVALID_TIMESTAMP, "negative time")
    payload = signed_payload(now, body)
    items = [f"t={now}", *(f"{SCHEME}={_mac(secret, payload)}" for secret in _usable_secrets(secrets))]
    return ",".join(items)


def _split_items(header: str) -> list[tuple[str, str]]:
    value = header.strip(" \t")
    if not value or len(value) > HEADER_CHARS_MAX:
        raise SignatureError(SignatureFailure.MALFORMED, "empty or longer than the limit")
    parts = value.split(",")
    if len(parts) > HEADER_ITEMS_MAX:
        raise SignatureError(SignatureFailure.MALFORMED, f"more than {HEADER_ITEMS_MAX} items")
    items: list[tuple[str, str]] = []
    for part in parts:
        key, sep, item_value = part.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise SignatureError(SignatureFailure.MALFORMED, "items must be key=value")
        items.append((key, item_value))
    return items


def _parse_timestamp(values: list[str]) -> str:
    if not values:
        raise SignatureError(SignatureFailure.MISSING_TIMESTAMP)
    if len(values) > 1:
        raise SignatureError(SignatureFailure.MALFORMED, "more than one t")
    if not _TIMESTAMP.fullmatch(values[0]):
        raise SignatureError(SignatureFailure.INVALID_TIMESTAMP, "t must be canonical decimal seconds")
    return values[0]


def _parse_signatures(values: list[str]) -> tuple[str, ...]:
    if not values:
        raise SignatureError(SignatureFailure.MISSING_SIGNATURE)
    if len(values) > SECRETS_MAX:
        raise SignatureError(SignatureFailure.TOO_MANY_SIGNATURES, f"more than {SECRETS_MAX}")
    if not all(_HEX_SIGNATURE.fullmatch(value) for value in values):
        raise SignatureError(SignatureFailure.INVALID_SIGNATURE, "v1 must be 64 lowercase hex digits")
    return tuple(values)


def parse_header(header: str) -> ParsedSignature:
    """Split a header value into its timestamp and ``v1`` signatures; SignatureError if malformed."""
    items = _split_items(header)
    text = _parse_timestamp([value for key, value in items if key == "t"])
    signatures = _parse_signatures([value for key, value in items if key == SCHEME])
    return ParsedSignature(timestamp=int(text), timestamp_text=text, signatures=signatures)


def verify(
    body: bytes,
    header: str,
    secrets: Sequence[str],
    now: int,
    tolerance_s: int = TOLERANCE_S_DEFAULT,
) -> None:
    """Return if ``header`` signs ``body`` with one of ``secrets`` within ``tolerance_s`` of ``now``."""
    if tolerance_s < 0:
        raise SignatureError(SignatureFailure.OUTSIDE_TOLERANCE, "negative tolerance")
    usable = _usable_secrets(secrets)
    parsed = parse_header(header)
    skew = parsed.timestamp - now
    if abs(skew) > tolerance_s:
        direction = "in the future" if skew > 0 else "old"
        raise SignatureError(SignatureFailure.OUTSIDE_TOLERANCE, f"{abs(skew)} s {direction}")
    payload = signed_payload(parsed.timestamp_text, body)
    expected = [_mac(secret, payload) for secret in usable]
    matched = False
    for candidate in parsed.signatures:  # every pair is compared: the time does not say which matched
        for mac in expected:
            matched |= hmac.compare_digest(candidate, mac)
    if not matched:
        raise SignatureError(SignatureFailure.MISMATCH)
