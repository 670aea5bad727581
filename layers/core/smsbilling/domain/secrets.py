"""Secrets at rest: API tokens and link credentials are stored as hashes, compared in constant time.

Tokens issued by the platform are 256-bit random values, so a single SHA-256 is enough to make a
leaked table useless (no dictionary to attack); human-chosen passwords (SMPP binds) use
:func:`hash_password` with scrypt instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def new_token(prefix: str) -> str:
    """A fresh random token, shown to its owner once."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


PASSWORD_CHARS = 8  # an SMPP 3.4 password holds at most 8 characters (9 octets with its NUL)
# The characters of a new password (no 0/O, 1/l/I to misread).
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105


def new_password() -> str:
    """A fresh random bind password (~46 bits; the bridge locks out repeated wrong tries)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_CHARS))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return hmac.compare_digest(digest.hex(), digest_hex)
