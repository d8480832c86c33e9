"""IF-CS-004 edge models: a bound customer's issued e-invoices - query, download, push."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import DateTime, Decimal4, Id, Model, Money, Page, Reply
from waterrev.invoices import commands
from waterrev.invoices.models import ChargeBindStatus, PushChannel, PushStatus

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,120}\.[A-Za-z]{2,}$"


class CustomerQuery(Model):
    """IF-CS-004 查询/下载请求参数 (query: all keys optional lists the customer's invoices)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"custId": 1, "pageNo": 1, "pageSize": 10}]})

    cust_id: Id = Field(description="客户 ID：须为当前渠道用户已绑定的客户")
    invoice_id: Id | None = Field(default=None, description="发票记录 ID，三选一优先键")
    application_no: str | None = Field(default=None, max_length=40, description="发票申请单号")
    sys_request_no: str | None = Field(default=None, max_length=64, description="SYS-008 受理号")
    page_no: int = Field(default=1, ge=1, le=10000, description="扩展：页码")
    page_size: int = Field(default=10, ge=1, le=50, description="扩展：每页条数")

    def command(self) -> commands.CustomerInvoices:
        return commands.CustomerInvoices(
            self.cust_id,
            self.invoice_id,
            self.application_no,
            self.sys_request_no,
            self.page_no,
            self.page_size,
        )


class CustomerDownload(Model):
    """IF-CS-004 查询/下载请求参数 (download: one invoice, by any of the three keys)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"custId": 1, "invoiceId": 1}]})

    cust_id: Id = Field(description="客户 ID：须为当前渠道用户已绑定的客户")
    invoice_id: Id | None = Field(default=None, description="发票记录 ID，三选一优先键")
    application_no: str | None = Field(default=None, max_length=40, description="发票申请单号")
    sys_request_no: str | None = Field(default=None, max_length=64, description="SYS-008 受理号")

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if self.invoice_id is None and not self.application_no and not self.sys_request_no:
            raise ValueError("invoiceId、applicationNo、sysRequestNo 须至少提供一个")
        return self

    def command(self) -> commands.CustomerInvoices:
        return commands.CustomerInvoices(
            self.cust_id, self.invoice_id, self.application_no, self.sys_request_no
        )


class CustomerPush(Model):
    """IF-CS-004 推送请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"custId": 1, "invoiceId": 1, "pushChannel": "EMAIL", "pushEmail": "zhangsan@example.com"}
            ]
        }
    )

    cust_id: Id = Field(description="客户 ID")
    invoice_id: Id = Field(description="发票记录 ID")
    application_no: str | None = Field(
        default=None, max_length=40, description="发票申请单号；传入时须与发票一致"
    )
    push_channel: PushChannel = Field(description="推送方式：EMAIL、SMS")
    push_email: str | None = Field(
        default=None, max_length=128, pattern=_EMAIL, description="推送邮箱，EMAIL 时优先使用"
    )
    push_mobile: str | None = Field(
        default=None, pattern=r"^1[3-9]\d{9}$", description="推送手机号，SMS 时优先使用"
    )

    def command(self) -> commands.PushInvoice:
        return commands.PushInvoice(
            self.cust_id,
            self.invoice_id,
            self.push_channel,
            self.application_no,
            self.push_email,
            self.push_mobile,
        )


class InvoiceLine(Reply):
    """扩展：发票明细行（按费用组成与税率分行）."""

    item_name: str = Field(description="商品和服务名称")
    tax_rate: Decimal4 = Field(description="税率")
    amount: Money = Field(description="价税合计")
    tax_amount: Money = Field(description="税额")


class CustomerInvoice(Reply):
    """IF-CS-004 响应参数, and our additions (扩展)."""

    invoice_id: int = Field(description="发票记录 ID")
    application_no: str = Field(description="发票申请单号")
    invoice_status: str = Field(description="当前状态（客户侧仅见 SUCCESS）")
    invoice_code: str | None = Field(description="发票代码")
    invoice_number: str | None = Field(description="发票号码")
    file_url: str | None = Field(description="发票下载地址：限时有效的下载链接（不暴露发票平台地址）")
    push_status: PushStatus = Field(description="推送状态：NONE、PUSHED、FAIL")
    charge_bind_status: ChargeBindStatus = Field(description="账单关联状态：UNBOUND、BOUND")
    msg: str = Field(description="处理说明")
    invoice_type: str = Field(description="扩展：发票类型")
    invoice_title: str | None = Field(description="扩展：发票抬头")
    amount: Money = Field(description="扩展：价税合计")
    tax_amount: Money | None = Field(description="扩展：税额")
    issue_time: DateTime | None = Field(description="扩展：开票时间")
    lines: list[InvoiceLine] = Field(description="扩展：明细行")


class CustomerInvoicePage(Page[CustomerInvoice]):
    """IF-CS-004 查询：本人已开具的电子发票（分页）。"""


class DownloadReply(CustomerInvoice):
    """IF-CS-004 下载：fileUrl 为限时下载链接。"""

    link_expire_time: DateTime = Field(description="扩展：下载链接失效时间")
