"""IF-CS-002 edge models: the reply inside the envelope (the seed's names: IF-CS-002 响应参数 total,
list[].chargeId, billPeriod, usageAmount, payStatus, invoiceStatus; our additions are marked 扩展 and
say which queryType carries them). The request is query parameters (functions/cs_bill_history)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from waterrev.fields import DateStr, DateTime, Decimal4, Money, Reply

QueryType = Literal["BILL", "PAYMENT", "USAGE", "ARREARS", "INVOICE"]
ChargeStatus = Literal["UNPAID", "PARTIAL", "PAID"]


class HistoryItem(Reply):
    """One row of the history. Every row has the seed's five fields (null where the queryType has no
    such value); the extensions of its queryType come with it, the others are left out.

    - BILL / ARREARS: one bill (biz_charge), newest period first; ARREARS only UNPAID and PARTIAL ones.
    - USAGE: one valid reading (biz_reading_data) with its bill, if billed; periods migrated without a
      reading show their bill's usage (readType HISTORY).
    - PAYMENT: one payment (biz_collection), newest first, with the bills it wrote off.
    - INVOICE: one invoice (biz_invoice), newest first.
    """

    charge_id: int | None = Field(
        description="账单 ID；USAGE 为读数所开账单（未开账为 null）；PAYMENT、INVOICE 为 null（见 chargeIds）"
    )
    bill_period: str | None = Field(description="账期，如 2026-03；PAYMENT、INVOICE 为 null")
    usage_amount: Decimal4 | None = Field(description="用量（m³）；PAYMENT、INVOICE 为 null")
    pay_status: str | None = Field(
        description=(
            "缴费状态：BILL、ARREARS、USAGE 为账单状态 UNPAID、PARTIAL、PAID（USAGE 未开账为 null，账单已作废为 CANCELLED）；"
            "PAYMENT 为缴费记录状态 SUCCESS、PARTIAL、PENDING、FAIL；INVOICE 为 null"
        )
    )
    invoice_status: str | None = Field(
        description=(
            "开票状态：BILL、ARREARS、USAGE 为账单的开票状态（NONE 未开票；USAGE 未开账为 null）；"
            "INVOICE 为发票状态 SUBMITTED、PENDING、SUCCESS、FAIL、INVALID、RED_INK；PAYMENT 为 null"
        )
    )
    # BILL / ARREARS
    charge_code: str | None = Field(default=None, description="扩展（BILL、ARREARS）：账单编号")
    total_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：账单金额")
    paid_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：已缴金额")
    unpaid_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：未缴金额")
    due_date: DateStr | None = Field(default=None, description="扩展（BILL、ARREARS）：缴费截止日")
    arrears_amount: Money | None = Field(default=None, description="扩展（ARREARS）：欠费金额")
    # USAGE
    meter_id: int | None = Field(default=None, description="扩展（USAGE）：水表 ID")
    read_time: DateTime | None = Field(default=None, description="扩展（USAGE）：抄表时间（迁移账期为 null）")
    previous_reading: Decimal4 | None = Field(default=None, description="扩展（USAGE）：上次读数")
    current_reading: Decimal4 | None = Field(default=None, description="扩展（USAGE）：本次读数")
    read_type: str | None = Field(
        default=None, description="扩展（USAGE）：抄表方式（MANUAL、IOT、ESTIMATE 等；迁移账期为 HISTORY）"
    )
    estimated: bool | None = Field(default=None, description="扩展（USAGE）：是否估抄")
    reading_id: int | None = Field(default=None, description="扩展（USAGE）：读数 ID（迁移账期为 null）")
    # PAYMENT
    collection_id: int | None = Field(default=None, description="扩展（PAYMENT）：缴费记录 ID")
    collection_code: str | None = Field(default=None, description="扩展（PAYMENT）：缴费业务编号")
    payment_channel: str | None = Field(
        default=None, description="扩展（PAYMENT）：缴费渠道 CASH、WECHAT、ALIPAY、BANK、PREPAY"
    )
    trade_no: str | None = Field(default=None, description="扩展（PAYMENT）：渠道交易流水号")
    pay_time: DateTime | None = Field(default=None, description="扩展（PAYMENT）：缴费时间")
    charge_ids: list[int] | None = Field(default=None, description="扩展（PAYMENT）：本次缴费核销的账单 ID")
    # INVOICE
    invoice_id: int | None = Field(default=None, description="扩展（INVOICE）：发票记录 ID")
    application_no: str | None = Field(default=None, description="扩展（INVOICE）：开票申请单号")
    invoice_type: str | None = Field(default=None, description="扩展（INVOICE）：发票类型")
    invoice_code: str | None = Field(default=None, description="扩展（INVOICE）：发票代码")
    invoice_number: str | None = Field(default=None, description="扩展（INVOICE）：发票号码")
    file_url: str | None = Field(default=None, description="扩展（INVOICE）：版式文件地址")
    create_time: DateTime | None = Field(default=None, description="扩展（INVOICE）：申请时间")
    # PAYMENT / INVOICE
    amount: Money | None = Field(default=None, description="扩展（PAYMENT、INVOICE）：实收金额 / 开票金额")
