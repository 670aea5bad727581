"""In-memory alert sink: the fake of DynamoAlertSink (contract: tests/contract/test_alert_sink_contract.py).

Records go into a :class:`MemoryEntityStore` (the admin API's fake store, so unit tests list and
acknowledge what the sink recorded); a lock makes a raise atomic, as the UpdateItem is.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from smsbilling.adapters.alert_notify import AlertNotifier, notify_all
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.alerts import Alert, new_alert, repeated
from smsbilling.domain.traffic import AlertEvent


class MemoryAlertSink:
    def __init__(
        self, store: MemoryEntityStore | None = None, notifiers: Sequence[AlertNotifier] = ()
    ) -> None:
        self.store = store if store is not None else MemoryEntityStore()
        self._notifiers = tuple(notifiers)
        self._lock = threading.Lock()

    def raise_alert(self, event: AlertEvent) -> None:
        self.record(event)

    def record(self, event: AlertEvent) -> Alert:
        fresh = new_alert(event)
        with self._lock:
            current = self.store.get(Alert, fresh.alert_id)
            stored = fresh if current is None else repeated(current, event)
            self.store.put(stored)
        if current is None:
            notify_all(self._notifiers, stored)
        return stored


__all__ = ["MemoryAlertSink"]
