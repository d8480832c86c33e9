"""Alarms reach an encrypted topic; the layers ship what the functions import and nothing local."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template

from waterrev import catalog

if TYPE_CHECKING:  # fixtures only: conftest is not importable as a module under pytest
    from conftest import Synth

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def test_given_each_function_then_an_errors_alarm_notifies_the_topic(template: Template) -> None:
    alarms: Resources = template.find_resources("AWS::CloudWatch::Alarm")
    (topic_id,) = template.find_resources("AWS::SNS::Topic")

    errors = [a["Properties"] for a in alarms.values() if a["Properties"].get("MetricName") == "Errors"]
    assert len(errors) == len(catalog.built()) + len(catalog.TASK_FUNCTIONS)
    server_errors = [a["Properties"] for a in alarms.values() if a["Properties"].get("MetricName") == "5xx"]
    assert len(server_errors) == 1
    for alarm in errors + server_errors:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_given_the_alarm_topic_then_it_is_encrypted_and_refuses_plain_http(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^MonitoringAlarmTopicKey"), "Arn"]}},
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


ROOT = Path(__file__).resolve().parents[2]


def _alarms(template: Template) -> list[dict[str, Any]]:
    found: Resources = template.find_resources("AWS::CloudWatch::Alarm")
    return [a["Properties"] for a in found.values()]


def _dead_letter_queues(template: Template) -> set[str]:
    """Every queue something dead-letters to: an SQS redrive policy, a schedule's or a function's
    dead-letter config, an event source's on-failure destination."""
    found: set[str] = set()

    def visit(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            if key in ("deadLetterTargetArn", "DeadLetterConfig", "OnFailure"):
                arn = value.get("Arn", value.get("TargetArn", value.get("Destination", value)))
                if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                    found.add(arn["Fn::GetAtt"][0])
            for k, v in value.items():
                visit(v, k)
        elif isinstance(value, list):
            for v in value:
                visit(v, key)

    for resource in template.to_json()["Resources"].values():
        visit(resource.get("Properties", {}))
    queues: Resources = template.find_resources("AWS::SQS::Queue")
    return found & set(queues)


def test_given_every_dead_letter_queue_then_its_visible_messages_alarm_the_topic(template: Template) -> None:
    """Each queue a queue, a schedule or a function dead-letters to has an alarm on its visible messages
    (>= 1) that notifies the topic."""
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    dlqs = _dead_letter_queues(template)
    watched = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in _alarms(template)
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Threshold"] == 1
        and a["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        and a["AlarmActions"] == [{"Ref": topic_id}]
    }

    assert len(dlqs) >= 2  # the message queue's and the schedules'
    assert dlqs <= watched, dlqs - watched


def test_given_every_compensation_job_then_each_backlog_it_publishes_alarms_the_topic(
    template: Template,
) -> None:
    """Every compensation job (job_*compensate, the message relay) publishes at least one backlog gauge
    (waterrev.metrics.BACKLOGS), and each gauge has an alarm: namespace waterrev, service=waterrev, the
    maximum at 1 or more for two 5-minute periods, notifying the topic."""
    from waterrev import metrics

    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    jobs = {t.function for t in catalog.TASK_FUNCTIONS}
    compensations = {j for j in jobs if "compensate" in j} | {"job_message_relay"}
    assert compensations <= {job for job, _ in metrics.BACKLOGS.values()} <= jobs
    alarms = {a["MetricName"]: a for a in _alarms(template) if a.get("Namespace") == "waterrev"}

    for name in metrics.BACKLOGS:
        alarm = alarms[name]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": metrics.SERVICE}]
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (
            "Maximum",
            300,
            2,
            1,
        )
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_given_every_alarm_then_its_description_links_an_entry_of_the_runbook(template: Template) -> None:
    """Each alarm's description ends with `Runbook: docs/RUNBOOK.md#<anchor>`, and the anchor is an entry
    (a heading) of docs/RUNBOOK.md."""
    entries = _anchors((ROOT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8"))
    linked = set()
    for alarm in _alarms(template):
        found = re.search(r"Runbook: docs/RUNBOOK\.md#([\w-]+)$", alarm.get("AlarmDescription", ""))
        assert found, alarm
        linked.add(found.group(1))

    assert linked <= entries, linked - entries
    assert len(linked) >= 14


def _layer_asset_dir(synth: Synth, prefix: str) -> Path:
    layers: Resources = synth.template.find_resources("AWS::Lambda::LayerVersion")
    (layer,) = (r for k, r in layers.items() if k.startswith(prefix))
    object_key = layer["Properties"]["Content"]["S3Key"]
    manifest = json.loads(
        (synth.outdir / f"{synth.stack.artifact_id}.assets.json").read_text(encoding="utf-8")
    )
    (source,) = (
        f["source"]["path"]
        for f in manifest["files"].values()
        if any(d["objectKey"] == object_key for d in f["destinations"].values())
    )
    return synth.outdir / source


def test_given_the_core_layer_then_it_ships_waterrev_without_local_code_or_bytecode(synth: Synth) -> None:
    root = _layer_asset_dir(synth, "LayersCore")
    shipped = [p.relative_to(root).as_posix() for p in root.rglob("*")]

    assert "python/waterrev/catalog.py" in shipped
    assert not [p for p in shipped if "/local/" in f"/{p}/" or "__pycache__" in p or p.endswith(".pyc")]


def test_given_the_core_layer_then_it_ships_every_database_function_source(synth: Synth) -> None:
    """job_migrate applies waterrev/sql/functions/*.sql from the layer: a missing file is a function
    the deployment never creates."""
    from waterrev import sql

    root = _layer_asset_dir(synth, "LayersCore") / "python" / "waterrev" / "sql" / "functions"
    shipped = sorted(f.name for f in sql.functions(root))

    assert shipped == sorted(f.name for f in sql.functions())
    assert [f.sha256 for f in sql.functions(root)] == [f.sha256 for f in sql.functions()]


def test_given_no_built_deps_layer_then_synth_ships_an_empty_layer_layout(synth: Synth) -> None:
    root = _layer_asset_dir(synth, "LayersDeps")

    assert (root / "python").is_dir()
