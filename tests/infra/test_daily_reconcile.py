"""The daily three-way reconciliation's schedule (docs/BANK.md)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from infra.constructs.schedules import DAILY_RECONCILE
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
