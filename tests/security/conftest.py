"""Fixtures of the security suites: the in-memory world (in-process) and the deployed stack's world."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.world import MemoryWorld, StackWorld


@pytest.fixture
def memory_world() -> Iterator[MemoryWorld]:
    """The apps in this process, every wired router and the conventions served from fresh fakes."""
    world = MemoryWorld()
    world.install()
    try:
        yield world
    finally:
        world.uninstall()


@pytest.fixture(scope="module")
def stack_world(stack: Any) -> StackWorld:
    """The deployed local stack (tests/conftest.py), with this module's operator and short number."""
    return StackWorld(stack)
