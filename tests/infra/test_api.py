"""The catalog drives the API: one function per built interface, one route per catalog route."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.assets import PYTHON_VERSION
from infra.constructs.api import PUBLIC_BURST, PUBLIC_RATE_PER_S, THROTTLE_BURST, THROTTLE_RATE_PER_S
from infra.constructs.function_factory import INTERFACE_ID_ENV, RUNTIME, TASK_FUNCTION_ENV
from infra.constructs.secrets import (
    CHANNEL_LOGIN_ENV,
    CHANNEL_LOGIN_INTERFACES,
    SYS009_ENV,
    SYS009_INTERFACES,
    WEBHOOK_INTERFACES,
    WEBHOOK_KEYS_ENV,
)
from infra.stack import SYS009_NOTIFY_URL_ENV
from tests.infra.conftest import Synth
from waterrev import catalog

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def interface_functions(template: Template) -> dict[str, str]:
    """Interface id -> logical id of its Lambda function."""
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    return {
        props["Environment"]["Variables"][INTERFACE_ID_ENV]: logical_id
        for logical_id, resource in functions.items()
        if INTERFACE_ID_ENV in (props := resource["Properties"]).get("Environment", {}).get("Variables", {})
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def logical_id_of(template: Template, resource_type: str, prefix: str) -> str:
    (logical_id,) = (k for k in template.find_resources(resource_type) if k.startswith(prefix))
    return logical_id


def subnets_by_group(template: Template) -> dict[str, set[str]]:
    """Subnet group name (CDK's `aws-cdk:subnet-name` tag) -> logical ids of its subnets."""
    groups: dict[str, set[str]] = {}
    for logical_id, subnet in template.find_resources("AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        groups.setdefault(tags["aws-cdk:subnet-name"], set()).add(logical_id)
    return groups


def factory_functions(template: Template) -> dict[str, dict[str, Any]]:
    """Interface id or task function folder -> properties of its Lambda function."""
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    named = {}
    for resource in functions.values():
        env = resource["Properties"].get("Environment", {}).get("Variables", {})
        if name := env.get(INTERFACE_ID_ENV) or env.get(TASK_FUNCTION_ENV):
            named[name] = resource["Properties"]
    assert len(named) == len(catalog.built()) + len(catalog.TASK_FUNCTIONS)
    return named


def readers_of(template: Template, secret: dict[str, str]) -> set[str]:
    """Logical ids of the roles with a policy statement on `secret`."""
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    return {
        role["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if secret in as_list(statement["Resource"])
        for role in policy["Properties"]["Roles"]
    }


def test_given_the_catalog_then_each_built_interface_has_exactly_one_function(template: Template) -> None:
    functions: Resources = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {INTERFACE_ID_ENV: Match.any_value()}}}},
    )
    ids = [r["Properties"]["Environment"]["Variables"][INTERFACE_ID_ENV] for r in functions.values()]

    assert sorted(ids) == sorted(i.if_id for i in catalog.built())
    assert not {i.if_id for i in catalog.CATALOG if not i.built} & set(ids)


def test_given_a_function_then_it_has_the_factory_shape(template: Template) -> None:
    layer_refs = [
        {"Ref": logical_id_of(template, "AWS::Lambda::LayerVersion", p)} for p in ("LayersCore", "LayersDeps")
    ]
    subnet_groups = subnets_by_group(template)
    lambda_sg = logical_id_of(template, "AWS::EC2::SecurityGroup", "DataLambdaSg")
    functions: Resources = template.find_resources("AWS::Lambda::Function")

    for if_id, logical_id in interface_functions(template).items():
        interface = catalog.by_id(if_id)
        props = functions[logical_id]["Properties"]
        assert props["Runtime"] == RUNTIME.name == f"python{PYTHON_VERSION}"
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == "handler.handler"
        assert props["Layers"] == layer_refs
        assert props["Timeout"] == interface.timeout_s
        assert props["MemorySize"] == interface.memory_mb
        # One subnet group, both AZs (which group: tests/infra/test_egress.py), and the Lambda SG first.
        assert {s["Ref"] for s in props["VpcConfig"]["SubnetIds"]} in subnet_groups.values()
        assert len(props["VpcConfig"]["SubnetIds"]) == 2
        assert props["VpcConfig"]["SecurityGroupIds"][0] == {"Fn::GetAtt": [lambda_sg, "GroupId"]}
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert "ReservedConcurrentExecutions" not in props
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == interface.function
        assert {
            "WATERREV_ENV",
            "WATERREV_DB_SECRET_ARN",
            "WATERREV_DB_HOST",
            "WATERREV_DB_NAME",
            "POWERTOOLS_LOG_LEVEL",
        } <= env.keys()


