"""IF-EXT-007 edge model: what SYS-002 answers a writeback (the body is read raw, see invoices/callback.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class InvoiceResult(BaseModel):
    """What SYS-008 posts (SYS-002 <-> SYS-008 结果回写 mapping: requestNo, invoiceStatus, invoiceNo, fileUrl,
    resultMsg), signed. Documentation only: the route verifies the signature on the raw bytes and checks
    each field itself (invoices/callback.py `parse`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "requestNo": "FP2026031100000001",
                    "sysRequestNo": "S8-20260311-000001",
                    "operationType": "ISSUE",
                    "invoiceStatus": "SUCCESS",
                    "invoiceCode": "035002600111",
                    "invoiceNo": "26352000000000000001",
                    "fileUrl": "https://sys008.example/files/26352000000000000001.pdf",
                    "issueTime": "2026-03-11T09:35:00+08:00",
                    "resultMsg": "开票成功",
                }
            ]
        },
    )

    requestNo: str = Field(max_length=64, description="协同请求号：发票申请单号（或后处理请求号）")
    sysRequestNo: str | None = Field(default=None, max_length=64, description="SYS-008 受理号")
    operationType: Literal["ISSUE", "INVALIDATE", "RED_INK"] = Field(
        default="ISSUE", description="开票、作废或红冲的结果"
    )
    invoiceStatus: str = Field(description="开票状态：PENDING、SUCCESS、FAIL、INVALID、RED_INK")
    invoiceCode: str | None = Field(default=None, max_length=32, description="发票代码")
    invoiceNo: str | None = Field(default=None, max_length=32, description="发票号码")
    fileUrl: str | None = Field(
        default=None, max_length=512, description="发票文件地址（平台的，我方复制到 S3）"
    )
    issueTime: str | None = Field(default=None, max_length=40, description="开票时间（ISO 8601）")
    resultMsg: str | None = Field(default=None, max_length=500, description="结果说明")
