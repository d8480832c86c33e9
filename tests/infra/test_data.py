"""Aurora PostgreSQL Serverless v2 behind an RDS Proxy, reachable only along Lambda -> Proxy -> DB."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def the_one(template: Template, resource_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    resources: Resources = {
        k: v for k, v in template.find_resources(resource_type).items() if k.startswith(prefix)
    }
    assert len(resources) == 1, f"expected one {resource_type}, found {sorted(resources)}"
    ((logical_id, resource),) = resources.items()
    return logical_id, resource


def group_id(template: Template, prefix: str) -> dict[str, Any]:
    (logical_id,) = (k for k in template.find_resources("AWS::EC2::SecurityGroup") if k.startswith(prefix))
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def test_given_the_cluster_then_it_is_encrypted_serverless_v2_postgresql(template: Template) -> None:
    _, cluster = the_one(template, "AWS::RDS::DBCluster")
    _, instance = the_one(template, "AWS::RDS::DBInstance")
    props = cluster["Properties"]

    assert props["Engine"] == "aurora-postgresql"
    assert props["EngineVersion"].startswith("16.")
    assert props["ServerlessV2ScalingConfiguration"]["MinCapacity"] > 0
    assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
    assert props["StorageEncrypted"] is True
    assert props["DeletionProtection"] is True
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["BackupRetentionPeriod"] >= 7
    assert cluster["DeletionPolicy"] == "Snapshot"


def test_given_the_cluster_then_its_credentials_live_in_secrets_manager(template: Template) -> None:
    secret_id, secret = the_one(template, "AWS::SecretsManager::Secret", "WaterRevdevDataClusterSecret")
    _, cluster = the_one(template, "AWS::RDS::DBCluster")

    assert "GenerateSecretString" in secret["Properties"]
    password = cluster["Properties"]["MasterUserPassword"]["Fn::Join"][1]
    assert password[0] == "{{resolve:secretsmanager:" and password[1] == {"Ref": secret_id}
    template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule", {"RotationRules": {"ScheduleExpression": Match.any_value()}}
    )


def test_given_the_proxy_then_it_requires_tls_and_logs_in_with_the_secret(template: Template) -> None:
    attachment_id, _ = the_one(template, "AWS::SecretsManager::SecretTargetAttachment")
    _, proxy = the_one(template, "AWS::RDS::DBProxy")

    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    assert proxy["Properties"]["Auth"][0]["SecretArn"] == {"Ref": attachment_id}


def test_given_the_security_groups_then_only_lambda_reaches_proxy_and_only_proxy_and_rotation_reach_db(
    template: Template,
) -> None:
    ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")
    sources_by_target: dict[str, list[tuple[str, Any]]] = {}
    for rule in ingress.values():
        props = rule["Properties"]
        target = props["GroupId"]["Fn::GetAtt"][0]
        sources_by_target.setdefault(target, []).append(
            (props["SourceSecurityGroupId"]["Fn::GetAtt"][0], props)
        )

    proxy_sg, db_sg, lambda_sg = (
        group_id(template, p)["Fn::GetAtt"][0] for p in ("DataProxySg", "DataDbSg", "DataLambdaSg")
    )
    rotation_sg = group_id(template, "DataRotationSg")["Fn::GetAtt"][0]
    assert [(src, p["FromPort"], p["ToPort"]) for src, p in sources_by_target[proxy_sg]] == [
        (lambda_sg, 5432, 5432)
    ]
    assert sorted(src for src, _ in sources_by_target[db_sg]) == sorted([proxy_sg, rotation_sg])
    _, cluster = the_one(template, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["Port"] == 5432


def test_given_any_security_group_then_nothing_is_open_to_the_internet(template: Template) -> None:
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")

    inline = [rule for g in groups.values() for rule in g["Properties"].get("SecurityGroupIngress", [])]
    separate = [r["Properties"] for r in ingress.values()]
    assert not [r for r in inline + separate if r.get("CidrIp") == "0.0.0.0/0" or r.get("CidrIpv6") == "::/0"]


def test_given_the_vpc_then_it_has_no_nat_and_a_secrets_manager_endpoint(template: Template) -> None:
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::Subnet", 2)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".secretsmanager"]]},
            "PrivateDnsEnabled": True,
        },
    )
    template.resource_count_is("AWS::EC2::FlowLog", 1)
