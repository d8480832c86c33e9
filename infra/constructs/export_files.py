"""The statistics exports (IF-REV-010): a private, encrypted, TLS-only S3 bucket whose objects expire after
a few days; only the statistics function writes it and presigns short-lived links to its objects."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

BUCKET_ENV = "WATERREV_EXPORT_BUCKET"
PREFIX = "exports/"  # waterrev.adapters.export_files.key_for
EXPIRE_DAYS = 7  # a link lives minutes; the file a week (a re-download re-exports)


class ExportFiles(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.DESTROY,  # exports are copies of what the database answers
            auto_delete_objects=False,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(EXPIRE_DAYS))],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Exports are written only by the statistics function (each one audited in biz_operat_log with its "
            "requester and conditions) and read through presigned links that expire in minutes.",
        )

    def writers(self, functions: Iterable[lambda_.Function]) -> None:
        """Functions that write exports and presign links to them."""
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
                "The export files of the one export bucket (a key per export, not known in advance); no other "
                "bucket or prefix.",
            )
