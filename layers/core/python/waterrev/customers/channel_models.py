"""IF-CS-001 / IF-CS-002 request models and the channel login."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from waterrev.customers.commands import BindCommand
from waterrev.fields import Model

ChannelType = Literal["WECHAT", "ALIPAY", "MINIAPP"]


class ChannelLoginRequest(Model):
    channel_type: ChannelType
    channel_user_id: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    timestamp: int = Field(gt=0, description="Unix 秒")
    nonce: str = Field(min_length=8, max_length=48, pattern=r"^[A-Za-z0-9]+$")
    signature: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="HMAC-SHA256(渠道密钥) 十六进制")


class VerifyCodeRequest(Model):
    cust_id: int = Field(gt=0)
    cust_name: str = Field(
        min_length=1, max_length=50, description="客户名称，须与档案一致（去除首尾空格后比较）"
    )


class BindRequest(Model):
    action: Literal["BIND", "UNBIND", "SET_DEFAULT"]
    channel_type: ChannelType
    channel_user_id: str = Field(min_length=4, max_length=64)
    cust_id: int = Field(gt=0)
    account_id: int | None = Field(default=None, gt=0)
    verify_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    default_flag: bool | None = None

    @model_validator(mode="after")
    def _code_for_bind(self) -> Self:
        if self.action == "BIND" and not self.verify_code:
            raise ValueError("BIND 须提供 verifyCode")
        return self

    def to_command(self) -> BindCommand:
        return BindCommand(
            action=self.action,
            channel_type=self.channel_type,
            channel_user_id=self.channel_user_id,
            cust_id=self.cust_id,
            account_id=self.account_id,
            verify_code=self.verify_code,
            default_flag=self.default_flag,
        )
