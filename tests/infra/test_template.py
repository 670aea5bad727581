"""Template checks (R11): the linters, an offline ``sam build``, and the platform's policies.

Policies are checked on the template itself, so a new queue, table or function that breaks one
fails here, before anything is deployed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from smsbilling.domain.alerts import Alert
from smsbilling.domain.blacklists import entry_id, scope_of
from smsbilling.domain.entities import BlacklistEntry, entity_key
from smsbilling.domain.traffic import HeldMessage

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".local" / "sam" / "bin" / "sam"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(str(TEMPLATE))  # type: ignore[no-any-return]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def default(template: dict[str, Any], value: Any) -> Any:
    """A literal, or the default of the parameter it refers to."""
    if isinstance(value, dict) and "Ref" in value:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def _sam_env() -> dict[str, str]:
    import sys

    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(sys.base_prefix) / 'bin'}:{os.environ['PATH']}",
    }


def test_cfn_lint_passes() -> None:
    done = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_lint_passes() -> None:
    done = subprocess.run(
        [str(SAM), "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "us-east-1"],
        capture_output=True,
        text=True,
        env=_sam_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_build_needs_no_network_and_no_docker(tmp_path: Path) -> None:
    """Built inside a fresh network namespace (no interfaces but a down loopback): no pip, no Docker."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to prove the build is offline")
    build_dir = tmp_path / "build"
    done = subprocess.run(
        ["unshare", "-n", str(SAM), "build", "--build-dir", str(build_dir)],
        capture_output=True,
        text=True,
        env=_sam_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (build_dir / "CoreLayer" / "python" / "smsbilling" / "settings.py").exists()
    for fn in resources(template=cfn_yaml.load(str(TEMPLATE)), kind="AWS::Serverless::Function"):
        assert (build_dir / fn / "app.py").exists(), fn


def test_every_function_is_thin_and_on_the_shared_layers(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    layers = template["Globals"]["Function"]["Layers"]
    assert {"Ref": "CoreLayer"} in layers and {"Ref": "DepsLayer"} in layers
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        code = ROOT / fn["Properties"]["CodeUri"]
        assert sorted(p.name for p in code.iterdir() if p.suffix == ".py") == ["app.py"], name
        assert len((code / "app.py").read_text().splitlines()) < 150, f"{name} handler is not thin"


def test_every_lambda_queue_source_has_a_dlq_partial_failures_and_enough_visibility(
    template: dict[str, Any],
) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    sources = 0
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        timeout = default(
            template, fn["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
        )
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            sources += 1
            queue_name = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            queue = queues[queue_name]["Properties"]
            assert "RedrivePolicy" in queue, f"{queue_name} has no DLQ"
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            assert default(template, queue["VisibilityTimeout"]) >= 6 * int(timeout), queue_name
    assert sources >= 1


def test_every_queue_has_a_dlq_and_every_dlq_an_alarm(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert set(queues) == dlqs | {n for n, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    alarmed = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        for dim in alarm["Properties"].get("Dimensions", []):
            if isinstance(dim["Value"], dict) and "Fn::GetAtt" in dim["Value"]:
                alarmed.add(dim["Value"]["Fn::GetAtt"][0])
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert dlqs <= alarmed, f"DLQs without an alarm: {dlqs - alarmed}"


def test_ledger_table_is_protected(template: dict[str, Any]) -> None:
    ledger = template["Resources"]["LedgerTable"]
    assert ledger["DeletionPolicy"] == "Retain"
    assert ledger["Properties"]["DeletionProtectionEnabled"] is True
    assert ledger["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    for name, table in resources(template, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, name


def test_export_bucket_is_encrypted_versioned_private_and_tls_only(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["ExportBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert (
        all(bucket["PublicAccessBlockConfiguration"].values())
        and len(bucket["PublicAccessBlockConfiguration"]) == 4
    )
    statement = template["Resources"]["ExportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def _policy_statements(fn: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in fn["Properties"].get("Policies", []):
        out.extend(policy.get("Statement", []) if isinstance(policy, dict) else [])
    return out


def test_no_wildcard_iam(template: dict[str, Any]) -> None:
    text = json.dumps({k: v for k, v in template["Resources"].items() if k != "ExportBucketPolicy"})
    assert '"Action": "*"' not in text and '"dynamodb:*"' not in text
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        for statement in _policy_statements(fn):
            assert statement["Resource"] != "*", name


def _may(fn: dict[str, Any], action: str, table: str, pk: str) -> bool:
    """Whether ``fn``'s policies allow ``dynamodb:<action>`` on an item of ``table`` keyed ``pk``."""
    for policy in fn["Properties"].get("Policies", []):
        if isinstance(policy, dict) and policy.get("DynamoDBCrudPolicy", {}).get("TableName") == {
            "Ref": table
        }:
            return True
    for statement in _policy_statements(fn):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if f"dynamodb:{action}" not in actions or statement["Resource"] != {"Fn::GetAtt": [table, "Arn"]}:
            continue
        keys = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        if keys is None or any(fnmatch.fnmatchcase(pk, pattern) for pattern in keys):
            return True
    return False


def test_the_message_processors_may_write_the_entities_traffic_control_and_stop_write(
    template: dict[str, Any],
) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    mo, mt = functions["MoProcessorFunction"], functions["MtProcessorFunction"]
    held, _ = entity_key(HeldMessage.type_name, "mo-1")
    alert, _ = entity_key(Alert.type_name, "a1")
    stop_entry, _ = entity_key(BlacklistEntry.type_name, entry_id(scope_of("p1"), "447700900123"))
    for fn in (mo, mt):
        for pk in (held, alert):
            assert _may(fn, "PutItem", "EntitiesTable", pk) and _may(fn, "UpdateItem", "EntitiesTable", pk)
    # STOP by a service's stop word lists the subscriber (a conditional put); subscribing again lifts it.
    assert _may(mo, "PutItem", "EntitiesTable", stop_entry)
    assert _may(mo, "DeleteItem", "EntitiesTable", stop_entry)
    assert not _may(mt, "DeleteItem", "EntitiesTable", stop_entry)
    assert not _may(mo, "DeleteItem", "EntitiesTable", held)  # only what it needs


def test_api_is_throttled(template: dict[str, Any]) -> None:
    settings = template["Resources"]["Api"]["Properties"]["MethodSettings"][0]
    assert default(template, settings["ThrottlingRateLimit"]) > 0
    assert default(template, settings["ThrottlingBurstLimit"]) > 0


def test_sensitive_routes_and_the_admin_api_have_lower_throttles_on_resources_of_their_own(
    template: dict[str, Any],
) -> None:
    """Each method setting names a route the template declares ('/' encoded as '~1'), under the stage's."""
    settings = template["Resources"]["Api"]["Properties"]["MethodSettings"]
    stage = settings[0]
    assert (stage["ResourcePath"], stage["HttpMethod"]) == ("/*", "*")
    routes = {
        (e["Properties"]["Path"], e["Properties"]["Method"].upper())
        for fn in resources(template, "AWS::Serverless::Function").values()
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    }
    limited = {}
    for item in settings[1:]:
        route = (item["ResourcePath"][1:].replace("~1", "/"), item["HttpMethod"])
        assert route in routes, route
        rate, burst = (default(template, item[k]) for k in ("ThrottlingRateLimit", "ThrottlingBurstLimit"))
        assert 0 < rate < default(template, stage["ThrottlingRateLimit"]) and burst > 0, route
        limited[route] = rate
    sensitive = {("/v1/partners", "POST"), ("/v1/partners/{proxy+}", "POST"), ("/v1/otp", "POST")}
    sensitive |= {("/v1/otp/{proxy+}", "POST")} | {("/admin/{proxy+}", m) for m in ("GET", "POST", "DELETE")}
    assert sensitive <= set(limited)
    assert limited[("/v1/partners", "POST")] <= 10  # registrations are few: a flood is an attack


def test_the_usage_plan_covers_the_api_stage_with_a_rate_and_a_daily_quota(template: dict[str, Any]) -> None:
    (plan,) = resources(template, "AWS::ApiGateway::UsagePlan").values()
    props = plan["Properties"]
    assert props["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}}]
    rate, burst = (default(template, props["Throttle"][k]) for k in ("RateLimit", "BurstLimit"))
    assert 0 < rate <= burst
    assert props["Quota"]["Period"] == "DAY" and default(template, props["Quota"]["Limit"]) > 0
    assert "Condition" not in plan  # deployed locally too (the local cloud provisions usage plans)


def test_bridge_is_declared_behind_a_condition_with_a_dockerfile(template: dict[str, Any]) -> None:
    bridge = {n: r for n, r in template["Resources"].items() if n.startswith("Bridge")}
    kinds = {r["Type"] for r in bridge.values()}
    assert {
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
    } <= kinds
    assert all(r.get("Condition") == "HasBridge" for r in bridge.values())
    assert (ROOT / "smpp_bridge" / "Dockerfile").exists()


def test_schedules_exist(template: dict[str, Any]) -> None:
    scheduled = [
        n
        for n, fn in resources(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "Schedule" for e in fn["Properties"].get("Events", {}).values())
    ]
    assert scheduled, "no scheduled function"


def test_traffic_alarms_watch_metrics_the_processors_emit(template: dict[str, Any]) -> None:
    """Alarms in the smsbilling namespace name metrics traffic_metrics emits, with exactly its dimensions."""
    from smsbilling.adapters.traffic_metrics import METRIC_NAMES

    service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    traffic = {
        name: alarm["Properties"]
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "smsbilling"
        and alarm["Properties"]["MetricName"] in METRIC_NAMES
    }
    assert {a["MetricName"] for a in traffic.values()} >= {"TrafficHeld", "TrafficRejected", "AlertsRaised"}
    for name, alarm in traffic.items():
        assert alarm["Dimensions"] == [{"Name": "service", "Value": service}], name
        assert alarm["Statistic"] == "Sum" and alarm["TreatMissingData"] == "notBreaching", name


def test_staff_alerts_reach_the_alarm_topic(template: dict[str, Any]) -> None:
    """The processors publish new alerts to the topic (and only it); CloudWatch can use the topic's key."""
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}  # alarms cannot use alias/aws/sns
    key_policy = template["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(s["Action"])
        for s in key_policy
    )
    assert template["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    for name in ("MoProcessorFunction", "MtProcessorFunction"):
        fn = template["Resources"][name]
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["SMSBILLING_TRAFFIC__ALERT_TOPIC_ARN"] == {"Ref": "AlarmTopic"}, name
        statements = _policy_statements(fn)
        publish = [s for s in statements if "sns:Publish" in s["Action"]]
        assert [s["Resource"] for s in publish] == [{"Ref": "AlarmTopic"}], name
        assert any(s["Resource"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]} for s in statements), name
