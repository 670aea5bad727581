"""Operator links from the entities table: mapping, refresh (add, change, remove) and no password in logs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from smpp_bridge.links import link_config, load_links
from smpp_bridge.simulator import SimulatorConfig
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.entities import Protocol
from tests.unit.bridge.operator_harness import (
    LINK_ID,
    PASSWORD,
    SYSTEM_ID,
    command,
    operator,
    operator_rig,
    smpp_link,
)


def test_an_smpp_link_becomes_a_link_config() -> None:
    config = link_config(smpp_link(2775, granted_tps=40, window_outstanding_max=25, smpp_system_type="VMA"))
    assert config is not None
    assert (config.link_id, config.host, config.port, config.system_id) == (
        LINK_ID,
        "127.0.0.1",
        2775,
        SYSTEM_ID,
    )
    assert (config.password, config.system_type) == (PASSWORD, "VMA")
    assert (config.granted_tps, config.window_outstanding_max) == (40, 25)
    assert PASSWORD not in repr(config) and PASSWORD not in repr(smpp_link(2775))


@pytest.mark.parametrize(
    "overrides",
    [
        {"protocol": Protocol.HTTP},
        {"enabled": False},
        {"smpp_host": None},
        {"smpp_port": None},
        {"smpp_system_id": None},
    ],
)
def test_links_the_bridge_does_not_bind_for(overrides: dict[str, object]) -> None:
    link = smpp_link(2775, **overrides)
    assert link_config(link) is None
    store = MemoryEntityStore()
    store.put(operator())
    store.put(link)
    store.put(smpp_link(2776, link_id="other"))
    assert list(load_links(store)) == ["other"]


def test_refresh_adds_rebinds_and_removes_links(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with operator_rig(SimulatorConfig(accounts={SYSTEM_ID: PASSWORD})) as rig:
            await rig.bound()
            first_pool = rig.side.registry.get(LINK_ID)
            port = first_pool.config.port if first_pool else 0
            # A changed window is a new bind with the new settings.
            rig.entities.put(smpp_link(port, window_outstanding_max=3))
            await rig.until(lambda: rig.side.registry.get(LINK_ID) is not first_pool)
            pool = rig.side.registry.get(LINK_ID)
            assert pool is not None and pool.config.window_outstanding_max == 3
            await rig.bound()
            rig.send(command(1))
            await rig.until(lambda: len(rig.results()) == 1)
            assert rig.sim.stats.binds == 2
            # A disabled link is unbound.
            rig.entities.put(smpp_link(port, enabled=False))
            await rig.until(lambda: rig.side.registry.get(LINK_ID) is None and rig.sim.bound_count() == 0)

    asyncio.run(main())
    logged = "\n".join(json.dumps(record.__dict__, default=str) for record in caplog.records)
    assert "operator link started" in logged and PASSWORD not in logged


def test_a_bind_refused_for_a_wrong_password_logs_no_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with operator_rig(SimulatorConfig(accounts={SYSTEM_ID: "other1"})) as rig:
            await rig.until(lambda: rig.sim.stats.bind_refusals >= 2)

    asyncio.run(main())
    logged = "\n".join(json.dumps(record.__dict__, default=str) for record in caplog.records)
    assert "bind refused" in logged and PASSWORD not in logged
