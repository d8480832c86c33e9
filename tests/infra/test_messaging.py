"""The message pipeline's AWS resources: the queue and its dead-letter queue (maxReceiveCount), the
consumer's event source (ReportBatchItemFailures, bounded concurrency), least privilege for the consumer
and the relay, the SQS endpoint, the relay and reminder schedules, and the alarms on the dead-letter
queue's depth and the age of the oldest message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.messaging import (
    BATCH_SIZE,
    CALLBACK_URL_ENV,
    DLQ_URL_ENV,
    MAX_CONCURRENCY,
    MAX_RECEIVES,
    MAX_RECEIVES_ENV,
    OLDEST_MESSAGE_ALARM_S,
    QUEUE_URL_ENV,
)
from infra.constructs.schedules import MONTHLY_REMINDERS
from infra.constructs.secrets import SYS010_ENV
from tests.infra.test_workflows import as_list, role_of_function, statements_of_role, task_functions
from waterrev import catalog
from waterrev.settings import Settings

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def queues(template: Template) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """(queue id, props, dead-letter queue id, props) of the message queues."""
    found: Resources = template.find_resources("AWS::SQS::Queue")
    ((queue, q),) = [(k, v["Properties"]) for k, v in found.items() if k.startswith("MessagingQueue")]
    ((dlq, d),) = [(k, v["Properties"]) for k, v in found.items() if k.startswith("MessagingDeadLetters")]
    return queue, q, dlq, d


def test_given_the_queue_then_it_dead_letters_after_max_receives_encrypted_and_ssl_only(
    template: Template,
) -> None:
    queue, props, dlq, dlq_props = queues(template)
    consumer = catalog.TASK_FUNCTIONS[[t.function for t in catalog.TASK_FUNCTIONS].index("msg_consumer")]

    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    assert MAX_RECEIVES == Settings().message_max_receives == 5  # the consumer knows its last attempt
    assert props["VisibilityTimeout"] == 6 * consumer.timeout_s
    for p in (props, dlq_props):
        assert p["SqsManagedSseEnabled"] is True and p["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies: Resources = template.find_resources("AWS::SQS::QueuePolicy")
    for q in (queue, dlq):
        (policy,) = [p for p in policies.values() if {"Ref": q} in p["Properties"]["Queues"]]
        (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_given_the_consumer_then_it_reports_batch_item_failures_with_bounded_concurrency(
    template: Template,
) -> None:
    queue, _, _, _ = queues(template)
    consumer = task_functions(template)["msg_consumer"]
    mappings: Resources = template.find_resources("AWS::Lambda::EventSourceMapping")

    ((_, mapping),) = mappings.items()
    props = mapping["Properties"]
    assert props["FunctionName"] == {"Ref": consumer}
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (props["BatchSize"], props["MaximumBatchingWindowInSeconds"]) == (BATCH_SIZE, 1)
    assert props["ScalingConfig"] == {"MaximumConcurrency": MAX_CONCURRENCY}


def _sqs_statements(template: Template, function: str) -> list[dict[str, Any]]:
    return [
        s
        for s in statements_of_role(template, role_of_function(template, function))
        if any(str(a).startswith("sqs:") for a in as_list(s["Action"]))
    ]


def test_given_the_consumer_and_the_relay_then_each_has_only_its_own_rights_on_the_queues(
    template: Template,
) -> None:
    """The consumer may receive, delete and delay messages of the queue (not send, not the DLQ); the relay
    may send to the queue and read/delete the DLQ (its sweep); no other function touches them."""
    queue, _, dlq, _ = queues(template)
    tasks = task_functions(template)
    consumer = _sqs_statements(template, tasks["msg_consumer"])
    relay = _sqs_statements(template, tasks["job_message_relay"])

    consumer_actions = {a for s in consumer for a in as_list(s["Action"])}
    assert "sqs:SendMessage" not in consumer_actions and "sqs:ChangeMessageVisibility" in consumer_actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= consumer_actions
    assert all(s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]} for s in consumer)
    by_resource = {json.dumps(s["Resource"]): set(as_list(s["Action"])) for s in relay}
    assert "sqs:SendMessage" in by_resource[json.dumps({"Fn::GetAtt": [queue, "Arn"]})]
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= by_resource[
        json.dumps({"Fn::GetAtt": [dlq, "Arn"]})
    ]
    assert (
        not {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
        & by_resource[json.dumps({"Fn::GetAtt": [queue, "Arn"]})]
    )
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    others = [f for f in functions if f not in (tasks["msg_consumer"], tasks["job_message_relay"])]
    for other in others:
        role = functions[other]["Properties"]["Role"]["Fn::GetAtt"][0]
        touched = [
            s for s in statements_of_role(template, role) if queue in json.dumps(s) or dlq in json.dumps(s)
        ]
        assert touched == [], other


def test_given_the_consumer_then_it_knows_the_queue_its_last_attempt_and_the_callback_route(
    template: Template,
) -> None:
    queue, _, dlq, _ = queues(template)
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    tasks = task_functions(template)
    consumer = functions[tasks["msg_consumer"]]["Properties"]["Environment"]["Variables"]
    relay = functions[tasks["job_message_relay"]]["Properties"]["Environment"]["Variables"]
    http_api = next(
        k for k in template.find_resources("AWS::ApiGatewayV2::Api") if k.startswith("ApiHttpApi")
    )

    assert consumer[QUEUE_URL_ENV] == {"Ref": queue} and consumer[MAX_RECEIVES_ENV] == str(MAX_RECEIVES)
    assert consumer[CALLBACK_URL_ENV] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [http_api, "ApiEndpoint"]}, "/open-api/message/result"]]
    }
    assert consumer[SYS010_ENV]["Ref"].startswith("SecretsSys010")
    assert (relay[QUEUE_URL_ENV], relay[DLQ_URL_ENV]) == ({"Ref": queue}, {"Ref": dlq})
    assert SYS010_ENV not in relay


def test_given_the_isolated_relay_then_it_reaches_sqs_through_an_endpoint_open_to_the_functions(
    template: Template,
) -> None:
    endpoints: Resources = template.find_resources(
        "AWS::EC2::VPCEndpoint",
        {
            "Properties": {
                "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".sqs"]]}
            }
        },
    )
    ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    lambda_sg = next(k for k in groups if k.startswith("DataLambdaSg"))

    ((_, endpoint),) = endpoints.items()
    assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    (endpoint_sg,) = (g["Fn::GetAtt"][0] for g in endpoint["Properties"]["SecurityGroupIds"])
    sources = [
        (r["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0], r["Properties"]["FromPort"])
        for r in ingress.values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0] == endpoint_sg
    ]
    assert sources == [(lambda_sg, 443)]


def _schedule_of(template: Template, function: str) -> dict[str, Any]:
    (schedule,) = [
        s["Properties"]
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
        if json.dumps(s["Properties"]["Target"]["Arn"]) == json.dumps({"Fn::GetAtt": [function, "Arn"]})
    ]
    return schedule


def test_given_the_schedules_then_the_relay_runs_every_minute_and_reminders_monthly(
    template: Template,
) -> None:
    """The relay every minute (no retries: the next minute takes over); the reminders at 09:00 Beijing
    time on the 20th; both dead-letter a failed delivery, each role may invoke only its function."""
    tasks = task_functions(template)
    relay = _schedule_of(template, tasks["job_message_relay"])
    reminders = _schedule_of(template, tasks["job_reminder_generate"])

    assert (
        relay["ScheduleExpression"] == "rate(1 minute)"
        and relay["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    )
    assert (
        reminders["ScheduleExpression"]
        == "cron(0 9 20 * ? *)"
        == "cron({minute} {hour} {day} {month} ? {year})".format(**MONTHLY_REMINDERS)
    )
    assert reminders["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    for schedule, task in ((relay, "job_message_relay"), (reminders, "job_reminder_generate")):
        target = schedule["Target"]
        assert template.find_resources("AWS::SQS::Queue")[target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]]
        invokes = [
            s
            for s in statements_of_role(template, target["RoleArn"]["Fn::GetAtt"][0])
            if s["Action"] == "lambda:InvokeFunction"
        ]
        assert invokes and all(tasks[task] in json.dumps(s["Resource"]) for s in invokes)


def test_given_the_queues_then_dead_letters_and_an_old_message_notify_the_alarm_topic(
    template: Template,
) -> None:
    queue, _, dlq, _ = queues(template)
    alarms: Resources = template.find_resources("AWS::CloudWatch::Alarm")
    topic = next(k for k in template.find_resources("AWS::SNS::Topic") if k.startswith("Monitoring"))

    def alarm_on(metric: str, name: str) -> dict[str, Any]:
        (found,) = [
            a["Properties"]
            for a in alarms.values()
            if a["Properties"].get("MetricName") == metric
            and a["Properties"]["Dimensions"]
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [name, "QueueName"]}}]
        ]
        return found

    depth = alarm_on("ApproximateNumberOfMessagesVisible", dlq)
    age = alarm_on("ApproximateAgeOfOldestMessage", queue)
    assert (depth["Threshold"], depth["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (age["Threshold"], age["Statistic"]) == (OLDEST_MESSAGE_ALARM_S, "Maximum")
    for alarm in (depth, age):
        assert alarm["AlarmActions"] == [{"Ref": topic}]
