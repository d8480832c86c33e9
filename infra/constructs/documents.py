"""Connection-application documents (报装: attachments, contracts, signed contracts): a private, encrypted,
TLS-only S3 bucket. Attachments arrive straight from the back office's browser through presigned PUT links
(hence CORS for PUT); our functions read them back to check their digests, store the contracts and copy
the signed ones. Only the IF-INST functions touch it, and only under installation/."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

BUCKET_ENV = "WATERREV_DOCUMENT_BUCKET"
PREFIX = "installation/"  # waterrev.adapters.documents (uploads, contracts, signed copies)


class Documents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,  # contracts and their evidence are kept for years
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.PUT],
                    allowed_origins=["*"],
                    allowed_headers=["Content-Type"],
                    max_age=600,
                )
            ],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Objects are written through presigned links our functions issue (audited in biz_operat_log with "
            "their digests) and by the functions themselves; CloudTrail data events can be enabled by "
            "operations if an access log of every object is required.",
        )

    def grant(self, functions: Iterable[lambda_.Function], actions: list[str]) -> None:
        for fn in functions:
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=actions, resources=[self.bucket.arn_for_objects(f"{PREFIX}*")])
            )
            fn.add_environment(BUCKET_ENV, self.bucket.bucket_name)
            bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                fn.role,  # type: ignore[arg-type]
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{PREFIX}*]",
                "The connection-application documents of the one documents bucket (a key per upload, "
                "contract and signed copy, not known in advance); no other bucket or prefix.",
            )
