"""IF-EXT-005 edge models: what a payment callback is answered."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
