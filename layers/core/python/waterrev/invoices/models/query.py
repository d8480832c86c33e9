"""IF-REV-009 edge models: the result query (and its compensation entry), and the exception review."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import DateTime, Id, Model, Money, Page, Reply
from waterrev.invoices import commands
from waterrev.invoices.models import ChargeBindStatus, InvoiceStatus, PushStatus, QuerySource


class QueryRequest(Model):
    """IF-REV-009 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"applicationNo": "FP2026031100000001", "querySource": "MANUAL"}]}
    )

    application_no: str | None = Field(
        default=None, max_length=40, description="发票申请单号，与 sysRequestNo 二选一"
    )
    sys_request_no: str | None = Field(
        default=None, max_length=64, description="SYS-008 受理号，与 applicationNo 二选一"
    )
    query_source: QuerySource = Field(description="查询来源：MANUAL、AUTO_COMPENSATE、CALLBACK_VERIFY")

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if not (self.application_no or self.sys_request_no):
            raise ValueError("applicationNo 与 sysRequestNo 须二选一")
        return self

    def command(self, *, compensate: bool = False) -> commands.QueryInvoice:
        return commands.QueryInvoice(self.application_no, self.sys_request_no, self.query_source, compensate)


class QueryReply(Reply):
    """IF-REV-009 响应参数, and our additions (扩展)."""

    invoice_id: int = Field(description="发票主记录 ID")
    application_no: str = Field(description="发票申请单号")
    sys_request_no: str | None = Field(description="SYS-008 受理号")
    invoice_status: InvoiceStatus = Field(
        description="状态：SUBMITTED、PENDING、SUCCESS、FAIL、INVALID、RED_INK；扩展：REJECTED（发票服务拒绝受理）"
    )
    invoice_code: str | None = Field(description="发票代码")
    invoice_number: str | None = Field(description="发票号码")
    file_url: str | None = Field(description="电子发票文件地址（SYS-008 回写的平台地址）")
    fail_reason: str | None = Field(description="失败原因")
    push_status: PushStatus = Field(description="电子发票推送状态")
    last_query_time: DateTime | None = Field(description="最近一次查询时间")
    try_count: int = Field(description="累计查询次数")
    latest_result: str | None = Field(description="最近一次查询结果摘要")
    latest_error: str | None = Field(description="最近一次查询异常说明")
    msg: str | None = Field(description="处理说明")
    cust_id: int = Field(description="扩展：客户 ID")
    invoice_type: str = Field(description="扩展：发票类型")
    amount: Money = Field(description="扩展：价税合计")
    tax_amount: Money | None = Field(description="扩展：税额")
    charge_ids: list[int] = Field(description="扩展：关联账单")
    charge_bind_status: ChargeBindStatus = Field(description="扩展：账单关联状态")
    file_stored: bool = Field(description="扩展：发票文件是否已转存（客户下载用）")
    next_plan_time: DateTime | None = Field(description="扩展：下次计划补偿查询时间")
    issue_time: DateTime | None = Field(description="扩展：开票时间")
    modify: dict[str, Any] | None = Field(description="扩展：最近一次作废 / 红冲请求（含红字确认单状态）")


class ExceptionItem(Reply):
    """扩展：发票状态冲突（人工核查入口）."""

    id: int = Field(description="异常 ID")
    invoice_id: int = Field(description="发票 ID")
    application_no: str = Field(description="发票申请单号")
    exception_type: str = Field(description="STATE_CONFLICT")
    source: str = Field(description="来源：CALLBACK、MANUAL、AUTO_COMPENSATE、CALLBACK_VERIFY")
    current_status: str = Field(description="发生时的发票状态")
    reported_status: str = Field(description="外部报告的状态")
    invoice_status: str = Field(description="发票当前状态")
    result_msg: str | None = Field(description="外部结果说明")
    status: Literal["OPEN", "RESOLVED"] = Field(description="处理状态")
    resolve_remark: str | None = Field(description="核查结论")
    create_time: DateTime = Field(description="发生时间")
    resolved_time: DateTime | None = Field(description="处理时间")


class ExceptionPage(Page[ExceptionItem]):
    """扩展：发票异常分页."""


class InvoiceExceptionResolve(Model):
    """扩展：记录人工核查结论（不改变发票状态；纠正须经作废 / 红冲）。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": 1, "remark": "已与税控平台核实，以成功为准"}]}
    )

    id: Id = Field(description="异常 ID")
    remark: str = Field(min_length=1, max_length=200, description="核查结论")

    def command(self) -> commands.ResolveInvoiceException:
        return commands.ResolveInvoiceException(self.id, self.remark)
