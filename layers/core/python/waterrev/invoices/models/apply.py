"""IF-REV-008 edge models: the application, and the void / red-ink post-processing entries."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import Id, Model, Reply
from waterrev.invoices import commands
from waterrev.invoices.models import InvoiceStatus, InvoiceType, SourceChannel

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,120}\.[A-Za-z]{2,}$"


class ApplyRequest(Model):
    """IF-REV-008 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "chargeIds": [101, 102],
                    "invoiceType": "ELECTRONIC",
                    "invoiceTitle": "张三",
                    "email": "zhangsan@example.com",
                    "mobile": "13800138000",
                    "sourceChannel": "COUNTER",
                    "remark": "柜台申请",
                }
            ]
        }
    )

    application_no: str | None = Field(
        default=None,
        min_length=4,
        max_length=40,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="发票申请单号：不传时服务端生成；作为幂等主键之一（同一单号重复提交返回同一申请）",
    )
    cust_id: Id = Field(description="客户 ID (biz_invoice.cust_id)：须在操作员数据范围内")
    charge_ids: list[Id] = Field(
        min_length=1,
        max_length=200,
        description="开票关联账单 ID 列表：须为该客户已收费、未开票、未作废的整张账单",
    )
    invoice_type: InvoiceType = Field(description="发票类型：ELECTRONIC、PAPER")
    invoice_title: str = Field(
        min_length=1, max_length=200, description="发票抬头 (biz_cust_invoice.invoice_title)"
    )
    tax_no: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[0-9A-Z]+$",
        description="税号：企业抬头必填（统一社会信用代码，校验位）",
    )
    email: str | None = Field(default=None, max_length=128, pattern=_EMAIL, description="电子发票接收邮箱")
    mobile: str | None = Field(default=None, pattern=r"^1[3-9]\d{9}$", description="接收手机号")
    source_channel: SourceChannel = Field(description="来源渠道：COUNTER、FINANCE_BACKOFFICE")
    remark: str | None = Field(default=None, max_length=255, description="申请备注（操作留痕）")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.charge_ids)) != len(self.charge_ids):
            raise ValueError("chargeIds: 账单 ID 不可重复")
        return self

    def command(self) -> commands.ApplyInvoice:
        return commands.ApplyInvoice(
            cust_id=self.cust_id,
            charge_ids=tuple(self.charge_ids),
            invoice_type=self.invoice_type,
            invoice_title=self.invoice_title,
            source_channel=self.source_channel,
            application_no=self.application_no,
            tax_no=self.tax_no,
            email=self.email,
            mobile=self.mobile,
            remark=self.remark,
        )


class ApplyReply(Reply):
    """IF-REV-008 响应参数."""

    invoice_id: int = Field(description="发票申请记录 ID (biz_invoice.id)")
    application_no: str = Field(description="发票申请单号 (biz_invoice.application_no)")
    invoice_status: InvoiceStatus = Field(
        description="状态：SUBMITTED（已保存，待发票服务受理）、PENDING（已受理）、REJECTED（发票服务拒绝）；"
        "扩展：结果已先于受理应答到达时为 SUCCESS / FAIL，重复申请时为既有申请的当前状态"
    )
    sys_request_no: str | None = Field(description="发往 SYS-008 的受理号；未受理时为 null")
    msg: str = Field(description="处理说明")


class InvalidateRequest(Model):
    """IF-REV-008 后台作废请求参数 (/business/invoice/invalidate)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invoiceId": 1,
                    "invalidReason": "开票信息有误",
                    "invalidRemark": "客户要求重开",
                    "originalInvoiceCode": "044002500111",
                    "originalInvoiceNumber": "25442000000012345678",
                }
            ]
        }
    )

    invoice_id: Id = Field(description="发票记录 ID：须为 SUCCESS 状态")
    invalid_reason: str = Field(min_length=1, max_length=200, description="作废原因")
    invalid_remark: str | None = Field(default=None, max_length=255, description="作废备注")
    original_invoice_code: str | None = Field(
        default=None, max_length=32, description="原发票代码；传入时须与记录一致"
    )
    original_invoice_number: str | None = Field(
        default=None, max_length=32, description="原发票号码；传入时须与记录一致"
    )

    def command(self) -> commands.ModifyInvoice:
        return commands.ModifyInvoice(
            self.invoice_id,
            "INVALIDATE",
            self.invalid_reason,
            self.invalid_remark,
            self.original_invoice_code,
            self.original_invoice_number,
        )


class RedInkRequest(Model):
    """IF-REV-008 后台红冲请求参数 (/business/invoice/red-ink)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invoiceId": 1,
                    "redInkReason": "销售退回",
                    "redInkRemark": "账单调整后重开",
                    "originalInvoiceCode": "044002500111",
                    "originalInvoiceNumber": "25442000000012345678",
                }
            ]
        }
    )

    invoice_id: Id = Field(description="发票记录 ID：须为 SUCCESS 状态")
    red_ink_reason: str = Field(min_length=1, max_length=200, description="红冲原因")
    red_ink_remark: str | None = Field(default=None, max_length=255, description="红冲备注")
    original_invoice_code: str | None = Field(
        default=None, max_length=32, description="原发票代码；传入时须与记录一致"
    )
    original_invoice_number: str | None = Field(
        default=None, max_length=32, description="原发票号码；传入时须与记录一致"
    )

    def command(self) -> commands.ModifyInvoice:
        return commands.ModifyInvoice(
            self.invoice_id,
            "RED_INK",
            self.red_ink_reason,
            self.red_ink_remark,
            self.original_invoice_code,
            self.original_invoice_number,
        )


class ModifyReply(Reply):
    """扩展：作废 / 红冲的受理结果（即时返回仅表示已受理；终态经 IF-REV-009 或 IF-EXT-007 收口）。"""

    invoice_id: int = Field(description="发票记录 ID")
    modify_no: str = Field(description="扩展：后处理请求号（发往 SYS-008 的 requestNo：ZF 作废 / HC 红冲）")
    modify_type: str = Field(description="扩展：INVALIDATE 或 RED_INK")
    trigger_source: str = Field(description="扩展：触发来源 ADMIN_INVALIDATE、ADMIN_RED_INK")
    modify_status: str = Field(description="扩展：SUBMITTED、PENDING（已受理）、SUCCESS、FAIL")
    invoice_status: InvoiceStatus = Field(description="发票当前状态（终态到达前仍为 SUCCESS）")
    original_invoice_code: str | None = Field(description="原发票代码")
    original_invoice_number: str | None = Field(description="原发票号码")
    red_form_no: str | None = Field(description="扩展：红字确认单编号（数电票红冲）")
    red_form_status: str | None = Field(
        description="扩展：红字确认单状态 01 无需确认、02 销方录入待购方确认、03 购方录入待销方确认、04 购销双方已确认、"
        "05/06 作废（对方否认）、07 作废（超72小时未确认）、08 作废（发起方撤销）"
    )
    fail_reason: str | None = Field(description="扩展：失败原因")
    msg: str = Field(description="处理说明")
