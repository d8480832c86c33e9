"""The invoice files: a private, encrypted, TLS-only bucket; only the functions that copy files write it,
only those and the customer-facing ones read it; SYS-008's callers know its writeback URL; the invoice
compensation runs every five minutes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.invoice_files import BUCKET_ENV
from infra.stack import (
    EXPORT_FILE_WRITERS,
    INVOICE_FILE_READERS,
    INVOICE_FILE_WRITERS,
    SYS008_NOTIFY_URL_ENV,
)
from tests.infra.test_egress import factory_functions

pytestmark = pytest.mark.infra


def test_given_the_invoice_bucket_then_it_is_private_encrypted_and_tls_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def _s3_actions(template: Template, role: str, prefix: str = "invoices/") -> set[str]:
    policies: dict[str, dict[str, Any]] = template.find_resources("AWS::IAM::Policy")
    found: set[str] = set()
    for policy in policies.values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if prefix in json.dumps(statement["Resource"]):
                found |= {a for a in actions if a.startswith("s3:")}
    return found


def test_given_the_functions_then_only_the_copiers_write_and_the_customer_side_reads(
    template: Template,
) -> None:
    functions = factory_functions(template)
    for name, props in functions.items():
        actions = _s3_actions(template, props["Role"]["Fn::GetAtt"][0])
        if name in INVOICE_FILE_WRITERS or name == "job_invoice_compensate":
            assert actions == {"s3:PutObject", "s3:GetObject"}, name
            assert BUCKET_ENV in props["Environment"]["Variables"]
        elif name in INVOICE_FILE_READERS:
            assert actions == {"s3:GetObject"}, name
        elif name in EXPORT_FILE_WRITERS:
            continue  # the export bucket's writers (tests/infra/test_export_files.py)
        else:
            assert not actions, name


def test_given_the_sys008_callers_then_they_send_the_writeback_url(template: Template) -> None:
    functions = factory_functions(template)
    with_url = {
        name
        for name, props in functions.items()
        if SYS008_NOTIFY_URL_ENV in props["Environment"]["Variables"]
    }
    assert with_url == {"IF-REV-008", "IF-REV-009", "IF-EXT-007", "job_invoice_compensate"}


def test_given_the_schedules_then_invoice_compensation_runs_every_five_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "Description": Match.string_like_regexp("SYS-008"),
            "Target": Match.object_like({"Input": '{"limit":2000}'}),
        },
    )
