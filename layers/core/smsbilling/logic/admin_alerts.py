"""Alert records as admins see them: listed by status (oldest first), read, acknowledged.

The traffic guard's sink creates and counts the records (adapters/dynamodb_alerts.py); admins only
acknowledge them. Acknowledging is idempotent: the first acknowledgement stands (who, when, the
note, the count then; written only while the alert is open, so also when two admins act at once),
and acknowledging again answers the alert as it is and writes no second audit entry. Repeats of the
alert's key after the acknowledgement are counted on it silently (domain/alerts.py). Only the
acknowledgement fields are written, so a raise counted meanwhile is never undone.
"""

from __future__ import annotations

from smsbilling.domain.alerts import ACKNOWLEDGEMENT_FIELDS, Alert, AlertStatus, acknowledged, listing_pk
from smsbilling.logic.admin_common import AdminCall, AdminStore, PageOf, must_get, record


def alerts(store: AdminStore, status: AlertStatus, *, limit: int, cursor: str | None = None) -> PageOf[Alert]:
    """One status's alerts, oldest first (by when each was first raised)."""
    return store.page(Alert, listing_pk(status), limit=limit, cursor=cursor)


def get_alert(store: AdminStore, alert_id: str) -> Alert:
    return must_get(store, Alert, alert_id, "alert")


def acknowledge(store: AdminStore, call: AdminCall, alert_id: str, note: str) -> tuple[Alert, bool]:
    """Acknowledge an alert: ``(alert, True)``; acknowledged already: ``(alert as it is, False)``."""
    current = get_alert(store, alert_id)
    if current.status is AlertStatus.ACKNOWLEDGED:
        return current, False
    stored = store.update(
        acknowledged(current, by=call.admin_key_id, at=call.now, note=note),
        ACKNOWLEDGEMENT_FIELDS,
        only_if={"status": AlertStatus.OPEN},  # of two admins at once, the first stands
    )
    if stored is None:  # acknowledged by someone else meanwhile, or gone
        return get_alert(store, alert_id), False
    record(
        store,
        call,
        "alert.acknowledge",
        stored,
        {
            "note": note,
            "count": stored.count_at_acknowledgement,
            "rule": f"{stored.control}:{stored.rule_id}",
        },
    )
    return stored, True


__all__ = ["acknowledge", "alerts", "get_alert"]