def test_given_a_function_then_its_log_group_has_a_retention(template: Template) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    log_groups: Resources = template.find_resources("AWS::Logs::LogGroup")

    for logical_id in interface_functions(template).values():
        log_group = functions[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group]["Properties"]["RetentionInDays"] > 0


def test_given_the_catalog_then_each_route_is_one_api_route_to_its_interface_function(
    template: Template,
) -> None:
    routes: Resources = template.find_resources("AWS::ApiGatewayV2::Route")
    integrations: Resources = template.find_resources("AWS::ApiGatewayV2::Integration")
    function_of = interface_functions(template)
    expected = {r.route_key: i.if_id for i in catalog.built() for r in i.routes}

    route_keys = [r["Properties"]["RouteKey"] for r in routes.values()]
    assert sorted(route_keys) == sorted(expected)
    for route in routes.values():
        prefix, integration_ref = route["Properties"]["Target"]["Fn::Join"][1]
        assert prefix == "integrations/"
        integration = integrations[integration_ref["Ref"]]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        wanted = function_of[expected[route["Properties"]["RouteKey"]]]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [wanted, "Arn"]}


def test_given_a_path_parameter_then_the_route_keeps_it_verbatim(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "GET /admin-api/revenue/customer/{id}"}
    )


def test_given_the_public_routes_then_each_is_throttled_below_the_stage(template: Template) -> None:
    """Given the catalog's public routes (no token: login, refresh, channel login), then the stage has a
    route setting for each, throttled below the stage's own limits, and waits for those routes."""
    public = {r.route_key for i in catalog.built() for r in i.routes if r.caller is catalog.Caller.PUBLIC}
    resources: Resources = template.to_json()["Resources"]
    (stage_id, stage) = next((k, v) for k, v in resources.items() if v["Type"] == "AWS::ApiGatewayV2::Stage")
    settings = stage["Properties"]["RouteSettings"]

    assert public and set(settings) == public
    assert all(
        s == {"ThrottlingBurstLimit": PUBLIC_BURST, "ThrottlingRateLimit": PUBLIC_RATE_PER_S}
        for s in settings.values()
    )
    assert PUBLIC_RATE_PER_S < THROTTLE_RATE_PER_S and PUBLIC_BURST < THROTTLE_BURST
    routes = {k for k, v in resources.items() if v["Type"] == "AWS::ApiGatewayV2::Route"}
    public_routes = {k for k in routes if resources[k]["Properties"]["RouteKey"] in public}
    holders = {
        d
        for k in public_routes
        for d in resources[k].get("DependsOn", [])
        if resources[d]["Type"] in ("AWS::CloudFormation::Stack", "AWS::ApiGatewayV2::Route")
    }
    assert len(public_routes) == len(public) and holders <= set(stage.get("DependsOn", [])), stage_id


def test_given_the_stage_then_it_throttles_and_writes_access_logs(template: Template) -> None:
    template.resource_count_is("AWS::ApiGatewayV2::Stage", 1)
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": THROTTLE_RATE_PER_S,
                "ThrottlingBurstLimit": THROTTLE_BURST,
            },
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("^ApiAccessLogs"), "Arn"]},
                "Format": Match.string_like_regexp(r"\$context\.requestId"),
            },
        },
    )


