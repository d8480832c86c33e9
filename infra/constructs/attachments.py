"""Attachments of online applications (IF-CS-006): a private, encrypted S3 bucket customers upload to
directly through presigned POSTs (so it answers CORS for browser posts); the service desk's function
presigns the uploads and reads each object back to check its size, type and digest."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

BUCKET_ENV = "WATERREV_ATTACHMENT_BUCKET"
PREFIX = "attachments/"  # waterrev.adapters.attachments.PREFIX


class Attachments(Construct):
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
            removal_policy=RemovalPolicy.RETAIN,  # application files are part of the customer's archive
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.POST], allowed_origins=["*"], max_age=600)],
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Objects are written only through presigned POSTs our function issues (each recorded in "
            "biz_content_attach with its declared size, type and SHA-256) and read only by that function.",
        )

    def users(self, functions: Iterable[lambda_.Function]) -> None:
        """Functions that presign uploads (the signer's permission) and read the objects back."""
        for fn in functions:
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[self.bucket.arn_for_objects(f"{PREFIX}*")],
                )
            )
            fn.add_environment(BUCKET_ENV, self.bucket.bucket_name)
            bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                fn.role,  # type: ignore[arg-type]
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{PREFIX}*]",
                "The attachments of the one attachment bucket (a key per upload, not known in advance); no other "
                "bucket or prefix.",
            )
