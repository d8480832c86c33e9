"""IF-EXT-007 edge model: what SYS-002 answers a writeback (the body is read raw, see invoices/callback.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from waterrev.fields import Reply


class CallbackReply(Reply):
    """扩展：回写回执（种子未定义 IF-EXT-007 字段表）."""

    request_no: str = Field(description="回写的请求号（申请单号或后处理请求号）")
    invoice_status: str = Field(description="回写的发票状态")
    write_back_status: Literal["APPLIED", "DUPLICATE", "UNCHANGED"] = Field(
        description="APPLIED 已落账；DUPLICATE 相同请求号与状态的重复回写（仅更新回执）；UNCHANGED 无需变更"
    )
    current_status: str | None = Field(description="发票当前状态")
    msg: str = Field(description="处理说明")
