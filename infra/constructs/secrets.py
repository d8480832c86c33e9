"""Application secrets besides the database credentials, and which functions may read them."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

CHANNEL_LOGIN_ENV = "WATERREV_CHANNEL_LOGIN_SECRET_ARN"
CHANNEL_LOGIN_INTERFACES = ("IF-CS-001",)
SYS009_ENV = "WATERREV_SYS009_SECRET_ARN"
# The functions that call SYS-009 or verify its notifications (the compensation job gets it too).
SYS009_INTERFACES = ("IF-CS-003", "IF-CS-007", "IF-EXT-005")


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

    @property
    def by_interface(self) -> Mapping[str, Mapping[str, secretsmanager.ISecret]]:
        """Interface id -> {environment variable: secret} that its function reads."""
        granted: dict[str, dict[str, secretsmanager.ISecret]] = {}
        for if_id in CHANNEL_LOGIN_INTERFACES:
            granted.setdefault(if_id, {})[CHANNEL_LOGIN_ENV] = self.channel_login
        for if_id in SYS009_INTERFACES:
            granted.setdefault(if_id, {})[SYS009_ENV] = self.sys009
        return granted
