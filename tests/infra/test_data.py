"""Aurora PostgreSQL Serverless v2 behind an RDS Proxy, reachable only along Lambda -> Proxy -> DB."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.data import ISOLATED_SUBNETS

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


def test_given_any_security_group_then_nothing_is_open_from_the_internet_and_only_https_and_sftp_leave(
    template: Template,
) -> None:
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    separate_ingress: Resources = template.find_resources("AWS::EC2::SecurityGroupIngress")
    separate_egress: Resources = template.find_resources("AWS::EC2::SecurityGroupEgress")

    def anywhere(rule: dict[str, Any]) -> bool:
        return rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0"

    ingress = [r for g in groups.values() for r in g["Properties"].get("SecurityGroupIngress", [])]
    ingress += [r["Properties"] for r in separate_ingress.values()]
    assert ingress and not [r for r in ingress if anywhere(r)]

    egress = [(k, r) for k, g in groups.items() for r in g["Properties"].get("SecurityGroupEgress", [])]
    egress += [
        (r["Properties"]["GroupId"]["Fn::GetAtt"][0], r["Properties"]) for r in separate_egress.values()
    ]
    to_anywhere = [(k, r["IpProtocol"], r["FromPort"], r["ToPort"]) for k, r in egress if anywhere(r)]
    # Only the outside callers' group reaches past the VPC, on HTTPS; and the bank SFTP callers' group on 22.
    assert sorted(to_anywhere) == sorted(
        [
            (group_id(template, "DataEgressSg")["Fn::GetAtt"][0], "tcp", 443, 443),
            (group_id(template, "BankingSftpSg")["Fn::GetAtt"][0], "tcp", 22, 22),
        ]
    )


def subnets_of_group(template: Template, name: str) -> Resources:
    """The subnets of one VPC subnet group (CDK's `aws-cdk:subnet-name` tag)."""
    return {
        k: v
        for k, v in template.find_resources("AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-name", "Value": name} in v["Properties"]["Tags"]
    }


def test_given_the_vpc_then_the_isolated_subnets_keep_their_cidrs_and_have_no_route_out(
    template: Template,
) -> None:
    isolated = subnets_of_group(template, ISOLATED_SUBNETS)
    associations: Resources = template.find_resources("AWS::EC2::SubnetRouteTableAssociation")
    routes: Resources = template.find_resources("AWS::EC2::Route")
    isolated_tables = {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in associations.values()
        if a["Properties"]["SubnetId"]["Ref"] in isolated
    }

    # First in the subnet configuration, so adding the egress groups moved none of their CIDRs.
    assert sorted(s["Properties"]["CidrBlock"] for s in isolated.values()) == ["10.40.0.0/22", "10.40.4.0/22"]
    assert len(isolated_tables) == 2
    assert not [
        r
        for r in routes.values()
        if r["Properties"]["RouteTableId"]["Ref"] in isolated_tables
        and (
            r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
            or "DestinationIpv6CidrBlock" in r["Properties"]
        )
    ]
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    template.resource_count_is("AWS::EC2::Subnet", 6)


def test_given_the_vpc_then_secrets_manager_is_an_endpoint_in_the_isolated_subnets_and_flows_are_logged(
    template: Template,
) -> None:
    isolated = subnets_of_group(template, ISOLATED_SUBNETS)
    endpoints: Resources = template.find_resources(
        "AWS::EC2::VPCEndpoint",
        {
            "Properties": {
                "ServiceName": {
                    "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".secretsmanager"]]
                },
                "PrivateDnsEnabled": True,
            }
        },
    )

    ((_, endpoint),) = endpoints.items()
    assert {s["Ref"] for s in endpoint["Properties"]["SubnetIds"]} == set(isolated)
    template.resource_count_is("AWS::EC2::FlowLog", 1)
