"""Deterministic identifiers derived from business keys.

A message accepted twice from the same operator (a retry, a redelivery) must map to the same
platform id, so every later step can be idempotent on it.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c5a8e-2d0b-4c55-9a51-3e0f1d7c9b42")


def derived_id(*parts: str) -> str:
    """A stable id for the given business key parts (UUIDv5, hex without dashes)."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex


def inbound_message_id(link_id: str, operator_message_id: str) -> str:
    return derived_id("mo", link_id, operator_message_id)
