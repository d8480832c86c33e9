"""IF-EXT-005 (扩展) edge models: SYS-009's refund notification and what it is answered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from waterrev.fields import Reply


class RefundNotifyReply(Reply):
    """What SYS-009 is answered for a verified refund notification (any 2xx acknowledges it)."""

    refund_no: str = Field(description="退款单号（biz_refund.refund_no）")
    refund_status: Literal["PENDING", "PROCESSING", "SUCCESS", "FAIL"] = Field(
        description="退款单的状态（已是终态时不再改变：先到的终态为准）"
    )
    duplicate: bool = Field(description="true：同一通知（id）已处理过")


class RefundNotification(BaseModel):
    """What SYS-009 posts for a refund (docs/SYS009.md), signed like a payment notification. Documentation
    only: the route verifies the signature on the raw bytes and reads the fields itself."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "5f2c0c4e9b1d4a34a1b2c3d4e5f60718",
                    "eventType": "REFUND",
                    "refundNo": "TK2026120500000001",
                    "sysRefundNo": "R0123456789ABCDEF0123",
                    "tradeNo": "T20261205093000ABCDEF",
                    "refundAmount": "50.00",
                    "refundStatus": "SUCCESS",
                    "notifyTime": "2026-12-05T09:30:02+08:00",
                }
            ]
        },
    )

    id: str = Field(description="通知 ID（去重键）")
    refundNo: str = Field(description="SYS-002 退款单号")
    sysRefundNo: str | None = Field(default=None, description="SYS-009 退款流水号")
    tradeNo: str = Field(description="原交易流水号")
    refundAmount: str = Field(description="退款金额")
    refundStatus: str = Field(description="SUCCESS 或 FAIL", examples=["SUCCESS"])
    failReason: str | None = Field(default=None, description="失败原因")
    notifyTime: str = Field(description="通知时间")
