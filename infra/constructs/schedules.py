"""EventBridge Scheduler: the monthly bill run, payment compensation, the message relay and the monthly
reminders, with a dead-letter queue for failed deliveries."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.monitoring import alarm_to
from infra.nag import acknowledge

# 02:00 Beijing time on the 1st of every month: Prepare then bills the month before.
MONTHLY_BILL_RUN = {"minute": "0", "hour": "2", "day": "1", "month": "*", "year": "*"}
# Every key, null where Prepare decides (period: the month before; due date: the 15th of the next
# month; run number: the next of the period); from_text keeps the nulls (jsii would drop them).
MONTHLY_BILL_RUN_INPUT = {"billPeriod": None, "dueDate": None, "runNo": None, "chunkSize": 5000}
# 09:00 Beijing time on the 20th: the 15th's due date has passed (overdue days count from it); each office
# is generated as its own run (IF-REV-013, triggerType AUTO).
MONTHLY_REMINDERS = {"minute": "0", "hour": "9", "day": "20", "month": "*", "year": "*"}
# 03:30 Beijing time every night: the ledger's invariants on the day's data (docs/LEDGER.md).
NIGHTLY_LEDGER_CHECK = {"minute": "30", "hour": "3", "day": "*", "month": "*", "year": "*"}
# 07:00 Beijing time every morning: the day before reconciled over every channel (the channels' statements
# and the bank's credit file are delivered overnight; docs/BANK.md).
DAILY_RECONCILE = {"minute": "0", "hour": "7", "day": "*", "month": "*", "year": "*"}
# What job_ledger_check publishes (embedded metric format): the violations found by the last check.
LEDGER_NAMESPACE, LEDGER_METRIC, LEDGER_SERVICE = "waterrev", "LedgerViolations", "ledger"
# The check runs every 24 hours: this long without a report means it stopped (2 hours of slack).
LEDGER_SILENT_HOURS = 26


class Schedules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        bill_run: sfn.IStateMachine,
        payment_compensation: lambda_.IFunction | None = None,
        invoice_compensation: lambda_.IFunction | None = None,
        message_relay: lambda_.IFunction | None = None,
        reminders: lambda_.IFunction | None = None,
        ledger_check: lambda_.IFunction | None = None,
        stat_fold: lambda_.IFunction | None = None,
        daily_reconcile: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue: it receives the schedule deliveries that "
            "EventBridge Scheduler could not hand to Step Functions after its retries.",
        )
        self.monthly_bill_run = scheduler.Schedule(
            self,
            "MonthlyBillRun",
            schedule=scheduler.ScheduleExpression.cron(time_zone=TimeZone.ASIA_SHANGHAI, **MONTHLY_BILL_RUN),
            description=f"waterrev-{env_name}: bill the previous month (bill-run state machine)",
            target=targets.StepFunctionsStartExecution(
                bill_run,
                input=scheduler.ScheduleTargetInput.from_text(json.dumps(MONTHLY_BILL_RUN_INPUT)),
                dead_letter_queue=self.dead_letters,
                # StartExecution carries no name here, so a retried delivery whose first attempt did
                # start may start a second run: harmless (billing is idempotent per reading), but few.
                retry_attempts=3,
                max_event_age=Duration.hours(6),
            ),
        )

        if payment_compensation is not None:
            # Orders that saw no callback are queried at SYS-009 (each with its own backoff inside).
            role = iam.Role(
                self,
                "PaymentCompensationRole",
                assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                description="payment-compensation schedule: invokes that one function, dead-letters to the DLQ",
            )
            self.payment_compensation = scheduler.Schedule(
                self,
                "PaymentCompensation",
                schedule=scheduler.ScheduleExpression.rate(Duration.minutes(5)),
                description=f"waterrev-{env_name}: query SYS-009 for orders without a result, close expired",
                target=targets.LambdaInvoke(
                    payment_compensation,
                    role=role,
                    input=scheduler.ScheduleTargetInput.from_object({"limit": 200}),
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(10),
                ),
            )
            function_id = Stack.of(self).get_logical_id(
                payment_compensation.node.default_child  # type: ignore[arg-type]
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
                "The Lambda target grants `<payment-compensation function arn>:*` (its versions and aliases) "
                "besides the function itself; no other function or action.",
            )

        if invoice_compensation is not None:
            # Invoices without a result are queried at SYS-008 (IF-REV-009 AUTO_COMPENSATE, backoff inside).
            self.invoice_compensation = self._invoke(
                "InvoiceCompensation",
                invoice_compensation,
                scheduler.ScheduleExpression.rate(Duration.minutes(5)),
                f"waterrev-{env_name}: query SYS-008 for invoices without a result, voids and red-inks, files",
                {"limit": 2000},
                retry_attempts=2,
                max_event_age=Duration.minutes(10),
            )
        if message_relay is not None:
            # Every minute; the relay keeps relaying for most of it, so a message waits about a second.
            # No retries: the next minute's run takes over whatever this one left.
            self.message_relay = self._invoke(
                "MessageRelay",
                message_relay,
                scheduler.ScheduleExpression.rate(Duration.minutes(1)),
                f"waterrev-{env_name}: relay the message outbox to the queue, sweep the dead-letter queue",
                {},
                retry_attempts=0,
                max_event_age=Duration.minutes(1),
            )
        if reminders is not None:
            self.monthly_reminders = self._invoke(
                "MonthlyReminders",
                reminders,
                scheduler.ScheduleExpression.cron(time_zone=TimeZone.ASIA_SHANGHAI, **MONTHLY_REMINDERS),
                f"waterrev-{env_name}: reminder tasks for every office's customers in arrears (IF-REV-013)",
                {},
                retry_attempts=2,
                max_event_age=Duration.hours(6),
            )

        self.ledger_check: scheduler.Schedule | None = None
        if ledger_check is not None:
            self.ledger_check = self._invoke(
                "NightlyLedgerCheck",
                ledger_check,
                scheduler.ScheduleExpression.cron(time_zone=TimeZone.ASIA_SHANGHAI, **NIGHTLY_LEDGER_CHECK),
                f"waterrev-{env_name}: check the ledger's invariants (collections = write-offs + balances + refunds)",
                {"limit": 200},
                retry_attempts=2,
                max_event_age=Duration.hours(2),
            )
        self.daily_reconcile: scheduler.Schedule | None = None
        if daily_reconcile is not None:
            self.daily_reconcile = self._invoke(
                "DailyReconcile",
                daily_reconcile,
                scheduler.ScheduleExpression.cron(time_zone=TimeZone.ASIA_SHANGHAI, **DAILY_RECONCILE),
                f"waterrev-{env_name}: the day before reconciled over every channel (ours, statements, bank credits)",
                {},
                retry_attempts=2,
                max_event_age=Duration.hours(6),
            )
        if stat_fold is not None:
            # The statistics summaries' delta rows folded into one row per group; a missed run only
            # leaves more rows for the next one (no retries).
            self.stat_fold = self._invoke(
                "StatFold",
                stat_fold,
                scheduler.ScheduleExpression.rate(Duration.minutes(10)),
                f"waterrev-{env_name}: fold the statistics summaries (IF-REV-010)",
                {},
                retry_attempts=0,
                max_event_age=Duration.minutes(10),
            )

    def _invoke(
        self,
        name: str,
        function: lambda_.IFunction,
        expression: scheduler.ScheduleExpression,
        description: str,
        payload: dict[str, object],
        *,
        retry_attempts: int,
        max_event_age: Duration,
    ) -> scheduler.Schedule:
        """A schedule that invokes one function, with a role of its own that may invoke only it and
        dead-letter to the schedules' queue."""
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description=f"{name} schedule: invokes that one function, dead-letters to the DLQ",
        )
        schedule = scheduler.Schedule(
            self,
            name,
            schedule=expression,
            description=description,
            target=targets.LambdaInvoke(
                function,
                role=role,
                input=scheduler.ScheduleTargetInput.from_object(payload),
                dead_letter_queue=self.dead_letters,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            ),
        )
        function_id = Stack.of(self).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
            f"The Lambda target grants `<{name} function arn>:*` (its versions and aliases) besides the "
            "function itself; no other function or action.",
        )
        return schedule

    def alarm_to(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        """A delivery in the dead-letter queue: a scheduled run (the month's bill run, a compensation, the
        reminders, the ledger check) did not start. And the ledger check's two alarms (alarm_ledger)."""
        alarm = alarm_to(
            self,
            "DeadLettersVisible",
            topic,
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            description="A scheduled run (bill run, compensation, reminders, ledger check) could not be "
            "started: see the schedule DLQ.",
            anchor="schedule-dead-letters",
        )
        if self.ledger_check is not None:
            self.alarm_ledger(topic)
        return alarm

    def alarm_ledger(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        """Money created or destroyed somewhere: the last check's violations at 1 or more (the state holds
        until the next check reports: missing data is ignored). And a check that stopped reporting: no
        datapoint for LEDGER_SILENT_HOURS hours in a row (missing data breaches; the check runs nightly)."""

        def violations(statistic: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=LEDGER_NAMESPACE,
                metric_name=LEDGER_METRIC,
                dimensions_map={"service": LEDGER_SERVICE},
                statistic=statistic,
                period=period,
            )

        return {
            "Broken": alarm_to(
                self,
                "LedgerInvariantBroken",
                topic,
                metric=violations("Maximum", Duration.hours(1)),
                description="The nightly ledger check found money created or destroyed (biz_ledger_check).",
                anchor="ledger-invariant-broken",
                missing=cloudwatch.TreatMissingData.IGNORE,
            ),
            "Silent": alarm_to(
                self,
                "LedgerCheckMissing",
                topic,
                metric=violations("SampleCount", Duration.hours(1)),
                threshold=1,
                evaluation_periods=LEDGER_SILENT_HOURS,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                description=f"The nightly ledger check has not reported for {LEDGER_SILENT_HOURS} hours.",
                anchor="ledger-check-missing",
                missing=cloudwatch.TreatMissingData.BREACHING,
            ),
        }
