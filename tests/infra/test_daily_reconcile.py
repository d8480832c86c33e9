"""The daily three-way reconciliation's schedule (docs/BANK.md)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from infra.constructs.recon_files import BUCKET_ENV, KEEP_DAYS
from infra.constructs.schedules import DAILY_RECONCILE
from tests.infra.test_egress import factory_functions
from tests.infra.test_invoice_files import _s3_actions
from tests.infra.test_messaging import _schedule_of
from tests.infra.test_workflows import statements_of_role, task_functions


def test_given_the_schedules_then_the_day_before_is_reconciled_every_morning_in_beijing_time(
    template: Template,
) -> None:
    """job_daily_reconcile at 07:00 Beijing time every day, retried twice, failed deliveries dead-lettered,
    its role allowed to invoke only that function."""
    tasks = task_functions(template)
    schedule = _schedule_of(template, tasks["job_daily_reconcile"])

    assert (
        schedule["ScheduleExpression"]
        == "cron(0 7 * * ? *)"
        == "cron({minute} {hour} {day} {month} ? {year})".format(**DAILY_RECONCILE)
    )
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert template.find_resources("AWS::SQS::Queue")[target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]]
    invokes = [
        s
        for s in statements_of_role(template, target["RoleArn"]["Fn::GetAtt"][0])
        if s["Action"] == "lambda:InvokeFunction"
    ]
    assert invokes and all(tasks["job_daily_reconcile"] in json.dumps(s["Resource"]) for s in invokes)


def test_given_the_reconciliation_bucket_then_only_the_reconciliation_reads_it(template: Template) -> None:
    """Given every function, then the daily job and IF-REV-011 (whose route re-runs a day) may only get the
    reconciliation files and list the bucket (so a missing file is 404, not 403), with the bucket in
    their environment; no other function is given the bucket,
    which is private, versioned and kept KEEP_DAYS."""
    functions = factory_functions(template)
    readers = ("job_daily_reconcile", "IF-REV-011")
    for name in readers:
        props = functions[name]
        role = props["Role"]["Fn::GetAtt"][0]
        assert _s3_actions(template, role, prefix="") == {"s3:GetObject", "s3:ListBucket"}
        # ListBucket on the bucket alone (a key not delivered is then 404, not 403), GetObject on its keys
        for statement in statements_of_role(template, role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:ListBucket" in actions:
                assert actions == ["s3:ListBucket"] and "/*" not in json.dumps(statement["Resource"])
                assert "ReconFiles" in json.dumps(statement["Resource"])
        assert BUCKET_ENV in props["Environment"]["Variables"]
    for name, props in functions.items():
        if name not in readers:
            assert BUCKET_ENV not in props.get("Environment", {}).get("Variables", {}), name
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"ExpirationInDays": KEEP_DAYS, "Status": "Enabled"})]
                )
            },
            "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicAcls": True}),
        },
    )
