"""In-memory test log: the fake of DynamoHandlerTestLog (tests/contract/test_handler_test_log_contract.py)."""

from __future__ import annotations

from smsbilling.domain.handler_testing import HandlerTestEntry, log_sort_key


class MemoryHandlerTestLog:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, HandlerTestEntry]] = {}
        self.expiry: dict[str, int] = {}

    def add(self, entry: HandlerTestEntry, *, expires_at_s: int) -> None:
        self.entries.setdefault(entry.service_id, {})[log_sort_key(entry)] = entry
        self.expiry[entry.message_id] = expires_at_s

    def recent(
        self, service_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[HandlerTestEntry], str | None]:
        keys = sorted(self.entries.get(service_id, {}), reverse=True)
        if after is not None:
            keys = [key for key in keys if key < after]
        page = keys[:limit]
        more = len(keys) > limit
        return [self.entries[service_id][key] for key in page], (page[-1] if more else None)
