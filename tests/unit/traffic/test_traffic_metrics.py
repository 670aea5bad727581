"""Traffic metrics as Powertools writes them (EMF on stdout); the alarms on them: tests/infra."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from smsbilling.adapters.traffic_metrics import METRIC_NAMES, control_metric, record_verdict
from smsbilling.domain.traffic import Action, ControlName, Direction, Finding, Verdict


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[Metrics]:
    """The functions' Metrics (namespace smsbilling, service from POWERTOOLS_SERVICE_NAME)."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "smsbilling")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    found = Metrics(namespace="smsbilling")
    found.clear_metrics()  # Powertools shares the metric set between instances
    yield found
    found.clear_metrics()


def emf(metrics: Metrics, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    metrics.flush_metrics()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1, lines
    blob: dict[str, Any] = json.loads(lines[0])
    return blob


def emitted(blob: dict[str, Any]) -> dict[str, float]:
    """Metric name -> its total in the blob (Powertools lists repeated values)."""
    names = [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return {name: sum(blob[name]) if isinstance(blob[name], list) else blob[name] for name in names}


def test_a_batch_of_verdicts_counts_actions_findings_and_controls(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    spam = Finding(ControlName.SPAM, "words", Action.REJECT, "a spam word")
    limit = Finding(ControlName.FRAUD_LIMIT, "op1-hour", Action.HOLD, "over the limit")
    watch = Finding(ControlName.FRAUD_LIMIT, "p1-day", Action.ALERT, "near the limit")
    for verdict in (
        Verdict(),  # clean
        Verdict((watch,)),  # alert only: goes on
        Verdict((watch, limit)),  # held
        Verdict((limit, spam)),  # rejected
    ):
        record_verdict(metrics, verdict, Direction.MT)
    blob = emf(metrics, capsys)
    definition = blob["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "smsbilling"
    assert definition["Dimensions"] == [["service"]] and blob["service"] == "smsbilling"
    assert all(m["Unit"] == "Count" for m in definition["Metrics"])
    assert emitted(blob) == {
        "TrafficChecked": 4,
        "MtTrafficChecked": 4,
        "TrafficAlerted": 1,
        "TrafficHeld": 1,
        "TrafficRejected": 1,
        "AlertsRaised": 5,
        "FindingsFraudLimit": 4,
        "FindingsSpam": 1,
    }


def test_a_clean_mo_is_only_counted_as_checked(metrics: Metrics, capsys: pytest.CaptureFixture[str]) -> None:
    record_verdict(metrics, Verdict(risk_score=12), Direction.MO)
    assert emitted(emf(metrics, capsys)) == {"TrafficChecked": 1, "MoTrafficChecked": 1}


def test_every_control_has_one_fixed_metric_name() -> None:
    names = {control_metric(control) for control in ControlName}
    assert len(names) == len(ControlName)
    assert control_metric(ControlName.FRAUD_LIMIT) == "FindingsFraudLimit"
    assert names <= METRIC_NAMES
    assert all(name.isalnum() for name in METRIC_NAMES)
