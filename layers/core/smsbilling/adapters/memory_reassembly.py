"""In-memory fake of the reassembly store (passes tests/contract/test_reassembly_contract.py)."""

from __future__ import annotations

from smsbilling.domain.mo_content import Completion, Part


class MemoryReassemblyStore:
    def __init__(self) -> None:
        self.parts_by_set: dict[str, dict[int, tuple[str, Part, int]]] = {}  # seq -> (mid, part, expires)
        self.done: dict[str, Completion] = {}

    def add(self, set_key: str, seq: int, message_id: str, part: Part, *, expires_at: int, now: int) -> str:
        held = self.parts_by_set.setdefault(set_key, {})
        current = held.get(seq)
        if current is not None and current[2] >= now:
            return current[0]
        held[seq] = (message_id, part, expires_at)
        return message_id

    def parts(self, set_key: str, *, now: int) -> dict[int, tuple[str, Part]]:
        held = self.parts_by_set.get(set_key, {})
        return {seq: (mid, part) for seq, (mid, part, expires) in held.items() if expires >= now}

    def completion(self, set_key: str) -> Completion | None:
        return self.done.get(set_key)

    def complete(self, set_key: str, completion: Completion, *, now: int, expires_at: int) -> Completion:
        del expires_at  # the fake keeps everything until discard
        current = self.done.get(set_key)
        if current is not None and current.window_end >= now:
            return current
        self.done[set_key] = completion
        return completion

    def discard(self, set_key: str) -> None:
        self.parts_by_set.pop(set_key, None)
        self.done.pop(set_key, None)
