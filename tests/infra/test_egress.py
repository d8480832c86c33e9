"""The one way out of the VPC: a NAT gateway that only the outside callers' subnets route to (the SYS-009
and SYS-008 callers and SYS-010's caller, the message consumer), and a security group that lets exactly
those functions out on HTTPS and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.data import EGRESS_SUBNETS, ISOLATED_SUBNETS, PUBLIC_SUBNETS
from infra.constructs.function_factory import INTERFACE_ID_ENV, TASK_FUNCTION_ENV
from infra.constructs.secrets import (
    BANK_SFTP_INTERFACES,
    BANK_SFTP_TASKS,
    EGRESS_TASKS,
    ESIGN_CALLER_INTERFACES,
    SYS008_CALLER_INTERFACES,
    SYS009_CALLER_INTERFACES,
)
from infra.stack import EXPORT_FILE_WRITERS
from waterrev import catalog

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def subnets_by_group(template: Template) -> dict[str, set[str]]:
    """Subnet group name (CDK's `aws-cdk:subnet-name` tag) -> logical ids of its subnets."""
    groups: dict[str, set[str]] = {}
    for logical_id, subnet in template.find_resources("AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        groups.setdefault(tags["aws-cdk:subnet-name"], set()).add(logical_id)
    return groups


def route_table_of(template: Template) -> dict[str, str]:
    """Subnet logical id -> logical id of its route table."""
    associations: Resources = template.find_resources("AWS::EC2::SubnetRouteTableAssociation")
    return {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in associations.values()
    }


def default_routes(template: Template) -> dict[str, dict[str, Any]]:
    """Route table logical id -> its 0.0.0.0/0 route's properties."""
    routes: Resources = template.find_resources("AWS::EC2::Route")
    return {
        r["Properties"]["RouteTableId"]["Ref"]: r["Properties"]
        for r in routes.values()
        if r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
    }


def factory_functions(template: Template) -> dict[str, dict[str, Any]]:
    """Interface id or task function folder -> properties of its Lambda function."""
    functions: Resources = template.find_resources("AWS::Lambda::Function")
    named = {}
    for resource in functions.values():
        env = resource["Properties"].get("Environment", {}).get("Variables", {})
        if name := env.get(INTERFACE_ID_ENV) or env.get(TASK_FUNCTION_ENV):
            named[name] = resource["Properties"]
    return named


def group_of(template: Template, prefix: str) -> str:
    (logical_id,) = (k for k in template.find_resources("AWS::EC2::SecurityGroup") if k.startswith(prefix))
    return logical_id


def groups_named_by(rule: dict[str, Any]) -> set[str]:
    """Logical ids of the security groups a separate ingress/egress rule belongs to or points at."""
    keys = ("GroupId", "SourceSecurityGroupId", "DestinationSecurityGroupId")
    return {
        rule[k]["Fn::GetAtt"][0] for k in keys if isinstance(rule.get(k), dict) and "Fn::GetAtt" in rule[k]
    }


def test_given_the_outside_callers_then_they_and_only_they_run_in_the_egress_subnets_with_the_https_group(
    template: Template,
) -> None:
    groups = subnets_by_group(template)
    lambda_sg = {"Fn::GetAtt": [group_of(template, "DataLambdaSg"), "GroupId"]}
    egress_sg = {"Fn::GetAtt": [group_of(template, "DataEgressSg"), "GroupId"]}
    functions = factory_functions(template)
    callers = {
        *SYS009_CALLER_INTERFACES,
        *SYS008_CALLER_INTERFACES,
        *EGRESS_TASKS,
        *BANK_SFTP_INTERFACES,
        *ESIGN_CALLER_INTERFACES,
        *EXPORT_FILE_WRITERS,
    }
    sftp_sg = {"Fn::GetAtt": [group_of(template, "BankingSftpSg"), "GroupId"]}

    # the SYS-009, SYS-008 and e-signature callers, the message queue's consumer, which calls SYS-010,
    # and the bank SFTP callers (the withholding workflow's steps, IF-REV-011 and IF-EXT-002), which add
    # the SFTP group; and the statistics exports' writer (S3 through the NAT gateway)
    assert callers == {
        "IF-REV-010",
        "IF-REV-011",
        "IF-EXT-002",
        "wf_withholding",
        "IF-CS-003",
        "IF-CS-007",
        "IF-REV-006",  # the payment exception review's refunds
        "IF-REV-007",  # adjustments' refunds
        "job_pay_compensate",
        "IF-REV-008",
        "IF-REV-009",
        "IF-EXT-007",
        "job_invoice_compensate",
        "msg_consumer",
        "IF-INST-003",
        "IF-INST-004",
    }
    assert (
        len(functions) == len(catalog.built()) + len(catalog.TASK_FUNCTIONS) and callers <= functions.keys()
    )
    for name, props in functions.items():
        subnets = {s["Ref"] for s in props["VpcConfig"]["SubnetIds"]}
        security_groups = props["VpcConfig"]["SecurityGroupIds"]
        if name in callers:
            # The Lambda SG still opens the proxy and the endpoints; the egress SG adds HTTPS out.
            expected = (
                [lambda_sg, egress_sg, sftp_sg]
                if name in {*BANK_SFTP_INTERFACES, *BANK_SFTP_TASKS}
                else [lambda_sg, egress_sg]
            )
            assert (subnets, security_groups) == (groups[EGRESS_SUBNETS], expected), name
        else:
            assert (subnets, security_groups) == (groups[ISOLATED_SUBNETS], [lambda_sg]), name


def test_given_the_egress_group_then_its_only_rule_is_https_out_to_anywhere(template: Template) -> None:
    """(The bank SFTP callers' port 22 is a group of its own: tests/infra/test_withholding.py.)"""
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    egress_sg = group_of(template, "DataEgressSg")
    separate = [
        r["Properties"]
        for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        for r in template.find_resources(kind).values()
    ]

    props = groups[egress_sg]["Properties"]
    assert [
        {k: rule[k] for k in ("CidrIp", "IpProtocol", "FromPort", "ToPort")}
        for rule in props["SecurityGroupEgress"]
    ] == [{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}]
    assert not props.get("SecurityGroupIngress")
    # No separate rule adds to it or names it as a peer.
    assert not [r for r in separate if egress_sg in groups_named_by(r)]


def test_given_the_vpc_then_one_nat_gateway_in_a_public_subnet_serves_the_egress_subnets(
    template: Template,
) -> None:
    groups = subnets_by_group(template)
    subnets: Resources = template.find_resources("AWS::EC2::Subnet")
    nat_gateways: Resources = template.find_resources("AWS::EC2::NatGateway")
    (internet_gateway,) = template.find_resources("AWS::EC2::InternetGateway")
    tables = route_table_of(template)
    defaults = default_routes(template)

    assert set(groups) == {ISOLATED_SUBNETS, PUBLIC_SUBNETS, EGRESS_SUBNETS}
    ((nat_id, nat),) = nat_gateways.items()
    assert nat["Properties"]["SubnetId"]["Ref"] in groups[PUBLIC_SUBNETS]
    for subnet in groups[EGRESS_SUBNETS]:
        assert defaults[tables[subnet]]["NatGatewayId"] == {"Ref": nat_id}
    for subnet in groups[PUBLIC_SUBNETS]:
        assert defaults[tables[subnet]]["GatewayId"] == {"Ref": internet_gateway}
        # It holds the NAT gateway only: nothing launched there gets a public address.
        assert subnets[subnet]["Properties"]["MapPublicIpOnLaunch"] is False
