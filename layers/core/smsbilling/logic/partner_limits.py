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

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from smsbilling.domain.entities import Entity
from smsbilling.domain.send_limits import PartnerSendLimits, Rates, request_rates
from smsbilling.settings import ApiLimits

logger = logging.getLogger(__name__)

_PARTNERS_CACHED_MAX: Final = 10_000


class LimitsReader(Protocol):
    """The entities table as the cache reads it (DynamoEntityStore, MemoryEntityStore)."""

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None: ...


class PartnerRequestLimits(Protocol):
    """What the conventions ask (web/conventions.py ``ConventionDeps.partner_limits``)."""

    def request_rates(self, partner_id: str, defaults: ApiLimits) -> Rates: ...


@dataclass
class PartnerLimitsCache:
    """Each partner's stored :class:`PartnerSendLimits` (or None), read at most once per ``ttl_s``."""

    entities: LimitsReader
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    _partners: dict[str, tuple[float, PartnerSendLimits | None]] = field(default_factory=dict)

    def request_rates(self, partner_id: str, defaults: ApiLimits) -> Rates:
        """The request limits in force for ``partner_id``: its own where stored, else ``defaults``."""
        return request_rates(defaults, self.stored(partner_id))

    def stored(self, partner_id: str) -> PartnerSendLimits | None:
        now = self.clock()
        cached = self._partners.get(partner_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            found = self.entities.get(PartnerSendLimits, partner_id)
        except Exception as error:  # the table is unreachable: the last limits read, else the defaults
            logger.warning(
                "partner limits not read", extra={"partner_id": partner_id, "error": type(error).__name__}
            )
            if cached is None:
                return None
            found = cached[1]
        if len(self._partners) >= _PARTNERS_CACHED_MAX and partner_id not in self._partners:
            self._partners.clear()
        self._partners[partner_id] = (now, found)
        return found
