"""How many messages, and how many API requests, a partner may send per second and per minute.

The platform's defaults are settings: messages through the partner API's sends
(``SmsSendLimits.partner_messages_per_s_max`` / ``_per_min_max``, logic/send_limits.py) and requests
over all the partner's API keys (``ApiLimits.partner_requests_per_s_max`` / ``_per_min_max``,
logic/rate_limits.py). The admin may give one partner other values of any of the four
(:class:`PartnerSendLimits`, a field left ``None`` keeps the default). Windows are fixed and aligned
on UTC seconds and minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from smsbilling.domain.entities import Entity
from smsbilling.settings import ApiLimits, SmsSendLimits


class PartnerSendLimits(Entity):
    """One partner's message and API request limits, set by the admin (none stored, or a field
    ``None``: the platform's default). The name predates the request limits; the stored type is kept."""

    type_name: ClassVar[str] = "PSENDLIM"
    id_fields: ClassVar[tuple[str, ...]] = ("partner_id",)
    partner_id: str = Field(min_length=1, max_length=64)
    messages_per_s_max: int | None = Field(default=None, ge=1, le=100_000, description="None: the default")
    messages_per_min_max: int | None = Field(
        default=None, ge=1, le=6_000_000, description="None: the default"
    )
    requests_per_s_max: int | None = Field(default=None, ge=1, le=100_000, description="None: the default")
    requests_per_min_max: int | None = Field(
        default=None, ge=1, le=6_000_000, description="None: the default"
    )
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-second and per-minute limits in force for one partner (messages, or API requests)."""

    per_s_max: int
    per_min_max: int


def message_rates(defaults: SmsSendLimits, partner: PartnerSendLimits | None) -> Rates:
    """The partner's own message limits where stored, else the platform's."""
    own = (None, None) if partner is None else (partner.messages_per_s_max, partner.messages_per_min_max)
    return _in_force(defaults.partner_messages_per_s_max, defaults.partner_messages_per_min_max, *own)


def request_rates(defaults: ApiLimits, partner: PartnerSendLimits | None) -> Rates:
    """The partner's own API request limits (over all its keys) where stored, else the platform's."""
    own = (None, None) if partner is None else (partner.requests_per_s_max, partner.requests_per_min_max)
    return _in_force(defaults.partner_requests_per_s_max, defaults.partner_requests_per_min_max, *own)


def _in_force(per_s: int, per_min: int, own_per_s: int | None, own_per_min: int | None) -> Rates:
    return Rates(per_s_max=own_per_s or per_s, per_min_max=own_per_min or per_min)
