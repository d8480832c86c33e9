"""IF-REV-006 edge models: counter collection, the counter's bill query, the payment exception review."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import Amount, DateStr, DateTime, Decimal4, Id, Model, Money, Page, Reply
from waterrev.payments import commands
from waterrev.payments.models import (
    Channel,
    PayStatus,
    WriteOffStatus,
    _distinct,
)


# ---- IF-REV-006 缴费处理 -------------------------------------------------------------------------
class CollectionCreate(Model):
    """IF-REV-006 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "chargeIds": [101, 102],
                    "paymentChannel": "CASH",
                    "paymentAmount": "58.65",
                    "actualAmount": "60.00",
                    "outletCode": "GL-01",
                    "remark": "柜台现金缴费",
                },
                {
                    "custId": 1,
                    "chargeIds": [103],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": "46.35",
                    "tradeNo": "4200002001202611220001",
                    "outletCode": "GL-01",
                },
            ]
        }
    )

    cust_id: Id = Field(description="客户 ID (biz_charge.cust_id)")
    charge_ids: list[Id] = Field(
        min_length=1, max_length=200, description="待核销账单 ID 列表 (biz_charge.id)"
    )
    payment_channel: Channel = Field(description="支付渠道：CASH、WECHAT、ALIPAY、BANK、PREPAY")
    payment_amount: Amount = Field(
        description="本次支付金额 (biz_collection.amount)：应缴为所选账单的未缴本金 + 截至今日的违约金"
        "（柜台待缴账单查询的 dueAmount）；不足时按 revenue.collection.allow-partial 部分核销或答复 1_002_003_002 与差额"
    )
    actual_amount: Amount | None = Field(
        default=None, description="实收金额，柜台收费场景使用（仅 CASH，找零 = 实收 - 支付）"
    )
    trade_no: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{4,64}$",
        description="外部交易流水号 (bk_transaction.trade_no)；同一流水号重复提交返回首次结果",
    )
    outlet_code: str | None = Field(
        default=None, max_length=32, description="柜台或网点编号 (biz_outlets.code)"
    )
    remark: str | None = Field(default=None, max_length=255, description="收费备注 (biz_collection.remark)")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.payment_amount <= 0:
            raise ValueError("paymentAmount 须大于 0")
        _distinct(self.charge_ids)
        if (
            self.payment_channel == "CASH"
            and self.actual_amount is not None
            and self.actual_amount < self.payment_amount
        ):
            raise ValueError("actualAmount 不得小于 paymentAmount")
        if self.payment_channel != "CASH" and self.actual_amount is not None:
            raise ValueError("actualAmount 仅用于现金收费")
        return self

    def command(self) -> commands.Collect:
        return commands.Collect(
            cust_id=self.cust_id,
            charge_ids=tuple(self.charge_ids),
            payment_channel=self.payment_channel,
            payment_amount=self.payment_amount,
            actual_amount=self.actual_amount,
            trade_no=self.trade_no,
            outlet_code=self.outlet_code,
            remark=self.remark,
        )


class ChargeWriteOff(Reply):
    charge_id: int = Field(description="账单 ID (biz_charge.id)")
    amount: Money = Field(description="本次核销到该账单的水费（本金）")
    penalty_amount: Money = Field(description="扩展：本次缴纳该账单的违约金（单独入账，不计入水费）")
    remain_amount: Money = Field(description="该账单仍待支付的金额（本金 + 违约金）")
    pay_status: PayStatus = Field(description="该账单的缴费状态：UNPAID、PARTIAL、PAID（CANCELLED：已作废）")


class CollectionReply(Reply):
    """IF-REV-006 响应参数 (collectionId ... invoiceAvailable) and our additions."""

    collection_id: int = Field(description="收费记录 ID (biz_collection.id)")
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    write_off_status: WriteOffStatus = Field(description="核销状态：SUCCESS、PARTIAL、PENDING")
    paid_amount: Money = Field(description="已支付金额")
    remain_amount: Money = Field(description="剩余待支付金额（所选账单合计，本金 + 违约金）")
    trade_no: str | None = Field(description="渠道交易流水号 (bk_transaction.trade_no)")
    invoice_available: bool = Field(description="是否可发起开票")
    written_off_amount: Money = Field(description="扩展：本次核销到账单的金额合计（水费 + 违约金）")
    penalty_amount: Money = Field(
        description="扩展：其中违约金（按 revenue.penalty.coverage 的先后顺序抵扣）"
    )
    balance_added: Money = Field(description="扩展：转入预存余额的金额")
    change_amount: Money = Field(description="扩展：现金找零 (actualAmount - paymentAmount)")
    charge_list: list[ChargeWriteOff] = Field(description="扩展：每张所选账单的核销结果")
    replay: bool = Field(description="扩展：true 表示同一 tradeNo 的重复请求，返回首次结果")


# ---- IF-REV-006 扩展：柜台待缴账单查询 ----------------------------------------------------------
class CounterChargeItem(Reply):
    """One bill as the counter sees it before collecting (IF-REV-006 扩展)."""

    charge_id: int = Field(description="账单 ID (biz_charge.id)：IF-REV-006 请求的 chargeIds")
    charge_code: str = Field(description="账单编号 (biz_charge.code)")
    cust_id: int = Field(description="客户 ID (biz_charge.cust_id)")
    cust_code: str = Field(description="客户编号 (biz_cust.code)")
    bill_period: str = Field(description="账期 (YYYY-MM)")
    usage_amount: Decimal4 = Field(description="用水量（立方米）")
    total_amount: Money = Field(description="账单金额")
    paid_amount: Money = Field(description="已缴金额")
    unpaid_amount: Money = Field(description="未缴本金（账单金额 - 已缴金额）")
    penalty_amount: Money = Field(description="扩展：截至今日（北京时间）的违约金；已缴清或作废的账单为 0.00")
    due_amount: Money = Field(description="扩展：当前应缴金额（未缴本金 + 违约金），柜台收费按此核对")
    penalty_exemption: Literal["WITHHOLDING", "LOW_INCOME"] | None = Field(
        description="扩展：客户按参数免收违约金的原因（WITHHOLDING 已签代扣协议、LOW_INCOME 低保户）；不免收为 null"
    )
    pay_status: Literal["UNPAID", "PARTIAL", "PAID"] = Field(description="缴费状态：UNPAID、PARTIAL、PAID")
    invoice_status: str = Field(description="开票状态 (biz_charge.invoice_status)")
    due_date: DateStr = Field(description="缴费截止日期")
    live_order: str | None = Field(
        description="持有该账单的进行中线上/扫码订单号 (bizOrderNo)；非空时柜台不能收取该账单（1_002_003_001）"
    )


ChargePage = Page[CounterChargeItem]


# ---- IF-REV-006 payment exception review (人工复核入口): the resolve request and the exception replies

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
    refund_status: Literal["PENDING", "PROCESSING", "SUCCESS", "FAIL"] | None = Field(
        description="退款状态：PENDING 待退款（退款单已登记，由补偿任务经 SYS-009 原路退回）、PROCESSING SYS-009 处理中、"
        "SUCCESS 已退回、FAIL 退款失败（原在余额中的款项退回余额）"
    )
    refund_amount: ExactAmount | None = Field(description="退款金额（按平台报告的原值）")
    result: dict[str, Any] | None = Field(description="处理结果（核销、退款、余额变动）")


ExceptionPage = Page[PaymentException]


class ResolvedException(PaymentException):
    replay: bool = Field(description="true 表示同一决定的重复提交，返回首次处理结果")
