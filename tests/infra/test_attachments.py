"""The attachment bucket: private, encrypted, TLS-only, answering CORS for browser posts; only the service
desk's function may presign uploads to it and read them, and it knows the bucket's name."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.attachments import BUCKET_ENV
from tests.infra.test_egress import factory_functions

pytestmark = pytest.mark.infra


def test_given_the_attachment_bucket_then_browsers_may_post_to_it_and_nothing_is_public(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {"CorsRules": [Match.object_like({"AllowedMethods": ["POST"]})]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_given_the_functions_then_only_the_service_desk_knows_the_attachment_bucket(
    template: Template,
) -> None:
    functions: dict[str, dict[str, Any]] = factory_functions(template)
    knowing = {
        name
        for name, props in functions.items()
        if BUCKET_ENV in props.get("Environment", {}).get("Variables", {})
    }
    assert knowing == {"IF-CS-006"}, knowing


def test_given_the_functions_then_only_the_service_desk_may_use_the_attachment_bucket(
    template: Template,
) -> None:
    from tests.infra.test_invoice_files import _s3_actions

    for name, props in factory_functions(template).items():
        actions = _s3_actions(template, props["Role"]["Fn::GetAtt"][0], "attachments/")
        assert actions == ({"s3:PutObject", "s3:GetObject"} if name == "IF-CS-006" else set()), name
