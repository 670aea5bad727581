"""A partner's traffic settings and message limits, and the premium-rate ranges, as the admin keeps them.

**Traffic settings** (:class:`PartnerTrafficSettings`): the countries a partner's MTs may go to
(``None``: the platform's operators' countries), the premium ranges it may send to anyway, and the
HLR switch. Set whole (PUT); countries must be whole E.164 calling codes, allowed ranges must be
listed :class:`PremiumRange` s. **Send limits** (:class:`PartnerSendLimits`): messages through the
partner API's sends, and API requests over all the partner's keys, each per second and per minute,
``None`` keeping the platform's default; set whole, and a per-second limit in force may not exceed
the per-minute one. **Premium ranges**: E.164 prefixes, created once,
their note changed, deleted (a partner's allowance of a deleted range then allows nothing more).
Every change is audited (logic/admin_common.record).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from smsbilling.domain.countries import (
    PREMIUM_PREFIX_PATTERN,
    PremiumRange,
    allowed_countries,
    is_country_code,
)
from smsbilling.domain.entities import Partner
from smsbilling.domain.send_limits import (
    PartnerSendLimits,
    Rates,
    message_rates,
    request_rates,
)
from smsbilling.domain.traffic import PartnerTrafficSettings
from smsbilling.logic.admin_common import (
    AdminCall,
    AdminStore,
    Invalid,
    NotFound,
    PageOf,
    create_once,
    must_get,
    record,
    update_fields,
)
from smsbilling.logic.countries import PREMIUM_LISTING
from smsbilling.settings import ApiLimits, SmsSendLimits

_FORMATTING = str.maketrans("", "", " +-.()")


# --- traffic settings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficSettingsState:
    settings: PartnerTrafficSettings  # as stored, or the defaults when none is
    countries_in_force: frozenset[str]  # allowed_countries, or the operators' when it is None


def traffic_settings(store: AdminStore, partner_id: str) -> TrafficSettingsState:
    must_get(store, Partner, partner_id, "partner")
    stored = store.get(PartnerTrafficSettings, partner_id)
    settings = stored or PartnerTrafficSettings(partner_id=partner_id)
    return TrafficSettingsState(settings, allowed_countries(settings, store.operators()))


def set_traffic_settings(
    store: AdminStore,
    call: AdminCall,
    partner_id: str,
    *,
    allowed: Sequence[str] | None,
    premium_allowed: Sequence[str],
    hlr_check: bool,
) -> TrafficSettingsState:
    must_get(store, Partner, partner_id, "partner")
    countries = None if allowed is None else _countries(allowed)
    prefixes = [premium_prefix(p, f"premium_ranges_allowed.{i}") for i, p in enumerate(premium_allowed)]
    for index, prefix in enumerate(prefixes):
        if store.get(PremiumRange, prefix) is None:
            raise Invalid(f"premium_ranges_allowed.{index}", f"no premium range +{prefix}")
    ranges = tuple(sorted(set(prefixes)))
    settings = PartnerTrafficSettings(
        partner_id=partner_id,
        allowed_countries=countries,
        premium_ranges_allowed=ranges,
        hlr_check=hlr_check,
        updated_at=call.now,
    )
    store.put(settings)
    record(
        store,
        call,
        "partner_traffic.set",
        settings,
        {"allowed_countries": countries, "premium_ranges_allowed": ranges, "hlr_check": hlr_check},
    )
    return TrafficSettingsState(settings, allowed_countries(settings, store.operators()))


def _countries(codes: Sequence[str]) -> tuple[str, ...]:
    for index, code in enumerate(codes):
        if not is_country_code(code.lstrip("+")):
            raise Invalid(f"allowed_countries.{index}", f"{code!r} is not an E.164 country calling code")
    return tuple(sorted({code.lstrip("+") for code in codes}, key=lambda c: (len(c), c)))


# --- send limits (messages and API requests) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendLimitsState:
    limits: PartnerSendLimits  # as stored, or all None when none is
    in_force: Rates
    requests_in_force: Rates


def _state(limits: PartnerSendLimits, sms: SmsSendLimits, api: ApiLimits) -> SendLimitsState:
    return SendLimitsState(limits, message_rates(sms, limits), request_rates(api, limits))


def send_limits(store: AdminStore, partner_id: str, sms: SmsSendLimits, api: ApiLimits) -> SendLimitsState:
    must_get(store, Partner, partner_id, "partner")
    limits = store.get(PartnerSendLimits, partner_id) or PartnerSendLimits(partner_id=partner_id)
    return _state(limits, sms, api)


def set_send_limits(
    store: AdminStore,
    call: AdminCall,
    partner_id: str,
    sms: SmsSendLimits,
    api: ApiLimits,
    *,
    per_s_max: int | None,
    per_min_max: int | None,
    requests_per_s_max: int | None = None,
    requests_per_min_max: int | None = None,
) -> SendLimitsState:
    """Replace the partner's limits (``None``: the default); the API's request limits reach the
    partner API within ``traffic.rules_cache_s`` (logic/partner_limits.py)."""
    must_get(store, Partner, partner_id, "partner")
    limits = PartnerSendLimits(
        partner_id=partner_id,
        messages_per_s_max=per_s_max,
        messages_per_min_max=per_min_max,
        requests_per_s_max=requests_per_s_max,
        requests_per_min_max=requests_per_min_max,
        updated_at=call.now,
    )
    state = _state(limits, sms, api)
    if state.in_force.per_s_max > state.in_force.per_min_max:
        raise Invalid(
            "messages_per_s_max", f"more than the {state.in_force.per_min_max} messages per minute in force"
        )
    if state.requests_in_force.per_s_max > state.requests_in_force.per_min_max:
        raise Invalid(
            "requests_per_s_max",
            f"more than the {state.requests_in_force.per_min_max} requests per minute in force",
        )
    store.put(limits)
    record(
        store,
        call,
        "partner_send_limits.set",
        limits,
        {
            "messages_per_s_max": per_s_max,
            "messages_per_min_max": per_min_max,
            "requests_per_s_max": requests_per_s_max,
            "requests_per_min_max": requests_per_min_max,
        },
    )
    return state


# --- premium ranges --------------------------------------------------------------------------------------


def premium_prefix(raw: str, field: str = "prefix") -> str:
    """``+44 909`` -> ``44909``; Invalid unless it is 2 to 15 E.164 digits."""
    digits = raw.strip().translate(_FORMATTING)
    if digits.startswith("00"):
        digits = digits[2:]
    if not re.fullmatch(PREMIUM_PREFIX_PATTERN, digits):
        raise Invalid(field, "2 to 15 digits of an international number, country code first")
    return digits


def list_premium_ranges(store: AdminStore, *, limit: int, cursor: str | None) -> PageOf[PremiumRange]:
    return store.page(PremiumRange, PREMIUM_LISTING, limit=limit, cursor=cursor)


def get_premium_range(store: AdminStore, prefix: str) -> PremiumRange:
    return must_get(store, PremiumRange, premium_prefix(prefix), "premium range")


def add_premium_range(
    store: AdminStore, call: AdminCall, prefix: str, note: str
) -> tuple[PremiumRange, bool]:
    entry = PremiumRange(prefix=premium_prefix(prefix), note=note, created_at=call.now)
    stored, created = create_once(store, entry, ignore=("created_at",))
    if created:
        record(store, call, "premium_range.add", stored, {"prefix": stored.prefix, "note": note})
    return stored, created


def update_premium_range(store: AdminStore, call: AdminCall, prefix: str, note: str) -> PremiumRange:
    current = get_premium_range(store, prefix)
    updated = update_fields(store, current, {"note": note, "updated_at": call.now}, "premium range")
    record(store, call, "premium_range.update", updated, {"note": note})
    return updated


def remove_premium_range(store: AdminStore, call: AdminCall, prefix: str) -> PremiumRange:
    current = get_premium_range(store, prefix)
    if not store.delete(PremiumRange, current.prefix):
        raise NotFound("premium range")
    record(store, call, "premium_range.remove", current, {"prefix": current.prefix})
    return current
