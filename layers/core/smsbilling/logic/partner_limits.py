"""A partner's own API request limits, as the partner API's conventions read them (web/conventions.py).

Every partner request is checked against its partner's request windows (logic/rate_limits.py
:func:`~smsbilling.logic.rate_limits.check_partner_rate`); the limits are the settings' defaults
(``ApiLimits.partner_requests_per_s_max`` / ``_per_min_max``) unless the admin stored others for
that partner (:class:`~smsbilling.domain.send_limits.PartnerSendLimits`, ``PUT
/admin/partners/{id}/send-limits``).

:class:`PartnerLimitsCache` keeps each partner's stored limits (or their absence) in the process for
``ttl_s`` (``traffic.rules_cache_s``, 30 s by default), so a warm API function reads them about
twice a minute per partner, not per request; an admin's change reaches every function within that
time. When a read fails, the last limits read for the partner keep serving (for another ``ttl_s``);
with none read yet, the platform's defaults do, and the next request tries again. The request is
still counted either way: an unreadable entities table never lifts a partner's limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from smsbilling.domain.send_limits import PartnerSendLimits, Rates, request_rates
from smsbilling.logic.entity_cache import EntityCache, EntityReader
from smsbilling.settings import ApiLimits


class PartnerRequestLimits(Protocol):
    """What the conventions ask (web/conventions.py ``ConventionDeps.partner_limits``)."""

    def request_rates(self, partner_id: str, defaults: ApiLimits) -> Rates: ...


class PartnerLimitsCache(EntityCache[PartnerSendLimits]):
    """Each partner's stored :class:`PartnerSendLimits` (or None), read at most once per ``ttl_s``;
    an unreadable table serves the last ones read."""

    def __init__(
        self, entities: EntityReader, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(entities, PartnerSendLimits, ttl_s, clock, keep_on_error=True)

    def request_rates(self, partner_id: str, defaults: ApiLimits) -> Rates:
        """The request limits in force for ``partner_id``: its own where stored, else ``defaults``."""
        return request_rates(defaults, self.get(partner_id))
