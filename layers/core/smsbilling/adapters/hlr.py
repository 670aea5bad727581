"""The deployed HLR check: which provider, the cache in the counters table (docs/traffic/hlr.md).

Which provider answers (decided once per process, when the guard is built):

=====================================  ===========================================================
configuration                          provider
=====================================  ===========================================================
``traffic.hlr_url`` set                the HTTP provider (any stage, the local one included)
no URL, stage ``local``                the simulated provider (adapters/simulated_hlr.py)
no URL, any other stage (AWS)          none: a warning at startup, and every MT of a partner with
                                       the switch on gets an ``alert`` finding (``hlr:not_configured``,
                                       one alert record per hour) and is sent unchecked
=====================================  ===========================================================

Why not refuse to start without a URL: the check is optional and off for every partner by
default; refusing would stop all MT sending (and MO processing) over a feature nobody may use.
The alert makes the gap loud exactly when a partner relies on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from smsbilling.adapters.dynamodb_hlr_cache import DynamoHlrCache
from smsbilling.adapters.http_hlr import HttpHlrProvider
from smsbilling.adapters.simulated_hlr import SimulatedHlrProvider
from smsbilling.logic.hlr import EntityReader, HlrControl, HlrProvider
from smsbilling.logic.traffic_defaults import PartnerSettingsCache
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

LOCAL_STAGE: Final = "local"


def select_provider(settings: Settings) -> HlrProvider | None:
    limits = settings.traffic
    if limits.hlr_url:
        return HttpHlrProvider.from_limits(limits)
    if settings.stage == LOCAL_STAGE:
        return SimulatedHlrProvider.from_limits(limits)
    logger.warning(
        "no HLR provider configured (SMSBILLING_TRAFFIC__HLR_URL) on stage %r: partners with the HLR "
        "check on are sent unchecked, with an alert",
        settings.stage,
    )
    return None


def build_hlr_control(
    settings: Settings,
    client: DynamoDBClient,
    entities: EntityReader,
    partners: PartnerSettingsCache | None = None,
) -> HlrControl:
    """``partners``: the partners' settings as the guard caches them (None: a cache of its own)."""
    return HlrControl(
        select_provider(settings),
        DynamoHlrCache(client, settings.tables.counters),
        entities,
        settings.traffic,
        partners=partners,
    )
