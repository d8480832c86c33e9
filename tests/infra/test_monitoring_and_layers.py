"""Alarms reach an encrypted topic; the layers ship what the functions import and nothing local."""

from __future__ import annotations

import json
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
