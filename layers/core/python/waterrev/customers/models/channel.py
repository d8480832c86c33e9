"""IF-CS-001 edge models: channel login, the bind code, BIND / UNBIND / SET_DEFAULT, the bound accounts."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.customers.commands import BindCommand
from waterrev.customers.models import (
    AccountStatus,
)
from waterrev.fields import Id, Model, Reply

# ---- IF-CS-001: channel login, the bind code, BIND / UNBIND / SET_DEFAULT, the bound accounts -------

ChannelType = Literal["WECHAT", "ALIPAY", "MINIAPP"]
BindAction = Literal["BIND", "UNBIND", "SET_DEFAULT"]

# ---- requests ------------------------------------------------------------------------------------


class ChannelLoginRequest(Model):
    """扩展路由：渠道登录，由小程序后端签名（docs/DECISIONS.md 3）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channelType": "WECHAT",
                    "channelUserId": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                    "timestamp": 1796000000,
                    "nonce": "5f2b8c1d9e3a4b7c",
                    "signature": "9b1c6f0e4a2d8b7c3e5f1a0d9c8b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
                }
            ]
        }
    )

    channel_type: ChannelType = Field(description="渠道类型：WECHAT、ALIPAY、MINIAPP")
    channel_user_id: str = Field(
        min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="渠道用户标识，如 OpenId"
    )
    timestamp: int = Field(gt=0, le=2**40, description="签名时间，Unix 秒（5 分钟有效）")
    nonce: str = Field(min_length=8, max_length=48, pattern=r"^[A-Za-z0-9]+$", description="一次性随机串")
    signature: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="HMAC-SHA256(渠道密钥, channelType\\nchannelUserId\\ntimestamp\\nnonce) 十六进制",
    )


class VerifyCodeRequest(Model):
    """扩展路由：向客户预留手机号发送绑定验证码（docs/DECISIONS.md 27）。"""

    model_config = ConfigDict(json_schema_extra={"examples": [{"custId": 1, "custName": "张三"}]})

    cust_id: Id = Field(description="客户 ID")
    cust_name: str = Field(
        min_length=1, max_length=50, description="客户名称，须与档案一致（去除首尾空格后比较）"
    )


class BindRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "BIND",
                    "channelType": "WECHAT",
                    "channelUserId": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                    "custId": 1,
                    "verifyCode": "123456",
                    "defaultFlag": True,
                },
                {
                    "action": "UNBIND",
                    "channelType": "WECHAT",
                    "channelUserId": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                    "custId": 1,
                },
            ]
        }
    )

    action: BindAction = Field(description="动作：BIND、UNBIND、SET_DEFAULT")
    channel_type: ChannelType = Field(description="渠道类型：WECHAT、ALIPAY、MINIAPP（须与登录令牌一致）")
    channel_user_id: str = Field(
        min_length=4, max_length=64, description="渠道用户标识，如 OpenId（须与登录令牌一致）"
    )
    cust_id: Id = Field(description="客户 ID")
    account_id: Id | None = Field(
        default=None,
        description="账户 ID；BIND 不填取客户的首个账户，UNBIND/SET_DEFAULT 填写时须为已绑定的账户",
    )
    verify_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="验证码或身份校验码（BIND 必填，send-verify-code 获取）"
    )
    default_flag: bool | None = Field(default=None, description="是否设为默认账户（BIND 时）")

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


# ---- replies -------------------------------------------------------------------------------------


class VerifyCodeSent(Reply):
    mobile: str = Field(description="验证码发往的预留手机号（脱敏）")
    expire_seconds: int = Field(description="验证码有效期（秒）")


class CustSummary(Reply):
    """custSummary: the bound customer and account."""

    cust_id: int = Field(description="客户 ID")
    cust_code: str = Field(description="客户编号")
    cust_name: str = Field(description="客户名称")
    address: str = Field(description="客户地址")
    account_id: int = Field(description="绑定的账户 ID")
    account_no: str = Field(description="账户编号")
    account_status: AccountStatus = Field(description="账户状态")


class BindReply(Reply):
    """IF-CS-001 响应参数."""

    bind_id: int = Field(description="绑定关系 ID")
    bind_status: Literal["BOUND", "UNBOUND"] = Field(description="绑定状态：BOUND、UNBOUND")
    default_flag: bool = Field(description="是否默认账户")
    cust_summary: CustSummary = Field(description="客户摘要信息")
    msg: str = Field(description="处理说明")


class BoundAccount(CustSummary):
    """扩展路由 account/list: one BOUND customer of the caller, the default first."""

    bind_id: int = Field(description="绑定关系 ID")
