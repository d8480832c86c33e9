"""The nightly ledger check (docs/LEDGER.md): its schedule, and the alarm on the metric it publishes."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.constructs.schedules import LEDGER_METRIC, LEDGER_NAMESPACE, LEDGER_SERVICE, NIGHTLY_LEDGER_CHECK
from tests.infra.test_messaging import _schedule_of
from tests.infra.test_workflows import statements_of_role, task_functions


def test_given_the_schedules_then_the_ledger_is_checked_every_night_in_beijing_time(
    template: Template,
) -> None:
    """job_ledger_check at 03:30 Beijing time every day, retried twice, failed deliveries dead-lettered,
    its role allowed to invoke only that function."""
    tasks = task_functions(template)
    schedule = _schedule_of(template, tasks["job_ledger_check"])

    assert (
        schedule["ScheduleExpression"]
        == "cron(30 3 * * ? *)"
        == "cron({minute} {hour} {day} {month} ? {year})".format(**NIGHTLY_LEDGER_CHECK)
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
    assert invokes and all(tasks["job_ledger_check"] in json.dumps(s["Resource"]) for s in invokes)


def test_given_the_ledger_metric_then_a_violation_or_a_missing_check_alarms_the_topic(
    template: Template,
) -> None:
    """Two alarms on waterrev/LedgerViolations (service=ledger), both notifying the alarm topic: the last
    check's maximum at 1 or more (no data keeps the state: it holds until a clean check); and no datapoint
    for 26 hours in a row (missing data breaches: a check that stopped running is as bad as a failing one)."""
    alarms: dict[str, Any] = template.find_resources("AWS::CloudWatch::Alarm")
    ledger = {
        a["Properties"]["Statistic"]: a["Properties"]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == LEDGER_METRIC
    }
    topic = next(k for k in template.find_resources("AWS::SNS::Topic") if k.startswith("Monitoring"))

    assert set(ledger) == {"Maximum", "SampleCount"}
    for alarm in ledger.values():
        assert (alarm["Namespace"], alarm["Dimensions"]) == (
            LEDGER_NAMESPACE,
            [{"Name": "service", "Value": LEDGER_SERVICE}],
        )
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    broken, silent = ledger["Maximum"], ledger["SampleCount"]
    assert (broken["Period"], broken["EvaluationPeriods"], broken["Threshold"]) == (3600, 1, 1)
    assert broken["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert broken["TreatMissingData"] == "ignore"
    assert (silent["Period"], silent["EvaluationPeriods"], silent["Threshold"]) == (3600, 26, 1)
    assert silent["Period"] * silent["EvaluationPeriods"] == 26 * 3600 <= 7 * 86400  # CloudWatch's bound
    assert silent["ComparisonOperator"] == "LessThanThreshold"
    assert silent["TreatMissingData"] == "breaching"
