"""Deploy-time migrations: the `job_migrate` task function, invoked by a CDK trigger.

The trigger is a custom resource: CloudFormation runs it once the database side exists and before
the functions that need the new schema are created or updated, and runs it again whenever the
function's version changes (its code, its configuration or a layer: `execute_on_handler_change`).
A failed migration fails the custom resource, so the deployment stops and rolls back.

The trigger's provider is CDK's own per-stack singleton (a CustomResourceProvider: a Node.js
function and its role as plain CfnResources, which cdk-nag's rules do not inspect). Its role has
the AWS managed basic execution policy and `lambda:InvokeFunction` on this function's versions only;
tests/infra/test_migrations.py pins that down instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, triggers
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory, FunctionSettings, TaskSpec

MIGRATE_TASK = "job_migrate"
# The provider waits this much longer than the function may run, so a timeout is reported as the
# function's error rather than as the provider's socket timeout.
INVOKE_MARGIN_S = 60


class Migrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task: TaskSpec,
        function_settings: FunctionSettings,
        execute_after: Sequence[Construct],
    ) -> None:
        """`execute_after`: what must exist before the migrations can run (the database, the proxy,
        the security-group rules and the Secrets Manager endpoint: the Data construct)."""
        super().__init__(scope, construct_id)
        if task.function != MIGRATE_TASK:
            raise ValueError(f"the migrations run in {MIGRATE_TASK!r}, not {task.function!r}")
        # Not `egress`: it talks to the proxy and Secrets Manager only, both inside the VPC.
        self.function: lambda_.Function = FunctionFactory(
            Construct(self, "Functions"), function_settings
        ).create_task(task)
        self.trigger = triggers.Trigger(
            self,
            "Upgrade",
            handler=self.function,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,  # its error must fail the deploy
            timeout=Duration.seconds(task.timeout_s + INVOKE_MARGIN_S),
            execute_after=list(execute_after),
            execute_on_handler_change=True,
        )

    def run_before(self, *scopes: Construct) -> None:
        """Create or update `scopes` only after the migrations ran (schema first, then code)."""
        self.trigger.execute_before(*scopes)