def test_given_a_function_role_then_it_reads_the_db_secret_and_has_no_wildcard_action(
    template: Template,
) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    roles: Resources = template.find_resources("AWS::IAM::Role")
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    secret = {
        "Ref": logical_id_of(template, "AWS::SecretsManager::SecretTargetAttachment", "DataClusterSecret")
    }

    for logical_id in interface_functions(template).values():
        role = functions[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in roles[role]["Properties"]
        statements = [
            statement
            for policy in policies.values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        actions = [a for s in statements for a in as_list(s["Action"])]
        assert not [a for a in actions if "*" in a]
        assert any(
            "secretsmanager:GetSecretValue" in as_list(s["Action"]) and secret in as_list(s["Resource"])
            for s in statements
        )


def test_given_the_channel_login_secret_then_only_its_interface_function_may_read_it(
    template: Template,
) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    secret = {"Ref": logical_id_of(template, "AWS::SecretsManager::Secret", "SecretsChannelLogin")}

    readers = {
        policy["Properties"]["Roles"][0]["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if secret in as_list(statement["Resource"])
    }
    for if_id, logical_id in interface_functions(template).items():
        props = functions[logical_id]["Properties"]
        role = props["Role"]["Fn::GetAtt"][0]
        has_env = props["Environment"]["Variables"].get(CHANNEL_LOGIN_ENV) == secret
        expected = if_id in CHANNEL_LOGIN_INTERFACES
        assert (has_env, role in readers) == (expected, expected), if_id


def test_given_the_sys009_secret_then_only_the_payment_functions_may_read_it(template: Template) -> None:
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    secret = {"Ref": logical_id_of(template, "AWS::SecretsManager::Secret", "SecretsSys009")}

    readers = {
        policy["Properties"]["Roles"][0]["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if secret in as_list(statement["Resource"])
    }
    for if_id, logical_id in interface_functions(template).items():
        props = functions[logical_id]["Properties"]
        role = props["Role"]["Fn::GetAtt"][0]
        has_env = props["Environment"]["Variables"].get(SYS009_ENV) == secret
        expected = if_id in SYS009_INTERFACES
        assert (has_env, role in readers) == (expected, expected), if_id
    compensation = [
        p["Properties"]
        for p in functions.values()
        if p["Properties"].get("Environment", {}).get("Variables", {}).get("WATERREV_TASK_FUNCTION")
        == "job_pay_compensate"
    ]
    assert compensation and compensation[0]["Environment"]["Variables"].get(SYS009_ENV) == secret


def test_given_the_webhook_keys_secret_then_only_the_webhook_functions_know_and_read_it(
    template: Template,
) -> None:
    """The bank (IF-EXT-003, and its withholding return receipts: IF-EXT-002), the IoT platform
    (IF-EXT-009), SYS-008's writeback (IF-EXT-007), SYS-010's result callbacks (on IF-REV-013) and the
    e-signature service's callback (IF-INST-004)."""
    functions = factory_functions(template)
    secret = {"Ref": logical_id_of(template, "AWS::SecretsManager::Secret", "SecretsWebhooks")}

    assert set(WEBHOOK_INTERFACES) == {
        "IF-EXT-003",
        "IF-EXT-009",
        "IF-EXT-007",
        "IF-REV-013",
        "IF-EXT-002",
        "IF-INST-004",
    }
    with_env = {
        name: env[WEBHOOK_KEYS_ENV]
        for name, props in functions.items()
        if WEBHOOK_KEYS_ENV in (env := props["Environment"]["Variables"])
    }
    assert with_env == {if_id: secret for if_id in WEBHOOK_INTERFACES}
    # Every role allowed to read it, the factory's or any other, is one of these functions'.
    assert readers_of(template, secret) == {
        functions[if_id]["Role"]["Fn::GetAtt"][0] for if_id in WEBHOOK_INTERFACES
    }


def test_given_the_webhook_keys_secret_then_it_starts_as_json_with_no_key(template: Template) -> None:
    secrets: Resources = template.find_resources("AWS::SecretsManager::Secret")
    (webhooks,) = (s["Properties"] for k, s in secrets.items() if k.startswith("SecretsWebhooks"))

    # The shape webhook.platform_keys reads ({platform: {keyId: secret}}), refusing every key until filled.
    assert json.loads(webhooks["SecretString"]) == {"BANK": {}, "IOT": {}, "SYS008": {}, "SYS010": {}}
    assert "GenerateSecretString" not in webhooks


def test_given_the_sys009_callers_then_only_they_get_the_notify_url_of_the_callback_route(
    template: Template,
) -> None:
    """The functions that create orders or ask for refunds (and the job that sends refunds again) get the
    payment notification's URL; the refund notifications go to its sibling route /open-api/pay/refund-notify."""
    http_api = logical_id_of(template, "AWS::ApiGatewayV2::Api", "ApiHttpApi")
    callback, refund = catalog.by_id("IF-EXT-005").routes
    notify_url = {"Fn::Join": ["", [{"Fn::GetAtt": [http_api, "ApiEndpoint"]}, callback.path]]}

    assert (callback.path, refund.path) == ("/open-api/pay/notify", "/open-api/pay/refund-notify")
    for route in (callback, refund):
        template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": route.route_key})
    with_url = {
        name: env[SYS009_NOTIFY_URL_ENV]
        for name, props in factory_functions(template).items()
        if SYS009_NOTIFY_URL_ENV in (env := props["Environment"]["Variables"])
    }
    assert with_url == {
        "IF-CS-003": notify_url,
        "IF-CS-007": notify_url,
        "IF-REV-007": notify_url,
        "IF-REV-006": notify_url,
        "job_pay_compensate": notify_url,
    }


def test_given_the_api_then_each_function_has_one_invoke_permission_and_the_stack_fits(
    template: Template, synth: Synth
) -> None:
    """Given every built interface, API Gateway may invoke each function through one permission (not one
    per route), scoped to this API; the stack and each nested stack (the routes) stay under
    CloudFormation's 500 resources."""
    permissions = template.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
    )
    assert len(permissions) == len([i for i in catalog.built() if i.routes])
    written = sorted(synth.outdir.glob("*.template.json"))
    assert len(written) >= 2  # the stack and its routes
    for path in written:
        count = len(json.loads(path.read_text(encoding="utf-8"))["Resources"])
        assert count < 450, (path.name, count)  # room for the next interfaces
