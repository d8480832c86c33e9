"""The daily reconciliation's files (docs/BANK.md, docs/SYS009.md): a private, encrypted, TLS-only S3 bucket
the channels and the bank deliver their daily statements and credit files to; the reconciliation (the
scheduled job and the admin route that re-runs a day) only reads it."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

BUCKET_ENV = "WATERREV_RECON_BUCKET"
KEEP_DAYS = 400  # a year of statements and a month to spare for a late re-run


class ReconFiles(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,  # the channels' statements are evidence
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(KEEP_DAYS))],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The channels' statement files are read only by the daily reconciliation, which records every file "
            "it read (name, sha256, status) in bk_daily_recon_file.",
        )

    def readers(self, functions: Iterable[lambda_.Function]) -> None:
        """Functions that reconcile a day: they read the files, nothing else. s3:ListBucket on the bucket
        (not its objects) so that a file not delivered is answered 404 NoSuchKey - a MISSING file - rather
        than 403 AccessDenied, which the reconciliation must take for the store being unavailable."""
        for fn in functions:
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects("*")])
            )
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
            )
            fn.add_environment(BUCKET_ENV, self.bucket.bucket_name)
            bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                fn.role,  # type: ignore[arg-type]
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                "The day's files of the one reconciliation bucket (a key per channel and day); read only.",
            )
