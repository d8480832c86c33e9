"""Bank withholding in the cloud: the batch workflow from the shared ASL file, who may start and resume it,
the KMS key that seals bank accounts and who may use it, the bank SFTP way out, the bank credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.banking import CREDENTIALS_PREFIX_ENV, KMS_KEY_ENV, SEALING_INTERFACES, SEALING_TASKS
from infra.constructs.workflows import WITHHOLDING_ARN_ENV, WITHHOLDING_ASL, WITHHOLDING_RESTARTER
from infra.stack import WITHHOLDING_STARTERS
from tests.infra.test_egress import factory_functions, group_of
from tests.infra.test_workflows import as_list, definition_text, the_state_machine

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


def statements_of_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    return [
        st
        for p in policies.values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_given_the_withholding_workflow_then_it_is_the_shared_asl_invoking_only_its_task(
    template: Template,
) -> None:
    machine_id, props = the_state_machine(template, "Withholding")
    functions = factory_functions(template)
    task_id = next(
        k
        for k, r in template.find_resources("AWS::Lambda::Function").items()
        if r["Properties"] == functions["wf_withholding"]
    )

    text = definition_text(props)
    shared = json.loads(WITHHOLDING_ASL.read_text(encoding="utf-8"))
    assert set(json.loads(text.replace('"<token>"', '""').replace("<token>", "x"))["States"]) == set(
        shared["States"]
    )
    role_id = props["RoleArn"]["Fn::GetAtt"][0]
    invokes = [
        st for st in statements_of_role(template, role_id) if "lambda:InvokeFunction" in as_list(st["Action"])
    ]
    assert [st["Resource"] for st in invokes] == [{"Fn::GetAtt": [task_id, "Arn"]}]
    assert machine_id


def test_given_the_withholding_workflow_then_only_its_starters_start_and_resume_it(
    template: Template,
) -> None:
    machine_id, _ = the_state_machine(template, "Withholding")
    functions = factory_functions(template)
    for if_id in WITHHOLDING_STARTERS:
        props = functions[if_id]
        assert props["Environment"]["Variables"][WITHHOLDING_ARN_ENV] == {"Ref": machine_id}
        actions = {
            a
            for st in statements_of_role(template, props["Role"]["Fn::GetAtt"][0])
            if machine_id in json.dumps(st["Resource"])
            for a in as_list(st["Action"])
        }
        assert {"states:StartExecution", "states:SendTaskSuccess"} <= actions
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    starters = {functions[i]["Role"]["Fn::GetAtt"][0] for i in WITHHOLDING_STARTERS}
    starters.add(functions[WITHHOLDING_RESTARTER]["Role"]["Fn::GetAtt"][0])  # restarts a stalled batch
    granted = {
        role["Ref"]
        for p in policies.values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("states:") for a in as_list(st["Action"]))
        and machine_id in json.dumps(st["Resource"])
        for role in p["Properties"]["Roles"]
    }
    assert granted == starters


def test_given_the_compensation_job_then_it_may_start_and_describe_withholding_executions_only(
    template: Template,
) -> None:
    machine_id, _ = the_state_machine(template, "Withholding")
    props = factory_functions(template)[WITHHOLDING_RESTARTER]
    assert props["Environment"]["Variables"][WITHHOLDING_ARN_ENV] == {"Ref": machine_id}
    actions = {
        a
        for st in statements_of_role(template, props["Role"]["Fn::GetAtt"][0])
        if machine_id in json.dumps(st["Resource"])
        for a in as_list(st["Action"])
    }
    assert actions == {"states:StartExecution", "states:DescribeExecution"}


def test_given_the_data_key_then_it_rotates_and_only_the_sealing_functions_use_it(template: Template) -> None:
    keys: Resources = template.find_resources("AWS::KMS::Key")
    ((key_id, key),) = ((k, v) for k, v in keys.items() if k.startswith("BankingDataKey"))
    assert key["Properties"]["EnableKeyRotation"] is True
    functions = factory_functions(template)
    for name in (*SEALING_INTERFACES, *(t for t in SEALING_TASKS if t in functions)):
        assert functions[name]["Environment"]["Variables"][KMS_KEY_ENV] == {"Fn::GetAtt": [key_id, "Arn"]}, (
            name
        )
    policies: Resources = template.find_resources("AWS::IAM::Policy")
    users = {
        role["Ref"]
        for p in policies.values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if key_id in json.dumps(st["Resource"])
        for role in p["Properties"]["Roles"]
    }
    expected = {
        functions[n]["Role"]["Fn::GetAtt"][0]
        for n in (*SEALING_INTERFACES, *(t for t in SEALING_TASKS if t in functions))
    }
    assert expected <= users and len(users) == len(expected) + (1 if "job_migrate" not in functions else 0)


def test_given_the_bank_credentials_then_only_the_sftp_callers_read_their_prefix(template: Template) -> None:
    functions = factory_functions(template)
    readers = {
        name
        for name, props in functions.items()
        if CREDENTIALS_PREFIX_ENV in props["Environment"]["Variables"]
    }
    assert readers == {"IF-REV-011", "IF-EXT-002", "wf_withholding"}
    sftp = group_of(template, "BankingSftpSg")
    groups: Resources = template.find_resources("AWS::EC2::SecurityGroup")
    rules = groups[sftp]["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == [("tcp", 22, 22)]
