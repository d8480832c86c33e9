"""The statistics exports: a private, encrypted, TLS-only bucket whose objects expire; only the statistics
function (IF-REV-010) may write and read its objects, and it knows the bucket's name."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.export_files import BUCKET_ENV, EXPIRE_DAYS
from infra.stack import EXPORT_FILE_WRITERS
from tests.infra.test_egress import factory_functions
from tests.infra.test_invoice_files import _s3_actions

pytestmark = pytest.mark.infra


def test_given_the_export_bucket_then_it_is_private_and_its_objects_expire(template: Template) -> None:
    """Given the stack, when synthesized, then one bucket expires its objects after EXPIRE_DAYS and blocks
    every public access."""
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"ExpirationInDays": EXPIRE_DAYS, "Status": "Enabled"})]
                )
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_given_the_functions_then_only_the_statistics_function_writes_exports(template: Template) -> None:
    """Given every function, then the statistics function puts and gets export objects only (no wildcard
    action) with the bucket in its environment, and no other function is given the bucket."""
    functions: dict[str, dict[str, Any]] = factory_functions(template)
    for name in EXPORT_FILE_WRITERS:
        props = functions[name]
        assert _s3_actions(template, props["Role"]["Fn::GetAtt"][0], prefix="") == {
            "s3:PutObject",
            "s3:GetObject",
        }
        assert BUCKET_ENV in props["Environment"]["Variables"]
    for name, props in functions.items():
        if name not in EXPORT_FILE_WRITERS:
            assert BUCKET_ENV not in props.get("Environment", {}).get("Variables", {}), name


def test_given_the_schedules_then_the_statistics_summaries_are_folded_every_ten_minutes(
    template: Template,
) -> None:
    """Given the stack, then a schedule invokes job_stat_fold every 10 minutes without retries (the next run
    takes over) and dead-letters a failed delivery."""
    import json

    from tests.infra.test_workflows import task_functions

    tasks = task_functions(template)
    (schedule,) = [
        s["Properties"]
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
        if json.dumps(s["Properties"]["Target"]["Arn"])
        == json.dumps({"Fn::GetAtt": [tasks["job_stat_fold"], "Arn"]})
    ]
    assert schedule["ScheduleExpression"] == "rate(10 minutes)"
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert schedule["Target"]["DeadLetterConfig"]["Arn"]
