"""IF-EXT-005 edge models: what a payment callback is answered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from waterrev.fields import Reply


# ---- IF-EXT-005 聚合支付结果回调 ------------------------------------------------------------------
class NotifyReply(Reply):
    """What SYS-009 is answered for a verified notification (any 2xx acknowledges it)."""

    write_back_status: Literal["SUCCESS", "FAIL", "CLOSED", "EXCEPTION", "DUPLICATE", "INIT", "PAYING"] = (
        Field(
            description="SYS-002 核销处理结果（SYS-009 writeBackStatus）：SUCCESS 已核销、FAIL/CLOSED 订单已失败或关闭、"
            "EXCEPTION 转人工核查、DUPLICATE 重复通知（已处理过）、INIT/PAYING 非终态通知，订单状态不变"
        )
    )
    trade_no: str = Field(description="渠道交易流水号")


class PaymentNotification(BaseModel):
    """What SYS-009 posts (SYS-002 <-> SYS-009 结果回写 mapping: tradeNo, tradeStatus, successAmount,
    notifyTime), signed with its platform key. Documentation only: the route verifies the signature on
    the raw bytes and reads these fields itself; unknown fields are kept, never refused."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "N20260311093000123",
                    "tradeNo": "T20260311093000ABCDEF",
                    "businessOrderNo": "DD2026031100000001",
                    "tradeStatus": "SUCCESS",
                    "successAmount": "58.65",
                    "notifyTime": "2026-03-11T09:30:00+08:00",
                }
            ]
        },
    )

    id: str | None = Field(default=None, description="通知 ID")
    tradeNo: str = Field(description="渠道交易流水号 (bk_transaction.trade_no)")
    businessOrderNo: str | None = Field(default=None, description="SYS-002 业务订单号 bizOrderNo")
    tradeStatus: str = Field(
        description="交易状态：SUCCESS、FAIL、CLOSED 映射为 orderStatus；其他值照录，不改变订单",
        examples=["SUCCESS"],
    )
    successAmount: str | None = Field(default=None, description="实际支付成功金额，映射为 paidAmount")
    notifyTime: str = Field(description="回调时间，映射为 callbackTime")
