"""Per-partner message limits of the partner API's sends (docs/traffic/rate-limits-and-countries.md).

``POST /v1/sms`` and ``POST /v1/sms/batch`` take their messages from the partner's quota of the
current UTC second and minute (:class:`SendQuota`) after the request is found valid and before any
credit is reserved: a request whose messages do not fit is refused whole (429 ``rate_limited`` with
``Retry-After``) and takes nothing: nothing is reserved, nothing is queued, and the quota it did not
get stays for the next request. A request that takes its quota and is then refused for another reason
(credits) gives it back. Unlike the request limits (logic/rate_limits.py), refused messages are not
counted: a partner over the limit gets exactly the limit through, not less.

:class:`SendRules` is what a send reads about its partner (destination rules, message limits); the
deployed API reads them through caches (:func:`send_rules`, ``traffic.rules_cache_s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from smsbilling.domain.send_limits import Rates, message_rates
from smsbilling.logic.countries import CountryEntities, DestinationRules, DestinationRulesCache
from smsbilling.logic.partner_limits import PartnerLimitsCache
from smsbilling.settings import SmsSendLimits

WindowName = Literal["second", "minute"]


@dataclass(frozen=True, slots=True)
class QuotaRefused:
    """The messages did not fit: ``window`` is the one that is full."""

    window: WindowName


class SendQuota(Protocol):
    """Atomic message windows per key. Implementations: adapters.memory_send_quota,
    adapters.dynamodb_send_quota; one suite: tests/contract/test_send_quota_contract.py."""

    def take(
        self, key: str, count: int, at_s: int, *, per_s_max: int, per_min_max: int
    ) -> QuotaRefused | None:
        """Add ``count`` to the key's second ``at_s`` and its UTC minute only if both stay within
        their maximum (atomically: all or nothing); None when taken, else the full window."""
        ...

    def give_back(self, key: str, count: int, at_s: int) -> None:
        """Undo a :meth:`take` of ``count`` at ``at_s`` (best effort)."""
        ...


class MessagesRateLimited(Exception):
    """Over the partner's message limit: nothing was taken, reserved or queued."""

    def __init__(self, window: WindowName, retry_after_s: int, limit: int) -> None:
        super().__init__(f"more than {limit} messages in one {window}")
        self.window = window
        self.retry_after_s = retry_after_s
        self.limit = limit


class MessagesOverLimit(Exception):
    """More messages in one request than the partner may send in a window at all (never fits)."""

    def __init__(self, window: WindowName, limit: int) -> None:
        super().__init__(f"more than the {limit} messages allowed in one {window}")
        self.window = window
        self.limit = limit


@dataclass(frozen=True, slots=True)
class TakenQuota:
    """What a request took, to give back if it then sends nothing."""

    quota: SendQuota
    key: str
    count: int
    at_s: int

    def give_back(self) -> None:
        try:
            self.quota.give_back(self.key, self.count, self.at_s)
        except Exception:  # best effort: the window ends anyway
            return


def quota_key(partner_id: str) -> str:
    return f"partner:{partner_id}"


def take_messages(
    quota: SendQuota, partner_id: str, count: int, *, now: datetime, rates: Rates
) -> TakenQuota:
    """Take ``count`` messages of the partner's quota; MessagesRateLimited / MessagesOverLimit."""
    if count > rates.per_s_max:
        raise MessagesOverLimit("second", rates.per_s_max)
    if count > rates.per_min_max:
        raise MessagesOverLimit("minute", rates.per_min_max)
    at_s = int(now.timestamp())
    key = quota_key(partner_id)
    refused = quota.take(key, count, at_s, per_s_max=rates.per_s_max, per_min_max=rates.per_min_max)
    if refused is None:
        return TakenQuota(quota, key, count, at_s)
    if refused.window == "minute":
        raise MessagesRateLimited("minute", 60 - at_s % 60, rates.per_min_max)
    raise MessagesRateLimited("second", 1, rates.per_s_max)


class SendRules(Protocol):
    """A partner's destination rules and message limits, as a send reads them."""

    def destinations(self, partner_id: str) -> DestinationRules: ...

    def message_rates(self, partner_id: str) -> Rates: ...


@dataclass(frozen=True, slots=True)
class CachedSendRules:
    """:class:`SendRules` read through the caches the guard and the conventions use (``ttl_s`` 0: read
    on every send)."""

    destination_rules: DestinationRulesCache
    partner_limits: PartnerLimitsCache
    defaults: SmsSendLimits

    def destinations(self, partner_id: str) -> DestinationRules:
        return self.destination_rules.rules(partner_id)

    def message_rates(self, partner_id: str) -> Rates:
        return message_rates(self.defaults, self.partner_limits.get(partner_id))


def send_rules(
    entities: CountryEntities,
    defaults: SmsSendLimits,
    *,
    ttl_s: float,
    partner_limits: PartnerLimitsCache | None = None,
) -> CachedSendRules:
    """``partner_limits``: the function's cache of the partners' limits (None: one of its own)."""
    limits = PartnerLimitsCache(entities, ttl_s=ttl_s) if partner_limits is None else partner_limits
    return CachedSendRules(DestinationRulesCache(entities, ttl_s=ttl_s), limits, defaults)
