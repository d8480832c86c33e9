"""Bank withholding's cloud pieces besides its workflow: the KMS key that wraps the data keys sealing bank
account numbers (waterrev.crypto), the bank credentials by reference (Secrets Manager, one secret per
credentialRef under a prefix), and the way out to the banks' SFTP servers (TCP 22, its own security group
beside the HTTPS one)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.nag import acknowledge

KMS_KEY_ENV = "WATERREV_KMS_KEY_ID"
CREDENTIALS_PREFIX_ENV = "WATERREV_BANK_CREDENTIALS_SECRET_PREFIX"
SFTP_PORT = 22
# The functions that seal or open bank account numbers: the customer master (its bank relations), the
# agreements and batches (IF-REV-011), the return receipt (IF-EXT-002), the batch workflow's steps, and the
# migration (it makes the first data key and seals the numbers written before it). Since migration 0120 ID
# numbers and mobiles too (DECISIONS 115): those that seal or index one (customer search, service desk,
# installation, invoices and their push, history, the SYS-010 result callback) and those that open one for
# an outside system (the message consumer for SYS-010, the invoice compensation for SYS-008, the contract
# for the e-signature service, the archive's new customer).
SEALING_INTERFACES = (
    "IF-REV-002", "IF-REV-011", "IF-EXT-002",
    "IF-REV-001", "IF-CS-004", "IF-CS-006", "IF-INST-001", "IF-INST-003", "IF-INST-005", "IF-REV-008",
    "IF-REV-009", "IF-REV-010", "IF-REV-013",
)  # fmt: skip
SEALING_TASKS = ("wf_withholding", "job_migrate", "msg_consumer", "job_invoice_compensate")
# The functions that reach a bank's SFTP server (send, cancel, read returns and statements).
SFTP_INTERFACES = ("IF-REV-011", "IF-EXT-002")
SFTP_TASKS = ("wf_withholding",)


class Banking(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        functions_sg: ec2.ISecurityGroup,
        sealers: Sequence[lambda_.Function],
        sftp_callers: Sequence[lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        self.data_key = kms.Key(
            self,
            "DataKey",
            description="wraps the data keys that seal bank accounts, ID numbers and mobiles (bk_data_key, waterrev.crypto)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The functions live in isolated subnets: they reach KMS through an interface endpoint open to them only.
        endpoint_sg = ec2.SecurityGroup(
            self, "KmsEndpointSg", vpc=vpc, description="KMS endpoint: in over HTTPS from the functions",
            allow_all_outbound=False,
        )  # fmt: skip
        self.kms_endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "KmsEndpoint",
            vpc=vpc,
            service=ec2.InterfaceVpcEndpointAwsService.KMS,
            subnets=subnets,
            security_groups=[endpoint_sg],
            private_dns_enabled=True,
            open=False,
        )
        self.kms_endpoint.connections.allow_default_port_from(
            functions_sg, "functions seal and open bank accounts"
        )
        self.credentials_prefix = f"waterrev/{env_name}/bank/"
        for fn in sealers:
            fn.add_environment(KMS_KEY_ENV, self.data_key.key_arn)
            self.data_key.grant(fn, "kms:GenerateDataKey", "kms:Decrypt")
        # A bank publishes its SFTP servers' addresses; operations narrow the peer when they know them. The
        # host key (pinned in bk_transfer_config) and the login authenticate the far end.
        self.sftp_sg = ec2.SecurityGroup(
            self, "SftpSg", vpc=vpc, description="bank SFTP callers: out on TCP 22", allow_all_outbound=False
        )
        self.sftp_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(SFTP_PORT), "SFTP to the banks")
        secrets_arn = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{self.credentials_prefix}*"
        for fn in sftp_callers:
            fn.connections.add_security_group(self.sftp_sg)
            # the function's VPC config was rendered when it was made: give it the groups it now has
            cfn = fn.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.add_property_override(
                "VpcConfig.SecurityGroupIds", [g.security_group_id for g in fn.connections.security_groups]
            )
            fn.add_environment(CREDENTIALS_PREFIX_ENV, self.credentials_prefix)
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secrets_arn])
            )
            if fn.role is None:
                continue
            acknowledge(
                fn.role,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
                f"{self.credentials_prefix}*]",
                "The bank credentials are one secret per credentialRef, created by operations under this prefix "
                "as banks are added (bk_transfer_config names them): the functions that move bank files may "
                "read that prefix and nothing else.",
            )
