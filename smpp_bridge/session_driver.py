"""What every protocol adapter of the bridge does with its sans-I/O session, server or client side.

The SMPP, UCP and CIMD2 sessions share one surface: bytes in, timer ticks and a close each give a
list of events, and the session says when it next needs a tick. An adapter keeps its session in
``session`` and turns the events into the driver's actions in ``_actions``; the rest is here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol


class Session(Protocol):
    def receive_data(self, data: bytes, now: float) -> list[Any]: ...
    def handle_timer(self, now: float) -> list[Any]: ...
    def close(self, reason: str) -> list[Any]: ...
    def next_deadline(self) -> float | None: ...


class SessionDriver[A](ABC):
    session: Session

    def receive(self, data: bytes, now: float) -> list[A]:
        return self._actions(self.session.receive_data(data, now))

    def timer(self, now: float) -> list[A]:
        return self._actions(self.session.handle_timer(now))

    def close(self, reason: str) -> list[A]:
        return self._actions(self.session.close(reason))

    def next_deadline(self) -> float | None:
        return self.session.next_deadline()

    @abstractmethod
    def _actions(self, events: list[Any]) -> list[A]:
        """The protocol's events as the driver's actions."""
