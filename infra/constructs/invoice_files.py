"""Our copies of the invoice files: a private, encrypted S3 bucket, written by the functions that copy an
issued invoice's file from SYS-008 and read (presigned links) by the customer-facing ones."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

BUCKET_ENV = "WATERREV_INVOICE_BUCKET"
PREFIX = "invoices/"  # waterrev.adapters.invoice_files.key_for


class InvoiceFiles(Construct):
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
            removal_policy=RemovalPolicy.RETAIN,  # invoices are kept for years (会计档案)
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Objects are written only by our functions (each write audited in biz_operat_log) and read through "
            "presigned links that expire in minutes; CloudTrail data events can be enabled by operations if an "
            "access log of every download is required.",
        )

    def writers(self, functions: Iterable[lambda_.Function]) -> None:
        """Functions that copy invoice files in (and may presign links to them)."""
        for fn in functions:
            self._grant(fn, ["s3:PutObject", "s3:GetObject"])

    def readers(self, functions: Iterable[lambda_.Function]) -> None:
        """Functions that hand out presigned links (a presigned GET carries the signer's permission)."""
        for fn in functions:
            self._grant(fn, ["s3:GetObject"])

    def _grant(self, fn: lambda_.Function, actions: list[str]) -> None:
        # Exact actions on the invoice objects only: no wildcard action, no other bucket.
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=actions, resources=[self.bucket.arn_for_objects(f"{PREFIX}*")])
        )
        fn.add_environment(BUCKET_ENV, self.bucket.bucket_name)
        bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{PREFIX}*]",
            "The invoice files of the one invoice bucket (a key per invoice, not known in advance); no other "
            "bucket or prefix.",
        )
