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
class MessageRates:
    """The limits in force for one partner."""

    per_s_max: int
    per_min_max: int


def message_rates(defaults: SmsSendLimits, partner: PartnerSendLimits | None) -> MessageRates:
    per_s = defaults.partner_messages_per_s_max
    per_min = defaults.partner_messages_per_min_max
    if partner is not None:
        per_s = partner.messages_per_s_max or per_s
        per_min = partner.messages_per_min_max or per_min
    return MessageRates(per_s_max=per_s, per_min_max=per_min)


@dataclass(frozen=True, slots=True)
class RequestRates:
    """The API request limits in force for one partner (over all its keys)."""

    per_s_max: int
    per_min_max: int


def request_rates(defaults: ApiLimits, partner: PartnerSendLimits | None) -> RequestRates:
    per_s = defaults.partner_requests_per_s_max
    per_min = defaults.partner_requests_per_min_max
    if partner is not None:
        per_s = partner.requests_per_s_max or per_s
        per_min = partner.requests_per_min_max or per_min
    return RequestRates(per_s_max=per_s, per_min_max=per_min)
