"""The bill-run workflow: its task function, the state machine from the shared ASL file, who may
invoke and start what, the monthly schedule with its dead-letter queue, the Step Functions
endpoint, and the alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.function_factory import INTERFACE_ID_ENV, RUNTIME, TASK_FUNCTION_ENV
from infra.constructs.schedules import MONTHLY_BILL_RUN_INPUT
from infra.constructs.secrets import BANK_SFTP_TASKS, EGRESS_TASKS, SYS009_CALLER_INTERFACES
from infra.constructs.workflows import BILL_RUN_ARN_ENV, BILL_RUN_ASL, BILL_RUN_TASK
from infra.stack import BILL_RUN_STARTERS
from waterrev import catalog

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def task_functions(template: Template) -> dict[str, str]:
    """Task function folder -> logical id of its Lambda function."""
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    return {
        props["Environment"]["Variables"][TASK_FUNCTION_ENV]: logical_id
        for logical_id, resource in functions.items()
        if TASK_FUNCTION_ENV in (props := resource["Properties"]).get("Environment", {}).get("Variables", {})
    }


def interface_function(template: Template, if_id: str) -> str:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    (logical_id,) = (
        k
        for k, r in functions.items()
        if r["Properties"].get("Environment", {}).get("Variables", {}).get(INTERFACE_ID_ENV) == if_id
    )
    return logical_id


def the_state_machine(template: Template, name: str = "BillRun") -> tuple[str, dict[str, Any]]:
    """The bill run's state machine (or, by name, another workflow's: "Withholding")."""
    machines: Resources = template.find_resources("AWS::StepFunctions::StateMachine")
    ((logical_id, machine),) = ((k, m) for k, m in machines.items() if k.startswith(f"Workflows{name}"))
    return logical_id, machine["Properties"]


def definition_text(props: dict[str, Any]) -> str:
    """The DefinitionString as text; tokens inside an Fn::Join (if any) become `<token>`."""
    value = props["DefinitionString"]
    if isinstance(value, dict):
        separator, parts = value["Fn::Join"]
        value = separator.join(p if isinstance(p, str) else "<token>" for p in parts)
    return str(value)


def statements_of_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def role_of_function(template: Template, logical_id: str) -> str:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    return str(functions[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0])


# ---- task functions -----------------------------------------------------------------------------
def test_given_the_catalog_then_each_task_function_has_exactly_one_function_without_a_route(
    template: Template,
) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    integrations: Resources = template.find_resources("AWS::ApiGatewayV2::Integration")
    found = task_functions(template)

    assert sorted(found) == sorted(t.function for t in catalog.TASK_FUNCTIONS)
    targets = {json.dumps(i["Properties"]["IntegrationUri"]) for i in integrations.values()}
    for logical_id in found.values():
        assert INTERFACE_ID_ENV not in functions[logical_id]["Properties"]["Environment"]["Variables"]
        assert json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}) not in targets


def test_given_a_task_function_then_it_has_the_factory_shape(template: Template) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    log_groups: Resources = template.find_resources("AWS::Logs::LogGroup")
    roles: Resources = template.find_resources("AWS::IAM::Role")
    secret = {"Ref": next(iter(template.find_resources("AWS::SecretsManager::SecretTargetAttachment")))}
    api_function = functions[interface_function(template, "IF-REV-005")]["Properties"]
    # The network of an isolated API function, or of one that calls SYS-009 (tests/infra/test_egress.py).
    sys009_caller = functions[interface_function(template, SYS009_CALLER_INTERFACES[0])]["Properties"]

    for task in catalog.TASK_FUNCTIONS:
        props = functions[task_functions(template)[task.function]]["Properties"]
        assert props["Runtime"] == RUNTIME.name
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == "handler.handler"
        assert (props["Timeout"], props["MemorySize"]) == (task.timeout_s, task.memory_mb)
        assert props["Layers"] == api_function["Layers"]
        same_network = sys009_caller if task.function in EGRESS_TASKS else api_function
        groups = props["VpcConfig"]["SecurityGroupIds"]
        if task.function in BANK_SFTP_TASKS:  # and the bank SFTP group (tests/infra/test_withholding.py)
            groups = groups[:-1]
        assert {**props["VpcConfig"], "SecurityGroupIds": groups} == same_network["VpcConfig"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]["RetentionInDays"] > 0
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == task.function
        assert {
            "WATERREV_ENV",
            "WATERREV_DB_SECRET_ARN",
            "WATERREV_DB_HOST",
            "WATERREV_DB_NAME",
        } <= env.keys()
        role = props["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in roles[role]["Properties"]
        statements = statements_of_role(template, role)
        assert not [a for s in statements for a in as_list(s["Action"]) if "*" in a]
        assert any(
            "secretsmanager:GetSecretValue" in as_list(s["Action"]) and secret in as_list(s["Resource"])
            for s in statements
        )


def test_given_the_bill_run_task_then_it_runs_on_beijing_time(template: Template) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    env = functions[task_functions(template)[BILL_RUN_TASK]]["Properties"]["Environment"]["Variables"]

    # Prepare's default period is the month before "today": at 02:00 on the 1st in Beijing, UTC's
    # today is still the month before.
    assert env["TZ"] == "Asia/Shanghai"


# ---- the state machine --------------------------------------------------------------------------
def test_given_the_state_machine_then_it_is_the_shared_asl_with_its_substitutions(template: Template) -> None:
    _, props = the_state_machine(template)
    definition = json.loads(definition_text(props))

    assert definition == json.loads(BILL_RUN_ASL.read_text(encoding="utf-8"))
    assert definition["StartAt"] == "Defaults"
    assert list(definition["States"]) == ["Defaults", "ApplyDefaults", "Prepare", "BillChunks", "Finish"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["DefinitionSubstitutions"] == {
        "BillRunFunctionArn": {"Fn::GetAtt": [task_functions(template)[BILL_RUN_TASK], "Arn"]},
        "Partition": {"Ref": "AWS::Partition"},
    }


def test_given_the_definition_then_it_is_jsonpath_only(template: Template) -> None:
    _, props = the_state_machine(template)
    text = definition_text(props)
    definition = json.loads(text)

    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert "JSONata" not in text and "{%" not in text


def test_given_the_definition_then_chunks_are_mapped_with_bounded_concurrency_retries_and_a_catch(
    template: Template,
) -> None:
    _, props = the_state_machine(template)
    states = json.loads(definition_text(props))["States"]
    bill_chunks = states["BillChunks"]
    inner = bill_chunks["ItemProcessor"]["States"]
    bill_chunk = inner["BillChunk"]

    assert (bill_chunks["Type"], bill_chunks["ItemsPath"], bill_chunks["MaxConcurrency"]) == (
        "Map",
        "$.chunks",
        4,
    )
    assert bill_chunks["ResultPath"] == "$.results" and bill_chunks["Next"] == "Finish"
    assert bill_chunk["Parameters"]["Payload"] == {"step": "bill_chunk", "chunk.$": "$"}
    assert bill_chunk["Retry"] == [
        {"ErrorEquals": ["AppError"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2},
    ]
    # The Catch keeps the chunk (ResultPath under $.error), so the failed chunk is reported by range
    assert bill_chunk["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ChunkFailed"}
    ]
    assert inner["ChunkFailed"]["Parameters"] == {
        "chunkFailed": True,
        "afterId.$": "$.afterId",
        "uptoId.$": "$.uptoId",
        "error.$": "$.error.Cause",
    }
    assert states["Finish"]["Parameters"]["Payload"] == {
        "step": "finish",
        "runId.$": "$.runId",
        "results.$": "$.results",
    }


def test_given_each_task_state_then_it_invokes_the_bill_run_function_and_retries_lambda_errors(
    template: Template,
) -> None:
    _, props = the_state_machine(template)
    states = json.loads(definition_text(props))["States"]
    tasks = [
        states["Prepare"],
        states["BillChunks"]["ItemProcessor"]["States"]["BillChunk"],
        states["Finish"],
    ]

    for task in tasks:
        assert task["Resource"] == "arn:${Partition}:states:::lambda:invoke"
        assert task["Parameters"]["FunctionName"] == "${BillRunFunctionArn}"
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert "Lambda.ServiceException" in retried or "States.ALL" in retried
    # Prepare and Finish are idempotent: a function that crashed or timed out (Runtime.ExitError,
    # Sandbox.Timedout) is tried again, not left with its run RUNNING for ever (tests/integration/test_fault_cycle.py)
    for name in ("Prepare", "Finish"):
        assert states[name]["Retry"] == [
            {"ErrorEquals": ["AppError"], "MaxAttempts": 0},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2},
        ]
    assert states["Prepare"]["Parameters"]["Payload"]["executionArn.$"] == "$$.Execution.Id"


def test_given_the_withholding_workflow_then_its_idempotent_steps_are_retried_on_anything_but_app_error() -> (
    None
):
    """Select and Settle are idempotent (a batch past them is answered as it is): a function that crashed
    or timed out is tried again, not left with its batch CREATED or RECONCILED for ever; AwaitReturn too
    (a new task token, kept again), but its timeout and BatchNotWaiting go to its Catch (Poll)
    (tests/integration/test_fault_cycle.py)."""
    from infra.constructs.workflows import WITHHOLDING_ASL

    states = json.loads(WITHHOLDING_ASL.read_text(encoding="utf-8"))["States"]
    anything = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}
    for name in ("Select", "Settle"):
        assert states[name]["Retry"] == [{"ErrorEquals": ["AppError"], "MaxAttempts": 0}, anything]
    for name in ("Send", "Poll", "Reconcile"):
        assert states[name]["Retry"][0] == {"ErrorEquals": ["AppError"], "MaxAttempts": 0}
        assert states[name]["Retry"][1]["ErrorEquals"] == ["States.ALL"]
    waiting = states["AwaitReturn"]
    assert waiting["Retry"] == [
        {"ErrorEquals": ["States.Timeout", "BatchNotWaiting", "AppError"], "MaxAttempts": 0},
        anything,
    ]
    assert waiting["Catch"][0]["ErrorEquals"] == ["States.Timeout", "BatchNotWaiting"]
    assert waiting["Catch"][0]["Next"] == "Poll"


def test_given_the_state_machine_then_it_logs_everything_and_traces(template: Template) -> None:
    _, props = the_state_machine(template)
    log_groups: Resources = template.find_resources("AWS::Logs::LogGroup")

    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    (destination,) = props["LoggingConfiguration"]["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert log_groups[log_group]["Properties"]["RetentionInDays"] > 0


# ---- IAM: who invokes and who starts ------------------------------------------------------------
def test_given_the_state_machine_role_then_it_invokes_only_the_bill_run_function(template: Template) -> None:
    roles: Resources = template.find_resources("AWS::IAM::Role")
    _, props = the_state_machine(template)
    role = props["RoleArn"]["Fn::GetAtt"][0]
    statements = statements_of_role(template, role)

    assert "ManagedPolicyArns" not in roles[role]["Properties"]
    invokes = [s for s in statements if any(a.startswith("lambda:") for a in as_list(s["Action"]))]
    assert invokes == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [task_functions(template)[BILL_RUN_TASK], "Arn"]},
        }
    ]
    others = [a for s in statements if s not in invokes for a in as_list(s["Action"])]
    assert others and all(a.startswith(("logs:", "xray:")) for a in others)


def test_given_the_state_machine_then_only_the_starter_interface_and_the_schedule_may_start_it(
    template: Template,
) -> None:
    machine_id, _ = the_state_machine(template)
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    schedule = bill_run_schedule(template)
    starter_roles = {role_of_function(template, interface_function(template, i)) for i in BILL_RUN_STARTERS}
    schedule_role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]

    starting = [
        (role["Ref"], statement)
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("states:") for a in as_list(statement["Action"]))
        and machine_id
        in json.dumps(statement["Resource"])  # the withholding workflow's grants: test_withholding.py
        for role in policy["Properties"]["Roles"]
    ]
    assert {role for role, _ in starting} == starter_roles | {schedule_role}
    for _, statement in starting:
        assert statement["Action"] == "states:StartExecution"
        assert statement["Resource"] == {"Ref": machine_id}
    for if_id in BILL_RUN_STARTERS:
        env = functions[interface_function(template, if_id)]["Properties"]["Environment"]["Variables"]
        assert env[BILL_RUN_ARN_ENV] == {"Ref": machine_id}


def test_given_the_functions_in_isolated_subnets_then_they_reach_step_functions_through_an_endpoint(
    template: Template,
) -> None:
    endpoints: Resources = template.find_resources(
        "AWS::EC2::VPCEndpoint",
        {
            "Properties": {
                "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".states"]]}
            }
        },
    )
    ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    lambda_sg = next(k for k in groups if k.startswith("DataLambdaSg"))

    ((_, endpoint),) = endpoints.items()
    assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    (endpoint_sg,) = (g["Fn::GetAtt"][0] for g in endpoint["Properties"]["SecurityGroupIds"])
    assert not groups[endpoint_sg]["Properties"].get("SecurityGroupIngress")
    sources = [
        (r["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0], r["Properties"]["FromPort"])
        for r in ingress.values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0] == endpoint_sg
    ]
    assert sources == [(lambda_sg, 443)]


# ---- the monthly schedule -----------------------------------------------------------------------
def test_given_the_schedule_then_it_starts_the_bill_run_monthly_in_beijing_time(template: Template) -> None:
    machine_id, _ = the_state_machine(template)
    schedule = bill_run_schedule(template)
    props = schedule["Properties"]

    assert props["ScheduleExpression"] == "cron(0 2 1 * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    assert props["State"] == "ENABLED"
    assert props["Target"]["Arn"] == {"Ref": machine_id}
    assert (
        json.loads(props["Target"]["Input"])
        == MONTHLY_BILL_RUN_INPUT
        == {
            "billPeriod": None,
            "dueDate": None,
            "runNo": None,
            "chunkSize": 5000,
        }
    )


def test_given_the_schedule_then_failed_deliveries_go_to_an_encrypted_ssl_only_queue(
    template: Template,
) -> None:
    schedule = bill_run_schedule(template)
    queues: Resources = template.find_resources("AWS::SQS::Queue")
    dlq = schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    schedule_role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]

    assert queues[dlq]["Properties"].get("SqsManagedSseEnabled") or queues[dlq]["Properties"].get(
        "KmsMasterKeyId"
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )
    sends = [s for s in statements_of_role(template, schedule_role) if s["Action"] == "sqs:SendMessage"]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [dlq, "Arn"]}]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
        },
    )


def test_given_the_state_machine_then_failed_executions_notify_the_alarm_topic(template: Template) -> None:
    machine_id, _ = the_state_machine(template)
    (topic_id,) = template.find_resources("AWS::SNS::Topic")

    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/States",
                "MetricName": metric,
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}],
                "AlarmActions": [{"Ref": topic_id}],
            },
        )


def bill_run_schedule(template: Template) -> dict:
    """The monthly bill-run schedule (the stack also schedules payment compensation)."""
    (schedule,) = [
        s
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
        if "states" in json.dumps(s["Properties"]["Target"]["Arn"]).lower()
        or "BillRun" in json.dumps(s["Properties"]["Target"]["Arn"])
    ]
    return schedule


def test_given_the_compensation_schedule_then_it_invokes_the_compensation_job_every_five_minutes(
    template: Template,
) -> None:
    """Payment compensation (IF-CS-003/IF-CS-007 orders without a result) runs on an EventBridge
    schedule: every 5 minutes, the job_pay_compensate function with a batch limit, retried twice, and a
    delivery that still fails lands in the dead-letter queue; its role may invoke only that function."""
    job = task_functions(template)["job_pay_compensate"]
    (schedule,) = [
        s
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
        if json.dumps(s["Properties"]["Target"]["Arn"]) == json.dumps({"Fn::GetAtt": [job, "Arn"]})
    ]
    props = schedule["Properties"]
    target = props["Target"]

    assert props["ScheduleExpression"] == "rate(5 minutes)" and props["State"] == "ENABLED"
    assert json.loads(target["Input"]) == {"limit": 200}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 600
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert template.find_resources("AWS::SQS::Queue")[dlq]
    role = target["RoleArn"]["Fn::GetAtt"][0]
    invokes = [s for s in statements_of_role(template, role) if s["Action"] == "lambda:InvokeFunction"]
    resources = [r for s in invokes for r in as_list(s["Resource"])]
    assert resources and all(job in json.dumps(r) for r in resources)
