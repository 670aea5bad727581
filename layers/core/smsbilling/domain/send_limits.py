"""How many messages a partner may send through the API per second and per minute.

The platform's defaults are settings (``SmsSendLimits.partner_messages_per_s_max`` /
``_per_min_max``); the admin may give one partner other values (:class:`PartnerSendLimits`, a field
left ``None`` keeps the default). Windows are fixed and aligned on UTC seconds and minutes, like
the API's request limits (logic/rate_limits.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from smsbilling.domain.entities import Entity
from smsbilling.settings import SmsSendLimits


class PartnerSendLimits(Entity):
    """One partner's message limits, set by the admin (none stored: the platform defaults)."""

    type_name: ClassVar[str] = "PSENDLIM"
    id_fields: ClassVar[tuple[str, ...]] = ("partner_id",)
    partner_id: str = Field(min_length=1, max_length=64)
    messages_per_s_max: int | None = Field(default=None, ge=1, le=100_000, description="None: the default")
    messages_per_min_max: int | None = Field(
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
