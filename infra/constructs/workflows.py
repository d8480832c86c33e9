"""Step Functions workflows: the bill run, its task function, and who may start it.

The definition is the ASL file the local stack runs on moto (`waterrev/workflows/*.asl.json`),
inlined as the DefinitionString; CloudFormation fills in its `${...}` placeholders from
DefinitionSubstitutions, so the deployed and the local definitions are the same text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.assets import REPO_ROOT
from infra.constructs.function_factory import FunctionFactory, FunctionSettings, TaskSpec
from infra.constructs.monitoring import alarm_to
from infra.nag import acknowledge

WORKFLOWS_DIR = REPO_ROOT / "layers" / "core" / "python" / "waterrev" / "workflows"
BILL_RUN_ASL = WORKFLOWS_DIR / "bill_run.asl.json"
BILL_RUN_TASK = "wf_bill_run"
BILL_RUN_ARN_ENV = "WATERREV_BILL_RUN_STATE_MACHINE_ARN"
# Prepare's default period is "the month before today": the schedule fires at 02:00 Beijing time on
# the 1st, when the UTC date is still the last day of the month before.
BILL_RUN_TIME_ZONE = "Asia/Shanghai"
WITHHOLDING_ASL = WORKFLOWS_DIR / "withholding.asl.json"
WITHHOLDING_TASK = "wf_withholding"
WITHHOLDING_ARN_ENV = "WATERREV_WITHHOLDING_STATE_MACHINE_ARN"
# The scheduled job that restarts a batch whose execution ended without deciding (banking.workflow).
WITHHOLDING_RESTARTER = "job_pay_compensate"


def read_definition(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        tasks: Sequence[TaskSpec],
        function_settings: FunctionSettings,
        bill_run_starters: Sequence[lambda_.Function],
        task_secrets: Mapping[str, Mapping[str, secretsmanager.ISecret]] | None = None,
        egress_tasks: Collection[str] = (),
        withholding_starters: Sequence[lambda_.Function] = (),
    ) -> None:
        """`egress_tasks`: the task functions that call outside systems (FunctionFactory's `egress`).
        `withholding_starters`: the functions that start withholding batches and resume the ones waiting for
        their return (states:StartExecution, states:SendTaskSuccess)."""
        super().__init__(scope, construct_id)
        by_name = {t.function: t for t in tasks}
        if BILL_RUN_TASK not in by_name:
            raise ValueError(f"the bill run needs the task function {BILL_RUN_TASK!r} in the catalog")
        factory = FunctionFactory(Construct(self, "Functions"), function_settings)
        self.bill_run_function = factory.create_task(
            by_name[BILL_RUN_TASK],
            environment={"TZ": BILL_RUN_TIME_ZONE},
            egress=BILL_RUN_TASK in egress_tasks,
        )
        self.functions: dict[str, lambda_.Function] = {BILL_RUN_TASK: self.bill_run_function}
        # Scheduled jobs (not workflow steps) come from the same factory.
        for task in tasks:
            if task.function != BILL_RUN_TASK:
                self.functions[task.function] = factory.create_task(
                    task,
                    secrets=task_secrets.get(task.function) if task_secrets else None,
                    egress=task.function in egress_tasks,
                )
        self.bill_run = self._bill_run(env_name, self.bill_run_function)
        self.withholding: sfn.StateMachine | None = None
        if WITHHOLDING_TASK in self.functions:
            self.withholding = self._withholding(env_name, self.functions[WITHHOLDING_TASK])
            for starter in withholding_starters:
                starter.add_environment(WITHHOLDING_ARN_ENV, self.withholding.state_machine_arn)
                self.withholding.grant_start_execution(starter)
                self.withholding.grant_task_response(starter)
            restarter = self.functions.get(WITHHOLDING_RESTARTER)
            if restarter is not None:  # restarts the executions that ended without deciding
                restarter.add_environment(WITHHOLDING_ARN_ENV, self.withholding.state_machine_arn)
                self.withholding.grant_start_execution(restarter)
                self.withholding.grant_execution(restarter, "states:DescribeExecution")
                stack = Stack.of(self)
                machine_id = stack.resolve(stack.get_logical_id(self.withholding.node.default_child))  # type: ignore[arg-type]
                acknowledge(
                    restarter.role or restarter,
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                    f'execution:{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine_id}"}}]}}]}}:*]',
                    "states:DescribeExecution on the withholding state machine's executions only: an execution's "
                    "ARN is its machine's name and a name given at its start, so no narrower resource exists.",
                )

        for starter in bill_run_starters:
            starter.add_environment(BILL_RUN_ARN_ENV, self.bill_run.state_machine_arn)
            self.bill_run.grant_start_execution(starter)
        self.states_endpoint = self._states_endpoint(function_settings)

    def _bill_run(self, env_name: str, task: lambda_.IFunction) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "BillRunLogs",
            log_group_name=f"/aws/vendedlogs/states/waterrev-{env_name}-bill-run",
            retention=logs.RetentionDays.THREE_MONTHS,
        )
        role = iam.Role(
            self,
            "BillRunRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="bill-run state machine: invokes the bill-run task function only",
        )
        # Not task.grant_invoke(): that also grants `<arn>:*` (every version and alias).
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[task.function_arn])
        )
        machine = sfn.StateMachine(
            self,
            "BillRun",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(read_definition(BILL_RUN_ASL)),
            definition_substitutions={"BillRunFunctionArn": task.function_arn, "Partition": Aws.PARTITION},
            role=role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Resource '*' only for what Step Functions needs to log and trace: the CloudWatch Logs "
            "log-delivery actions (CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, "
            "DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, "
            "DescribeLogGroups) and X-Ray PutTraceSegments/PutTelemetryRecords/GetSamplingRules/"
            "GetSamplingTargets, none of which supports resource-level permissions. Its only other "
            "grant is lambda:InvokeFunction on the bill-run task function.",
        )
        return machine

    def _withholding(self, env_name: str, task: lambda_.IFunction) -> sfn.StateMachine:
        """The withholding-batch workflow (workflows/withholding.asl.json, the file the local stack runs):
        select, send, wait for the return on a task token, reconcile, settle."""
        log_group = logs.LogGroup(
            self,
            "WithholdingLogs",
            log_group_name=f"/aws/vendedlogs/states/waterrev-{env_name}-withholding",
            retention=logs.RetentionDays.THREE_MONTHS,
        )
        role = iam.Role(
            self,
            "WithholdingRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="withholding state machine: invokes the withholding task function only",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[task.function_arn])
        )
        machine = sfn.StateMachine(
            self,
            "Withholding",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(read_definition(WITHHOLDING_ASL)),
            definition_substitutions={
                "WithholdingFunctionArn": task.function_arn,
                "Partition": Aws.PARTITION,
            },
            role=role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Resource '*' only for what Step Functions needs to log and trace (the CloudWatch Logs "
            "log-delivery actions and X-Ray), none of which supports resource-level permissions. Its only "
            "other grant is lambda:InvokeFunction on the withholding task function.",
        )
        return machine

    def _states_endpoint(self, settings: FunctionSettings) -> ec2.InterfaceVpcEndpoint:
        """The functions live in isolated subnets: the ones that start executions reach Step
        Functions through an interface endpoint (cheaper than a NAT gateway, see docs/INFRA.md)."""
        endpoint_sg = ec2.SecurityGroup(
            self,
            "StatesEndpointSg",
            vpc=settings.vpc,
            description="Step Functions endpoint: in over HTTPS from the functions",
            allow_all_outbound=False,
        )
        endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "StatesEndpoint",
            vpc=settings.vpc,
            service=ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
            subnets=settings.subnets,
            security_groups=[endpoint_sg],
            private_dns_enabled=True,
            open=False,  # not the whole VPC CIDR: only the functions' security group, below
        )
        endpoint.connections.allow_default_port_from(settings.security_group, "functions start executions")
        return endpoint

    def alarm_to(self, topic: sns.ITopic) -> Mapping[str, cloudwatch.Alarm]:
        """A bill-run execution that failed, timed out or was aborted (not a chunk: those are in the
        run's summary) notifies the alarm topic; so does a withholding-batch execution that failed or
        timed out."""
        alarms = {}
        for name, metric in (
            ("Failed", self.bill_run.metric_failed(period=Duration.minutes(5), statistic="Sum")),
            ("TimedOut", self.bill_run.metric_timed_out(period=Duration.minutes(5), statistic="Sum")),
            ("Aborted", self.bill_run.metric_aborted(period=Duration.minutes(5), statistic="Sum")),
        ):
            alarms[name] = alarm_to(
                self,
                f"BillRun{name}",
                topic,
                metric=metric,
                description=f"Bill-run execution {name.lower()}: the run stays RUNNING in biz_bill_run.",
                anchor="bill-run-execution-failed",
            )
        if self.withholding is not None:
            for name, metric in (
                ("Failed", self.withholding.metric_failed(period=Duration.minutes(5), statistic="Sum")),
                ("TimedOut", self.withholding.metric_timed_out(period=Duration.minutes(5), statistic="Sum")),
            ):
                alarms[f"Withholding{name}"] = alarm_to(
                    self,
                    f"Withholding{name}",
                    topic,
                    metric=metric,
                    description=f"Withholding-batch execution {name.lower()}: a batch could not be sent "
                    "or settled (see its lastError).",
                    anchor="withholding-execution-failed",
                )
        return alarms
