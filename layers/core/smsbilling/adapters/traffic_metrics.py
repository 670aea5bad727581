"""CloudWatch metrics of the traffic guard's verdicts (Powertools EMF, namespace ``smsbilling``).

The MO and MT processors call :func:`record_verdict` once per checked message, with the function's
Powertools ``Metrics`` (flushed by ``@metrics.log_metrics`` at the end of each invocation, one EMF
log line per batch). Every metric is a count with only the ``service`` dimension Powertools adds
(``POWERTOOLS_SERVICE_NAME``, ``smsbilling`` in the template), so the alarms in template.yaml match
them exactly and the number of metrics stays fixed, whatever the traffic:

=======================  ====================================================================
metric                   counted
=======================  ====================================================================
``TrafficChecked``       every message the guard checked (both directions)
``MoTrafficChecked``,    the same, per direction (a function handles one direction: the
``MtTrafficChecked``     MO processor MOs, the MT processor MTs)
``TrafficAlerted``       messages whose strongest finding was ``alert`` (they went on)
``TrafficHeld``          messages held for an admin
``TrafficRejected``      messages rejected
``AlertsRaised``         findings (each raises an alert event; repeats are folded in records)
``Findings<Control>``    findings of one control, e.g. ``FindingsFraudLimit``, ``FindingsSpam``
=======================  ====================================================================

Partner, operator and rule ids are never dimensions (cardinality): the alert records say which.
"""

from __future__ import annotations

from typing import Final, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from smsbilling.domain.traffic import Action, ControlName, Direction, Verdict

CHECKED: Final = "TrafficChecked"
ALERTS_RAISED: Final = "AlertsRaised"
ACTION_METRICS: Final = {
    Action.ALERT: "TrafficAlerted",
    Action.HOLD: "TrafficHeld",
    Action.REJECT: "TrafficRejected",
}
DIRECTION_METRICS: Final = {Direction.MO: "MoTrafficChecked", Direction.MT: "MtTrafficChecked"}


def control_metric(control: ControlName) -> str:
    """``FindingsFraudLimit`` for ``fraud_limit``: one fixed name per control."""
    return "Findings" + "".join(part.capitalize() for part in control.value.split("_"))


METRIC_NAMES: Final = frozenset(
    {CHECKED, ALERTS_RAISED, *ACTION_METRICS.values(), *DIRECTION_METRICS.values()}
    | {control_metric(control) for control in ControlName}
)
"""Every name :func:`record_verdict` may emit (the template's alarms must use these)."""


class MetricsSink(Protocol):
    """The part of Powertools ``Metrics`` used here."""

    def add_metric(self, name: str, unit: MetricUnit | str, value: float, resolution: int = 60) -> None: ...


def record_verdict(metrics: MetricsSink, verdict: Verdict, direction: Direction) -> None:
    """Count one checked message: checked, its verdict's action, its findings (per control)."""
    metrics.add_metric(name=CHECKED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=DIRECTION_METRICS[direction], unit=MetricUnit.Count, value=1)
    action = verdict.action
    if action is not None:
        metrics.add_metric(name=ACTION_METRICS[action], unit=MetricUnit.Count, value=1)
    if verdict.findings:
        metrics.add_metric(name=ALERTS_RAISED, unit=MetricUnit.Count, value=len(verdict.findings))
    per_control: dict[ControlName, int] = {}
    for finding in verdict.findings:
        per_control[finding.control] = per_control.get(finding.control, 0) + 1
    for control, count in per_control.items():
        metrics.add_metric(name=control_metric(control), unit=MetricUnit.Count, value=count)


__all__ = ["ACTION_METRICS", "ALERTS_RAISED", "CHECKED", "METRIC_NAMES", "record_verdict"]
