"""The alert sink over the entities table: one ``ALERT#<id>`` item per event key, one UpdateItem per raise.

Every raise is a single ``UpdateItem`` (so concurrent raises of one key from any number of consumers
end in one record with the exact count, and no read comes first)::

    SET   <every field of the new record> = if_not_exists(<field>, <value>),   -- the first raise's
          last_at = <this raise's message time>
    ADD   count 1
    RETURN ALL_NEW

The fields written with ``if_not_exists`` include ``status`` and the ``gsi1`` listing keys, so a
repeat never touches an acknowledgement (logic/admin_alerts.py writes those fields with the entity
store's ``update``, which never writes ``count`` or ``last_at``). The raise that reads back
``count == 1`` created the record: exactly one raise per key does, and only it tells staff
(adapters/alert_notify.py). ``last_at`` is the latest write's message time: concurrent raises may
land out of order by the spread of their message times.

Items are in the entity store's format (``to_item``), so the admin API reads and lists them as
:class:`~smsbilling.domain.alerts.Alert` entities. The processors need ``dynamodb:UpdateItem`` on
the entities table for ``ALERT#*`` keys only (template.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from smsbilling.adapters.alert_notify import AlertNotifier, notify_all, staff_notifiers
from smsbilling.adapters.dynamodb_entities import from_item, model_attributes, to_item
from smsbilling.domain.alerts import Alert, new_alert
from smsbilling.domain.traffic import AlertEvent
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_COUNTED = ("count", "last_at")  # what a repeat changes; every other field is the first raise's


class DynamoAlertSink:
    def __init__(self, client: DynamoDBClient, table: str, notifiers: Sequence[AlertNotifier] = ()) -> None:
        self._client = client
        self._table = table
        self._notifiers = tuple(notifiers)

    def raise_alert(self, event: AlertEvent) -> None:
        self.record(event)

    def record(self, event: AlertEvent) -> Alert:
        """Count one raise of ``event.key``; the record as it stands after it (staff told if new)."""
        fresh = new_alert(event)
        first = to_item(fresh)
        key = {"pk": first.pop("pk"), "sk": first.pop("sk")}
        for name in _COUNTED:
            first.pop(name)
        names: dict[str, str] = {"#last": "last_at", "#count": "count"}
        values: dict[str, Any] = {":last": model_attributes(fresh)["last_at"], ":one": {"N": "1"}}
        sets = ["#last = :last"]
        for n, (name, value) in enumerate(sorted(first.items())):
            names[f"#f{n}"] = name
            values[f":f{n}"] = value
            sets.append(f"#f{n} = if_not_exists(#f{n}, :f{n})")
        answer = self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=f"SET {', '.join(sets)} ADD #count :one",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        stored = from_item(Alert, answer["Attributes"])
        if stored.count == 1:
            notify_all(self._notifiers, stored)
        return stored


_logger = Logger(child=True)


def deployed_alert_sink(settings: Settings, client: DynamoDBClient) -> DynamoAlertSink:
    """The processors' sink: the entities table, the log line, and SNS when a topic is configured."""
    notifiers = staff_notifiers(_logger, topic_arn=settings.traffic.alert_topic_arn, stage=settings.stage)
    return DynamoAlertSink(client, settings.tables.entities, notifiers)


__all__ = ["DynamoAlertSink", "deployed_alert_sink"]
