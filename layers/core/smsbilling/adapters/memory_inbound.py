"""In-memory fakes of the inbound ports, for unit tests and simulations.

They pass the same contract tests as the DynamoDB adapters (tests/contract/test_inbound_contract.py).
"""

from __future__ import annotations

from smsbilling.contracts import MoReceived
from smsbilling.domain.inbound import StoredMo


class MemoryInboundStore:
    def __init__(self) -> None:
        self.messages: dict[str, StoredMo] = {}

    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        return self.messages.setdefault(mo.message_id, mo)

    def decide(self, mo: StoredMo) -> bool:
        if not mo.state.is_decided:
            raise ValueError(f"decide() needs a final state or held, got {mo.state.value}")
        current = self.messages.get(mo.message_id)
        if current is None or current.state.is_final:
            return False
        self.messages[mo.message_id] = mo
        return True

    def get(self, message_id: str) -> StoredMo | None:
        return self.messages.get(message_id)


class MemoryEventPublisher:
    def __init__(self) -> None:
        self.published: list[MoReceived] = []

    def publish_mo_received(self, event: MoReceived) -> None:
        self.published.append(event)
