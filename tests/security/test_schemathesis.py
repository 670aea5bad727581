"""Schemathesis (R7) over the committed documents, in-process: the apps over the in-memory fakes.

The app runs behind a loopback HTTP server (tests/security/api.py ``LoopbackServer``) with a valid
partner key; the same checks run against the deployed stack in test_schemathesis_localcloud.py.
Bounded: ``EXAMPLES_PER_OPERATION_MAX`` cases per operation, derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smsbilling.settings import ApiLimits
from tests.security.api import InProcess, LoopbackServer
from tests.security.fuzz import FUZZ_SETTINGS, call_and_check, committed
from tests.security.world import MemoryWorld, PartnerHandle

# /health reads the deployed entities table: without one it rightly answers 503 (the stack run covers it).
PARTNER_API = committed("partner-api").exclude(path="/health")


ADMIN_API = committed("admin-api")


@pytest.fixture(scope="module")
def fuzz_world() -> Iterator[MemoryWorld]:
    # One key sends every case in a few seconds: lift the per-key rate limit, or most answers are 429.
    world = MemoryWorld(
        ApiLimits(api_key_requests_per_s_max=1_000_000, api_key_requests_per_min_max=1_000_000)
    )
    world.install()
    try:
        yield world
    finally:
        world.uninstall()


@pytest.fixture(scope="module")
def fuzz_target(fuzz_world: MemoryWorld) -> Iterator[tuple[str, PartnerHandle]]:
    """The partner app over one in-memory world, on a loopback port, and a partner with a key."""
    client = fuzz_world.client(None)
    assert isinstance(client.transport, InProcess)
    server = LoopbackServer(client.transport)
    try:
        yield server.url, fuzz_world.partner("fuzz")
    finally:
        server.close()


@pytest.fixture(scope="module")
def admin_target(fuzz_world: MemoryWorld) -> Iterator[tuple[str, str]]:
    """The admin app over the same world, on a loopback port, and an admin key."""
    client = fuzz_world.client(None, "admin")
    assert isinstance(client.transport, InProcess)
    server = LoopbackServer(client.transport)
    try:
        yield server.url, fuzz_world.admin_key()
    finally:
        server.close()


@PARTNER_API.parametrize()
@FUZZ_SETTINGS
def test_partner_api_in_process(case: Any, fuzz_target: tuple[str, PartnerHandle]) -> None:
    base_url, partner = fuzz_target
    call_and_check(case, base_url, partner.key)


@ADMIN_API.parametrize()
@FUZZ_SETTINGS
def test_admin_api_in_process(case: Any, admin_target: tuple[str, str]) -> None:
    base_url, admin_key = admin_target
    call_and_check(case, base_url, admin_key)
