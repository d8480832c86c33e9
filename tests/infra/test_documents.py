"""The connection-application documents: a private, encrypted, TLS-only bucket with CORS for presigned
PUTs; only the IF-INST functions touch it, under installation/ only; the e-signature callers know the
service's secret and IF-INST-004's URL."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.documents import BUCKET_ENV
from infra.constructs.secrets import ESIGN_ENV
from infra.stack import DOCUMENT_READERS, DOCUMENT_WRITERS, ESIGN_NOTIFY_URL_ENV
from tests.infra.test_egress import factory_functions
from tests.infra.test_invoice_files import _s3_actions

pytestmark = pytest.mark.infra


def test_given_the_documents_bucket_then_it_is_private_encrypted_and_takes_presigned_puts(
    template: Template,
) -> None:
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
            "CorsConfiguration": {"CorsRules": [Match.object_like({"AllowedMethods": ["PUT"]})]},
        },
    )


def test_given_the_functions_then_only_the_installation_ones_touch_the_documents(template: Template) -> None:
    functions = factory_functions(template)
    for name, props in functions.items():
        actions = _s3_actions(template, props["Role"]["Fn::GetAtt"][0], prefix="installation/")
        if name in DOCUMENT_WRITERS:
            assert actions == {"s3:PutObject", "s3:GetObject"}, name
        elif name in DOCUMENT_READERS:
            assert actions == {"s3:GetObject"}, name
        else:
            assert not actions, name
        assert (BUCKET_ENV in props["Environment"]["Variables"]) == bool(actions), name
    assert {*DOCUMENT_WRITERS, *DOCUMENT_READERS} == {f"IF-INST-00{n}" for n in range(1, 6)}


def test_given_the_esign_callers_then_they_read_its_secret_and_the_initiator_sends_the_callback_url(
    template: Template,
) -> None:
    functions = factory_functions(template)
    with_secret = {n for n, p in functions.items() if ESIGN_ENV in p["Environment"]["Variables"]}
    with_url = {n for n, p in functions.items() if ESIGN_NOTIFY_URL_ENV in p["Environment"]["Variables"]}

    assert with_secret == {"IF-INST-003", "IF-INST-004"}
    assert with_url == {"IF-INST-003"}
    url = functions["IF-INST-003"]["Environment"]["Variables"][ESIGN_NOTIFY_URL_ENV]
    assert url["Fn::Join"][1][1] == "/admin-api/installation/contract/sign/callback"
