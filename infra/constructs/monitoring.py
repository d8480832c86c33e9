"""Alarms: an encrypted SNS topic; an Errors alarm per function, a 5xx alarm on the API, an alarm on each
compensation job's backlog (the gauges of waterrev.metrics). The DLQ, workflow and ledger alarms sit
beside what they watch (Messaging, Schedules, Workflows) and notify the same topic.

Every alarm's description ends with its runbook entry, docs/RUNBOOK.md#<anchor> (`runbook`): what the alarm
means, where to look, how to repair, when to escalate. tests/infra/test_monitoring_and_layers.py holds
every alarm to having one, and every anchor to existing."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from waterrev import metrics  # app.py puts the core layer's source on sys.path
from waterrev.settings import Settings

PERIOD = Duration.minutes(5)
RUNBOOK = "docs/RUNBOOK.md"
# A backlog alarms after this many consecutive 5-minute periods with something stuck: two compensation
# runs in a row left it (each backlog only counts items already an hour or more overdue).
BACKLOG_PERIODS = 2


def runbook(anchor: str) -> str:
    """The pointer an alarm's description ends with."""
    return f" Runbook: {RUNBOOK}#{anchor}"


def alarm_to(
    scope: Construct,
    construct_id: str,
    topic: sns.ITopic,
    *,
    metric: cloudwatch.IMetric,
    description: str,
    anchor: str,
    threshold: float = 1,
    evaluation_periods: int = 1,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm that notifies `topic`, its description ending with its runbook entry."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        comparison_operator=comparison,
        treat_missing_data=missing,
        alarm_description=description + runbook(anchor),
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        http_api: apigwv2.IHttpApi,
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="waterrev alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)

        for if_id, fn in functions.items():
            alarm_to(
                self,
                f"{if_id}-Errors",
                self.topic,
                metric=fn.metric_errors(period=PERIOD, statistic="Sum"),
                description=f"{if_id}: the function raised or timed out.",
                anchor="function-errors",
            )
        alarm_to(
            self,
            "Api5xx",
            self.topic,
            metric=http_api.metric_server_error(period=PERIOD, statistic="Sum"),
            description="HTTP API answered 5xx (function error, timeout or integration failure).",
            anchor="api-5xx",
        )
        self.backlogs = self._backlogs({name for name in functions})

    def _backlogs(self, deployed: set[str]) -> dict[str, cloudwatch.Alarm]:
        """Each backlog gauge whose job is deployed: its maximum at 1 or more for BACKLOG_PERIODS periods in
        a row. No data is not breaching: a job that stopped running is its Errors alarm's (or the schedule
        DLQ's) to report."""
        alarms = {}
        for name, (job, anchor) in metrics.BACKLOGS.items():
            if job not in deployed:
                continue
            alarms[name] = alarm_to(
                self,
                f"{name}Alarm",
                self.topic,
                metric=cloudwatch.Metric(
                    namespace=Settings.metrics_namespace,
                    metric_name=name,
                    dimensions_map={"service": metrics.SERVICE},
                    statistic="Maximum",
                    period=PERIOD,
                ),
                description=f"{job} left {name} above 0 on two runs in a row: items it cannot repair.",
                anchor=anchor,
                evaluation_periods=BACKLOG_PERIODS,
            )
        return alarms
