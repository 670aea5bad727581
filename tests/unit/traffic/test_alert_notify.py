"""Telling staff about a new alert: the WARNING log line, the SNS message, what neither may contain."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError, EndpointConnectionError

from smsbilling.adapters.alert_notify import (
    LOG_MESSAGE,
    LogAlertNotifier,
    SnsAlertNotifier,
    alert_subject,
    staff_notifiers,
)
from smsbilling.adapters.dynamodb_alerts import deployed_alert_sink
from smsbilling.adapters.memory_alerts import MemoryAlertSink
from smsbilling.domain.alerts import Alert, new_alert
from smsbilling.domain.traffic import Action, AlertEvent, ControlName, Direction, Finding, MessageFacts
from smsbilling.settings import Settings

TOPIC = "arn:aws:sns:us-east-1:000000000000:smsbilling-AlarmTopic-1"
MSISDN = "447700900123"
TEXT = "Your code is 493817, reply WIN to claim"


def an_alert(rule_id: str = "op1-hourly") -> Alert:
    facts = MessageFacts(
        direction=Direction.MT,
        message_id="mt-42",
        at=datetime(2026, 11, 22, 12, 5, tzinfo=UTC),
        msisdn=MSISDN,
        text=TEXT,
        operator_id="op1",
        partner_id="p1",
    )
    finding = Finding(ControlName.FRAUD_LIMIT, rule_id, Action.REJECT, "over 100 MTs an hour to 44770")
    return new_alert(AlertEvent.of(finding, facts))


class FakeSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.published: list[dict[str, Any]] = []
        self.error = error

    def publish(self, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        self.published.append(kwargs)
        return {"MessageId": "1"}


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("WARNING", str(msg), kwargs.get("extra", {})))

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("ERROR", str(msg), kwargs.get("extra", {})))


def test_the_log_line_is_structured_and_holds_no_number_or_text() -> None:
    out = io.StringIO()
    logger = Logger(service="smsbilling-alert-test", logger_handler=logging.StreamHandler(out))
    LogAlertNotifier(logger).alert_opened(an_alert())
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["level"], line["message"]) == ("WARNING", LOG_MESSAGE)
    assert (line["control"], line["rule_id"], line["action"]) == ("fraud_limit", "op1-hourly", "reject")
    assert (line["partner_id"], line["operator_id"], line["sample_message_id"]) == ("p1", "op1", "mt-42")
    assert line["count"] == 1 and line["alert_id"] == an_alert().alert_id
    assert MSISDN not in out.getvalue() and "493817" not in out.getvalue()


def test_the_sns_message_names_the_alert_and_how_to_acknowledge_it() -> None:
    sns, log = FakeSns(), Recorder()
    alert = an_alert()
    SnsAlertNotifier(sns, TOPIC, log, stage="prod").alert_opened(alert)
    [sent] = sns.published
    assert sent["TopicArn"] == TOPIC
    assert sent["Subject"] == "[smsbilling prod] reject: fraud_limit rule op1-hourly"
    assert f"/admin/alerts/{alert.alert_id}/acknowledge" in sent["Message"]
    assert "over 100 MTs an hour" in sent["Message"] and "partner_id: p1" in sent["Message"]
    assert MSISDN not in json.dumps(sent) and "493817" not in json.dumps(sent)
    assert sent["MessageAttributes"]["action"] == {"DataType": "String", "StringValue": "reject"}
    assert log.lines == []


def test_subjects_stay_ascii_and_within_the_sns_limit() -> None:
    subject = alert_subject(an_alert("правило-" + "x" * 200), "prod")
    assert len(subject) == 100 and subject.isascii() and subject.isprintable()


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (
            ClientError({"Error": {"Code": "AuthorizationError", "Message": "no"}}, "Publish"),
            "AuthorizationError",
        ),
        (EndpointConnectionError(endpoint_url="https://sns.example"), "EndpointConnectionError"),
    ],
)
def test_a_failed_publish_is_logged_and_does_not_fail_the_message(error: Exception, logged: str) -> None:
    log = Recorder()
    sink = MemoryAlertSink(notifiers=[SnsAlertNotifier(FakeSns(error), TOPIC, log, stage="prod")])
    alert = an_alert()
    facts = MessageFacts(direction=Direction.MT, message_id="mt-1", at=alert.first_at, msisdn=MSISDN)
    finding = Finding(ControlName.FRAUD_LIMIT, "r", Action.HOLD, "why")
    stored = sink.record(AlertEvent.of(finding, facts))  # no exception
    assert stored.count == 1
    assert log.lines == [("ERROR", "alert not published", {"alert_id": stored.alert_id, "error": logged})]


def test_sns_is_used_only_when_a_topic_is_configured() -> None:
    log, sns = Recorder(), FakeSns()
    assert [type(n) for n in staff_notifiers(log, topic_arn="", stage="local", sns=sns)] == [LogAlertNotifier]
    both = staff_notifiers(log, topic_arn=TOPIC, stage="local", sns=sns)
    assert [type(n) for n in both] == [LogAlertNotifier, SnsAlertNotifier]
    for notifier in both:
        notifier.alert_opened(an_alert())
    assert len(sns.published) == 1 and [line[0] for line in log.lines] == ["WARNING"]


def test_the_topic_arn_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSBILLING_TRAFFIC__ALERT_TOPIC_ARN", TOPIC)
    assert Settings().traffic.alert_topic_arn == TOPIC
    monkeypatch.setenv("SMSBILLING_TRAFFIC__ALERT_TOPIC_ARN", "not an arn")
    with pytest.raises(ValueError, match="alert_topic_arn"):
        Settings()


def test_the_deployed_sink_publishes_when_the_topic_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    sns = FakeSns()
    monkeypatch.setattr("smsbilling.adapters.aws.sns", lambda: sns)
    settings = Settings.model_validate({"traffic": {"alert_topic_arn": TOPIC}})

    class Dynamo:
        def update_item(self, **request: Any) -> Any:
            fields = request["ExpressionAttributeValues"]
            assert request["ReturnValues"] == "ALL_NEW" and fields[":one"] == {"N": "1"}
            names = request["ExpressionAttributeNames"]
            item = {names[k.replace(":", "#")]: v for k, v in fields.items() if k.startswith(":f")}
            return {"Attributes": item | {"count": {"N": "1"}, "last_at": fields[":last"]}}

    sink = deployed_alert_sink(settings, Dynamo())  # type: ignore[arg-type]
    sink.raise_alert(AlertEvent.of(Finding(ControlName.SPAM, "w", Action.ALERT, "word"), mo_facts()))
    assert len(sns.published) == 1 and sns.published[0]["TopicArn"] == TOPIC


def mo_facts() -> MessageFacts:
    return MessageFacts(
        direction=Direction.MO, message_id="m1", at=datetime(2026, 11, 22, tzinfo=UTC), msisdn=MSISDN
    )
