"""Shared fixtures. `stack`: one local cloud for the whole session (ministack on a free port, template deployed once)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.localcloud import LocalCloud
from tests.integration.traffic import STACK_RULES_CACHE_S


class Stack:
    """The deployed stack as tests see it: HTTP base URL, outputs and boto3 clients on the local cloud."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.outputs = cloud.outputs
        self.api = httpx.Client(base_url=cloud.api_base, timeout=30)

    def client(self, service: str) -> Any:
        return self.cloud.client(service)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    cloud = LocalCloud(
        name=f"it-{uuid.uuid4().hex[:8]}",
        workdir=tmp_path_factory.mktemp("localcloud"),
        # Traffic-control rules reach warm processors this soon (tests change rules, then wait it out).
        parameter_overrides={"TrafficRulesCacheSeconds": str(STACK_RULES_CACHE_S)},
    )
    cloud.start()
    try:
        cloud.deploy()
        s = Stack(cloud)
        yield s
        s.api.close()
    finally:
        cloud.stop()
