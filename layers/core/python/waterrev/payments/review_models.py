"""IF-REV-006 payment exception review (人工复核入口): the resolve request and the exception replies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateTime, Id, Model, Money, Page, Reply
from waterrev.payments import commands

Action = Literal["WRITE_OFF_PAID", "REFUND", "KEEP_BALANCE", "DISMISS"]
ExceptionStatus = Literal["OPEN", "RESOLVED"]
ExceptionType = Literal[
    "AMOUNT_MISMATCH", "PAID_ELSEWHERE", "SIGNATURE_INVALID", "UNKNOWN_TRADE", "UNPARSABLE"
]
# A platform-reported amount kept exactly as reported: two places, or more for a fraction of a cent.
ExactAmount = Annotated[str, Field(pattern=r"^-?\d+\.\d{2,}$", examples=["58.65"])]


class ExceptionResolve(Model):
    """A person's decision on one payment exception."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": 7, "action": "WRITE_OFF_PAID", "remark": "客户确认少付 1 元，按实收入账"}]
        }
    )

    id: Id = Field(description="异常记录 ID (bk_transaction_exception.id)")
    action: Action = Field(
        description="处理决定：AMOUNT_MISMATCH 可 WRITE_OFF_PAID（按实收核销）或 REFUND（关闭订单、待退款）；"
        "PAID_ELSEWHERE 可 KEEP_BALANCE（留作预存）或 REFUND（从余额退回）；其他类型 DISMISS"
    )
    remark: str = Field(min_length=1, max_length=200, description="处理说明（1-200 字）")

    def command(self) -> commands.ResolveException:
        return commands.ResolveException(id=self.id, action=self.action, remark=self.remark)


class PaymentException(Reply):
    """One payment exception (bk_transaction_exception) as a reviewer sees it."""

    id: int = Field(description="异常记录 ID")
    exception_type: ExceptionType = Field(
        description="异常类型：AMOUNT_MISMATCH 实付与订单金额不符、PAID_ELSEWHERE 账单已在别处缴清、"
        "SIGNATURE_INVALID 回调签名校验失败、UNKNOWN_TRADE 未知交易、UNPARSABLE 回调报文无法解析"
    )
    status: ExceptionStatus = Field(description="处理状态：OPEN 待处理、RESOLVED 已处理")
    trade_no: str | None = Field(description="渠道交易流水号")
    biz_order_no: str | None = Field(description="业务订单号")
    cust_id: int | None = Field(description="订单的客户 ID；无订单时为 null")
    cust_code: str | None = Field(description="订单的客户编号")
    order_status: Literal["INIT", "PAYING", "SUCCESS", "FAIL"] | None = Field(
        description="订单当前状态：INIT、PAYING、SUCCESS、FAIL（已关闭为 FAIL）；无订单时为 null"
    )
    payment_amount: Money | None = Field(description="订单金额（SYS-009 tradeAmount）")
    detail: dict[str, Any] = Field(
        description="异常明细（支付平台报告的原始值，如 tradeAmount、successAmount）"
    )
    create_time: DateTime = Field(description="发现时间")
    allowed_actions: list[Action] = Field(description="当前可选的处理决定（已处理时为空）")
    resolution: Action | None = Field(description="处理决定")
    remark: str | None = Field(description="处理说明（已脱敏）")
    resolved_by: int | None = Field(description="处理人用户 ID")
    resolved_by_name: str | None = Field(description="处理人用户名")
    resolved_time: DateTime | None = Field(description="处理时间")
    refund_status: Literal["PENDING"] | None = Field(
        description="退款状态：PENDING 待退款（由 IF-REV-007 退回）"
    )
    refund_amount: ExactAmount | None = Field(description="退款金额（按平台报告的原值）")
    result: dict[str, Any] | None = Field(description="处理结果（核销、退款、余额变动）")


ExceptionPage = Page[PaymentException]


class ResolvedException(PaymentException):
    replay: bool = Field(description="true 表示同一决定的重复提交，返回首次处理结果")
