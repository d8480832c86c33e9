"""The one place a Lambda function is defined: every function gets the same shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.assets import PYTHON_VERSION, SourcePaths
from infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.handler"
INTERFACE_ID_ENV = "WATERREV_INTERFACE_ID"
TASK_FUNCTION_ENV = "WATERREV_TASK_FUNCTION"

# What AWSLambdaVPCAccessExecutionRole grants besides logs.
_VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


class RouteSpec(Protocol):
    """What infra reads from a `waterrev.catalog.Route`."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def caller(self) -> str: ...


class InterfaceSpec(Protocol):
    """What infra reads from a `waterrev.catalog.Interface`."""

    @property
    def if_id(self) -> str: ...
    @property
    def function(self) -> str | None: ...
    @property
    def routes(self) -> Sequence[RouteSpec]: ...
    @property
    def timeout_s(self) -> int: ...
    @property
    def memory_mb(self) -> int: ...


class TaskSpec(Protocol):
    """What infra reads from a `waterrev.catalog.TaskFunction`."""

    @property
    def function(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def timeout_s(self) -> int: ...
    @property
    def memory_mb(self) -> int: ...


@dataclass(frozen=True)
class FunctionSettings:
    """What every function shares: code locations, layers, network and database access.

    `subnets` and `security_group` are every function's (isolated, to the proxy and endpoints);
    a function created with `egress=True` runs in `egress_subnets` instead and adds
    `egress_security_group`, the only way out of the VPC.
    """

    env_name: str
    paths: SourcePaths
    layers: Sequence[lambda_.ILayerVersion]
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    db_secret: secretsmanager.ISecret
    db_host: str
    db_name: str
    log_level: str = "INFO"
    egress_subnets: ec2.SubnetSelection | None = None
    egress_security_group: ec2.ISecurityGroup | None = None


class FunctionFactory:
    def __init__(self, scope: Construct, settings: FunctionSettings) -> None:
        self._scope = scope
        self._settings = settings

    def create(
        self,
        interface: InterfaceSpec,
        *,
        secrets: Mapping[str, secretsmanager.ISecret] | None = None,
        egress: bool = False,
    ) -> lambda_.Function:
        """The function of a built interface; `secrets` maps extra env vars to secrets it may read,
        `egress` puts it where it can call outside systems (HTTPS only)."""
        if interface.function is None:
            raise ValueError(f"{interface.if_id} is not built yet: it has no function folder")
        return self._function(
            interface.if_id,
            folder=interface.function,
            description=f"{interface.if_id} ({interface.function})",
            timeout_s=interface.timeout_s,
            memory_mb=interface.memory_mb,
            environment={INTERFACE_ID_ENV: interface.if_id},
            secrets=secrets,
            egress=egress,
        )

    def create_task(
        self,
        task: TaskSpec,
        *,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, secretsmanager.ISecret] | None = None,
        egress: bool = False,
    ) -> lambda_.Function:
        """A function that serves no route (a workflow task, a consumer): same shape, no API."""
        return self._function(
            task.function,
            folder=task.function,
            description=f"{task.function}: {task.purpose}",
            timeout_s=task.timeout_s,
            memory_mb=task.memory_mb,
            environment={TASK_FUNCTION_ENV: task.function, **(environment or {})},
            secrets=secrets,
            egress=egress,
        )

    def _function(
        self,
        construct_id: str,
        *,
        folder: str,
        description: str,
        timeout_s: int,
        memory_mb: int,
        environment: Mapping[str, str],
        secrets: Mapping[str, secretsmanager.ISecret] | None,
        egress: bool,
    ) -> lambda_.Function:
        s = self._settings
        subnets, security_groups = self._network(construct_id, egress)
        log_group = logs.LogGroup(self._scope, f"{construct_id}-Logs", retention=logs.RetentionDays.ONE_MONTH)
        role = self._role(construct_id, log_group)
        fn = lambda_.Function(
            self._scope,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            role=role,
            code=lambda_.Code.from_asset(
                str(s.paths.function_code(folder)), exclude=list(s.paths.code_exclude)
            ),
            layers=list(s.layers),
            timeout=Duration.seconds(timeout_s),
            memory_size=memory_mb,
            vpc=s.vpc,
            vpc_subnets=subnets,
            security_groups=security_groups,
            environment={
                "WATERREV_ENV": s.env_name,
                **environment,
                "WATERREV_DB_SECRET_ARN": s.db_secret.secret_arn,
                "WATERREV_DB_HOST": s.db_host,
                "WATERREV_DB_NAME": s.db_name,
                "POWERTOOLS_SERVICE_NAME": folder,
                "POWERTOOLS_LOG_LEVEL": s.log_level,
                **{env: secret.secret_arn for env, secret in (secrets or {}).items()},
            },
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        # Lambda checks the ENI permissions when it creates a VPC function: the policy must exist first.
        fn.node.add_dependency(role)
        for secret in (s.db_secret, *(secrets or {}).values()):
            secret.grant_read(fn)
        acknowledge(
            fn,
            "AwsSolutions-L1",
            f"Pinned to Python {PYTHON_VERSION}: the dependencies layer is built with pip for that "
            "interpreter (per-version wheels), and moving runtimes is a deliberate, tested change.",
        )
        return fn

    def _network(
        self, construct_id: str, egress: bool
    ) -> tuple[ec2.SubnetSelection, list[ec2.ISecurityGroup]]:
        """Isolated with the shared group; with egress, the NAT subnets and the HTTPS-out group too
        (the shared group still opens the proxy and the endpoints)."""
        s = self._settings
        if not egress:
            return s.subnets, [s.security_group]
        if s.egress_subnets is None or s.egress_security_group is None:
            raise ValueError(f"{construct_id} needs egress, but FunctionSettings has no egress subnets/group")
        return s.egress_subnets, [s.security_group, s.egress_security_group]

    def _role(self, construct_id: str, log_group: logs.ILogGroup) -> iam.Role:
        """An execution role instead of the AWS managed ones, so logs go to this function's group only."""
        role = iam.Role(
            self._scope,
            f"{construct_id}-Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{construct_id} execution role",
        )
        log_group.grant_write(role)
        role.add_to_policy(iam.PolicyStatement(actions=list(_VPC_ENI_ACTIONS), resources=["*"]))
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Resource '*' is limited to the EC2 network-interface actions Lambda needs to attach the "
            "function to the VPC (the set in AWSLambdaVPCAccessExecutionRole) and to X-Ray "
            "PutTraceSegments/PutTelemetryRecords; none of them supports resource-level permissions.",
        )
        return role
