"""Telling staff about a new alert: a structured WARNING log line always, the SNS topic when configured.

The alert sinks (adapters/dynamodb_alerts.py, adapters/memory_alerts.py) call every notifier once per
**new** alert record, never for a repeat. What goes out names the alert, the control, rule, action
and reason, the partner and operator and one sample message id: never a subscriber's number, never
the message text, never a credential. The SNS topic (``settings.traffic.alert_topic_arn``, the
template's ``AlarmTopic``) mails its e-mail subscribers, the same staff the CloudWatch alarms reach.

A failed publish does not fail the message that raised the alert (the record is stored and the log
line written: staff find it through ``GET /admin/alerts``); it is logged at ERROR with the error code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from smsbilling.adapters import aws
from smsbilling.adapters.aws import SnsClient
from smsbilling.domain.alerts import Alert

LOG_MESSAGE: Final = "traffic alert opened"
SUBJECT_CHARS_MAX: Final = 100  # SNS e-mail subjects: ASCII, at most 100 characters


class AlertNotifier(Protocol):
    def alert_opened(self, alert: Alert) -> None: ...


class WarningLogger(Protocol):
    def warning(self, msg: object, *args: Any, **kwargs: Any) -> Any: ...

    def error(self, msg: object, *args: Any, **kwargs: Any) -> Any: ...


def log_fields(alert: Alert) -> dict[str, Any]:
    """What the log line and the notification say about an alert (no MSISDN, no text, no secret)."""
    return {
        "alert_id": alert.alert_id,
        "control": alert.control.value,
        "rule_id": alert.rule_id,
        "action": alert.action.value,
        "reason": alert.reason,
        "direction": alert.direction.value,
        "partner_id": alert.partner_id,
        "operator_id": alert.operator_id,
        "sample_message_id": alert.sample_message_id,
        "first_at": alert.first_at.isoformat(),
        "count": alert.count,
    }


def alert_subject(alert: Alert, stage: str) -> str:
    text = f"[smsbilling {stage}] {alert.action.value}: {alert.control.value} rule {alert.rule_id}"
    ascii_only = text.encode("ascii", "replace").decode()
    return "".join(c if c.isprintable() else "?" for c in ascii_only)[:SUBJECT_CHARS_MAX]


def alert_body(alert: Alert, stage: str) -> str:
    fields = log_fields(alert)
    lines = [f"A traffic control raised an alert on smsbilling ({stage}).", ""]
    lines += [f"{name}: {'-' if value is None else value}" for name, value in fields.items()]
    lines += [
        "",
        f"Details: GET /admin/alerts/{alert.alert_id}",
        f"Acknowledge: POST /admin/alerts/{alert.alert_id}/acknowledge",
        "Repeats of this rule in the same UTC hour are counted on the alert without another notice.",
    ]
    return "\n".join(lines)


class LogAlertNotifier:
    """One structured WARNING line per new alert (every stage; locally, the only notice)."""

    def __init__(self, logger: WarningLogger) -> None:
        self._logger = logger

    def alert_opened(self, alert: Alert) -> None:
        self._logger.warning(LOG_MESSAGE, extra=log_fields(alert))


class SnsAlertNotifier:
    """Publishes a new alert to the staff topic (e-mail subscribers); failures are logged, not raised."""

    def __init__(self, client: SnsClient, topic_arn: str, logger: WarningLogger, *, stage: str) -> None:
        if not topic_arn:
            raise ValueError("the SNS alert notifier needs a topic ARN (SMSBILLING_TRAFFIC__ALERT_TOPIC_ARN)")
        self._client = client
        self._topic_arn = topic_arn
        self._logger = logger
        self._stage = stage

    def alert_opened(self, alert: Alert) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Subject=alert_subject(alert, self._stage),
                Message=alert_body(alert, self._stage),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": "traffic-alert"},
                    "action": {"DataType": "String", "StringValue": alert.action.value},
                    "control": {"DataType": "String", "StringValue": alert.control.value},
                },
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            self._logger.error("alert not published", extra={"alert_id": alert.alert_id, "error": code})
        except BotoCoreError as error:
            self._logger.error(
                "alert not published", extra={"alert_id": alert.alert_id, "error": type(error).__name__}
            )


def staff_notifiers(
    logger: WarningLogger, *, topic_arn: str, stage: str, sns: SnsClient | None = None
) -> tuple[AlertNotifier, ...]:
    """The log line always; SNS too when a topic is configured (``sns``: the client, built on demand)."""
    notifiers: list[AlertNotifier] = [LogAlertNotifier(logger)]
    if topic_arn:
        notifiers.append(SnsAlertNotifier(sns or aws.sns(), topic_arn, logger, stage=stage))
    return tuple(notifiers)


def notify_all(notifiers: Sequence[AlertNotifier], alert: Alert) -> None:
    for notifier in notifiers:
        notifier.alert_opened(alert)


__all__ = [
    "LOG_MESSAGE",
    "AlertNotifier",
    "LogAlertNotifier",
    "SnsAlertNotifier",
    "alert_body",
    "alert_subject",
    "log_fields",
    "notify_all",
    "staff_notifiers",
]
