"""Deploy-time migrations: a CDK trigger invokes `job_migrate` after the database side exists and
before the functions that use the schema; the function is isolated and reads the DB secret; the
trigger's provider (invisible to cdk-nag) may invoke that function only.

No dependency cycle: `Template.from_json` (conftest) already refuses a template with one, which is
what running the trigger before the whole Workflows construct would make (Data's LambdaSg has an
egress rule to Workflows' Step Functions endpoint group)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.function_factory import INTERFACE_ID_ENV, TASK_FUNCTION_ENV
from infra.constructs.migrations import INVOKE_MARGIN_S, MIGRATE_TASK
from waterrev import catalog

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def factory_functions(template: Template) -> dict[str, str]:
    """Interface id or task function folder -> logical id of its Lambda function."""
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    named = {}
    for logical_id, resource in functions.items():
        env = resource["Properties"].get("Environment", {}).get("Variables", {})
        if name := env.get(INTERFACE_ID_ENV) or env.get(TASK_FUNCTION_ENV):
            named[name] = logical_id
    return named


def the_trigger(template: Template) -> dict[str, Any]:
    triggers: Resources = template.find_resources("Custom::Trigger")
    ((_, trigger),) = triggers.items()
    return trigger


def trigger_id(template: Template) -> str:
    (logical_id,) = template.find_resources("Custom::Trigger")
    return str(logical_id)


def of_type(template: Template, resource_type: str) -> set[str]:
    return set(template.find_resources(resource_type))


def statements_of_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


# ---- the trigger --------------------------------------------------------------------------------
def test_given_the_stack_then_one_trigger_invokes_the_current_version_of_job_migrate(
    template: Template,
) -> None:
    trigger = the_trigger(template)["Properties"]
    versions: Resources = template.find_resources("AWS::Lambda::Version")
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    migrate_fn = factory_functions(template)[MIGRATE_TASK]

    version = trigger["HandlerArn"]["Ref"]
    assert versions[version]["Properties"]["FunctionName"] == {"Ref": migrate_fn}
    # Synchronous, so the function's error fails the deployment; re-run whenever the version changes.
    assert trigger["InvocationType"] == "RequestResponse"
    assert trigger["ExecuteOnHandlerChange"] is True
    timeout_s = functions[migrate_fn]["Properties"]["Timeout"]
    assert int(trigger["Timeout"]) == (timeout_s + INVOKE_MARGIN_S) * 1000


def test_given_the_trigger_then_it_runs_after_the_cluster_the_proxy_and_the_network_path(
    template: Template,
) -> None:
    depends_on = set(the_trigger(template)["DependsOn"])

    for resource_type in (
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",  # the writer: the cluster alone accepts no connection
        "AWS::RDS::DBProxy",
        "AWS::RDS::DBProxyTargetGroup",
        "AWS::SecretsManager::SecretTargetAttachment",
    ):
        found = of_type(template, resource_type)
        assert found and found <= depends_on, resource_type
    endpoints: Resources = template.find_resources("AWS::EC2::VPCEndpoint")
    secrets_endpoint = {
        k for k, e in endpoints.items() if "secretsmanager" in str(e["Properties"]["ServiceName"])
    }
    assert secrets_endpoint and secrets_endpoint <= depends_on
    # The functions' security group may reach the proxy: that rule exists before the migration runs.
    ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")
    to_proxy = {
        k for k, r in ingress.items() if r["Properties"]["GroupId"]["Fn::GetAtt"][0].startswith("DataProxySg")
    }
    assert to_proxy and to_proxy <= depends_on


def test_given_the_trigger_then_every_other_function_and_the_api_wait_for_it(template: Template) -> None:
    resources: Resources = template.to_json()["Resources"]
    trigger = trigger_id(template)
    others = {name: fn for name, fn in factory_functions(template).items() if name != MIGRATE_TASK}
    api_resources = (
        of_type(template, "AWS::ApiGatewayV2::Api")
        | of_type(template, "AWS::ApiGatewayV2::Stage")
        | of_type(template, "AWS::ApiGatewayV2::Route")
    )

    assert len(others) == len(catalog.built()) + len(catalog.TASK_FUNCTIONS) - 1
    for logical_id in {*others.values(), *api_resources}:
        assert trigger in resources[logical_id].get("DependsOn", []), logical_id


# ---- the function ---------------------------------------------------------------------------------
def test_given_job_migrate_then_it_is_isolated_with_the_functions_group_only_and_reads_the_db_secret(
    template: Template,
) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    named = factory_functions(template)
    props = functions[named[MIGRATE_TASK]]["Properties"]
    isolated_api_function = functions[named["IF-REV-005"]]["Properties"]
    lambda_sg = next(k for k in groups if k.startswith("DataLambdaSg"))
    secret = {"Ref": next(iter(template.find_resources("AWS::SecretsManager::SecretTargetAttachment")))}

    assert props["VpcConfig"]["SubnetIds"] == isolated_api_function["VpcConfig"]["SubnetIds"]
    assert props["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [lambda_sg, "GroupId"]}]
    statements = statements_of_role(template, props["Role"]["Fn::GetAtt"][0])
    assert any(
        "secretsmanager:GetSecretValue" in as_list(s["Action"]) and secret in as_list(s["Resource"])
        for s in statements
    )
    assert not [a for s in statements for a in as_list(s["Action"]) if a.startswith(("lambda:", "states:"))]


# ---- the trigger's provider (cdk-nag does not inspect it) ----------------------------------------
def test_given_the_trigger_provider_then_it_may_invoke_job_migrate_and_write_logs_only(
    template: Template,
) -> None:
    roles: Resources = template.find_resources("AWS::IAM::Role")
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    provider_fn = the_trigger(template)["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    role = roles[functions[provider_fn]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    migrate_fn = factory_functions(template)[MIGRATE_TASK]

    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    ]
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    assert statements == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [{"Fn::Join": ["", [{"Fn::GetAtt": [migrate_fn, "Arn"]}, ":*"]]}],
        }
    ]
    assert "VpcConfig" not in functions[provider_fn]["Properties"]  # it only calls the Lambda API
