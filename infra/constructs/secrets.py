"""Application secrets besides the database credentials, which functions may read them, and which
functions call SYS-009 or SYS-010 (and so need a way out of the VPC)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

CHANNEL_LOGIN_ENV = "WATERREV_CHANNEL_LOGIN_SECRET_ARN"
CHANNEL_LOGIN_INTERFACES = ("IF-CS-001",)
SYS009_ENV = "WATERREV_SYS009_SECRET_ARN"
# The functions that call SYS-009 over HTTPS: the only ones in the egress subnets. The interfaces
# create orders there (and send IF-EXT-005's URL as notifyUrl); the task queries and closes them.
# IF-REV-007 (adjustments) and IF-REV-006 (the payment exception review) ask it for refunds.
SYS009_CALLER_INTERFACES = ("IF-CS-003", "IF-CS-007", "IF-REV-007", "IF-REV-006")
SYS009_CALLER_TASKS = ("job_pay_compensate",)
# The functions that read the SYS-009 secret: the callers, and IF-EXT-005, which only verifies
# SYS-009's notifications (it is called, it calls nothing, so it stays isolated).
SYS009_INTERFACES = (*SYS009_CALLER_INTERFACES, "IF-EXT-005")
SYS008_ENV = "WATERREV_SYS008_SECRET_ARN"
# The functions that call SYS-008 over HTTPS (applications, voids, red-inks, queries, and the file of an
# issued invoice, fetched by the writeback too): the egress subnets are theirs as well.
SYS008_CALLER_INTERFACES = ("IF-REV-008", "IF-REV-009", "IF-EXT-007")
SYS008_CALLER_TASKS = ("job_invoice_compensate",)
SYS010_ENV = "WATERREV_SYS010_SECRET_ARN"
# The function that calls SYS-010 (IF-EXT-008): the message queue's consumer.
SYS010_CALLER_TASKS = ("msg_consumer",)
ESIGN_ENV = "WATERREV_ESIGN_SECRET_ARN"
# The functions that call the e-signature service over HTTPS (docs/ESIGN.md): the contract's initiation,
# and the callback, which fetches the signed document from the service.
ESIGN_CALLER_INTERFACES = ("IF-INST-003", "IF-INST-004")
# Every task function that calls an outside system over HTTPS: the egress subnets.
# and the withholding workflow's steps, which reach the banks' SFTP servers (infra/constructs/banking.py adds
# the SFTP group; IF-REV-011 and IF-EXT-002 read bank files too).
BANK_SFTP_INTERFACES = ("IF-REV-011", "IF-EXT-002")
BANK_SFTP_TASKS = ("wf_withholding",)
EGRESS_TASKS = (*SYS009_CALLER_TASKS, *SYS008_CALLER_TASKS, *SYS010_CALLER_TASKS, *BANK_SFTP_TASKS)
WEBHOOK_KEYS_ENV = "WATERREV_WEBHOOK_KEYS_SECRET_ARN"
# The webhooks signed with our shared HMAC keys: the bank (IF-EXT-003), the IoT platform (IF-EXT-009), the
# invoice platform's writeback (IF-EXT-007), SYS-010's delivery results (on IF-REV-013's route) and the
# e-signature service's callback (IF-INST-004, platform ESIGN: operations add its keys to the secret).
WEBHOOK_INTERFACES = ("IF-EXT-003", "IF-EXT-009", "IF-EXT-007", "IF-REV-013", "IF-EXT-002", "IF-INST-004")
# The platforms the secret is created with (waterrev.webhook.verify's first argument). Once deployed, never
# change this initial value (CloudFormation would write it over the keys): operations add platforms beside
# them in the secret itself.
WEBHOOK_PLATFORMS = ("BANK", "IOT", "SYS008", "SYS010")


class AppSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.channel_login = secretsmanager.Secret(
            self,
            "ChannelLogin",
            description="HMAC key the WeChat/Alipay channel back ends sign channel logins with (IF-CS-001)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.channel_login,
            "AwsSolutions-SMG4",
            "The channel back ends (WeChat/Alipay mini-program servers) hold a copy of this key to sign "
            "channel logins, so rotating it is a change coordinated with them; a rotation function "
            "cannot do it alone.",
        )

        self.sys009 = secretsmanager.Secret(
            self,
            "Sys009",
            description='SYS-009 payment platform connection: {"baseUrl", "appId", "appSecret", '
            '"platformKeys": {serial: publicKeyPem}}; set by operations from what SYS-009 issues',
        )
        acknowledge(
            self.sys009,
            "AwsSolutions-SMG4",
            "The app secret and the platform keys are issued by the SYS-009 operator; they change when "
            "SYS-009 rotates them (new keys are added beside the old by serial), not on our schedule.",
        )

        self.sys008 = secretsmanager.Secret(
            self,
            "Sys008",
            description='SYS-008 invoice platform connection: {"baseUrl", "appId", "appSecret"}; set by operations '
            "from what SYS-008 issues (its writebacks are verified with the SYS008 webhook keys)",
        )
        acknowledge(
            self.sys008,
            "AwsSolutions-SMG4",
            "The app secret is issued by the SYS-008 operator and changes when they rotate it, not on our schedule.",
        )
        self.sys010 = secretsmanager.Secret(
            self,
            "Sys010",
            description='SYS-010 message service connection: {"baseUrl", "appId", "appSecret"}; set by '
            "operations from what SYS-010 issues (its result callbacks are signed with the Webhooks "
            'secret\'s "SYS010" keys)',
        )
        acknowledge(
            self.sys010,
            "AwsSolutions-SMG4",
            "The app secret is issued by the SYS-010 operator and changes when SYS-010 rotates it, not on our "
            "schedule; a rotation function cannot change it on their side.",
        )

        self.esign = secretsmanager.Secret(
            self,
            "Esign",
            description='E-signature service connection: {"baseUrl", "appId", "appSecret"}; set by operations '
            "from what the service issues (its callbacks are verified with the ESIGN webhook keys)",
        )
        acknowledge(
            self.esign,
            "AwsSolutions-SMG4",
            "The app secret is issued by the e-signature service's operator and changes when they rotate it, "
            "not on our schedule.",
        )

        self.webhooks = secretsmanager.Secret(
            self,
            "Webhooks",
            description="HMAC keys of the webhook platforms (IF-EXT-003 bank, IF-EXT-009 IoT): "
            '{"BANK": {keyId: secret}, "IOT": {keyId: secret}}; set by operations',
            # Valid JSON without a key: until operations add them, every webhook is refused as
            # signed with an unknown key instead of failing to parse a generated password.
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps({p: {} for p in WEBHOOK_PLATFORMS})),
        )
        acknowledge(
            self.webhooks,
            "AwsSolutions-SMG4",
            "The bank and the IoT platform hold copies of these keys to sign their webhooks. A new key "
            "is added beside the old under a new key id (X-Waterrev-Key-Id) and the old one removed once "
            "the platform signs with the new: a change coordinated with them that a rotation function "
            "cannot make alone.",
        )

    @property
    def by_interface(self) -> Mapping[str, Mapping[str, secretsmanager.ISecret]]:
        """Interface id -> {environment variable: secret} that its function reads."""
        granted: dict[str, dict[str, secretsmanager.ISecret]] = {}
        for if_id in CHANNEL_LOGIN_INTERFACES:
            granted.setdefault(if_id, {})[CHANNEL_LOGIN_ENV] = self.channel_login
        for if_id in SYS009_INTERFACES:
            granted.setdefault(if_id, {})[SYS009_ENV] = self.sys009
        for if_id in SYS008_CALLER_INTERFACES:
            granted.setdefault(if_id, {})[SYS008_ENV] = self.sys008
        for if_id in ESIGN_CALLER_INTERFACES:
            granted.setdefault(if_id, {})[ESIGN_ENV] = self.esign
        for if_id in WEBHOOK_INTERFACES:
            granted.setdefault(if_id, {})[WEBHOOK_KEYS_ENV] = self.webhooks
        return granted

    @property
    def by_task(self) -> Mapping[str, Mapping[str, secretsmanager.ISecret]]:
        """Task function -> {environment variable: secret} that it reads."""
        granted: dict[str, dict[str, secretsmanager.ISecret]] = {}
        for task in SYS009_CALLER_TASKS:
            granted.setdefault(task, {})[SYS009_ENV] = self.sys009
        for task in SYS008_CALLER_TASKS:
            granted.setdefault(task, {})[SYS008_ENV] = self.sys008
        for task in SYS010_CALLER_TASKS:
            granted.setdefault(task, {})[SYS010_ENV] = self.sys010
        return granted
