"""IF-REV-006 / IF-CS-003 / IF-CS-007 edge models: requests and replies with the seed's field names.

Requests build the use cases' commands (`command()`); no use case imports this module."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import Amount, DateStr, DateTime, Decimal4, Id, Model, Money, Page, Reply
from waterrev.payments import commands

Channel = Literal["CASH", "WECHAT", "ALIPAY", "BANK", "PREPAY"]
OnlineChannel = Literal["WECHAT", "ALIPAY"]
OrderStatus = Literal["INIT", "PAYING", "SUCCESS", "FAIL"]
WriteOffStatus = Literal["SUCCESS", "PARTIAL", "PENDING"]
PayStatus = Literal["UNPAID", "PARTIAL", "PAID", "CANCELLED"]
ORDER_NO = r"^[A-Z]{2}\d{16}$"


def _distinct(charge_ids: list[int]) -> None:
    if len(set(charge_ids)) != len(charge_ids):
        raise ValueError("chargeIds 中有重复账单")


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
    payment_amount: Amount = Field(description="本次支付金额 (biz_collection.amount)")
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
    amount: Money = Field(description="本次核销到该账单的金额")
    remain_amount: Money = Field(description="该账单仍待支付的金额")
    pay_status: PayStatus = Field(description="该账单的缴费状态：UNPAID、PARTIAL、PAID（CANCELLED：已作废）")


class CollectionReply(Reply):
    """IF-REV-006 响应参数 (collectionId ... invoiceAvailable) and our additions."""

    collection_id: int = Field(description="收费记录 ID (biz_collection.id)")
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    write_off_status: WriteOffStatus = Field(description="核销状态：SUCCESS、PARTIAL、PENDING")
    paid_amount: Money = Field(description="已支付金额")
    remain_amount: Money = Field(description="剩余待支付金额（所选账单合计）")
    trade_no: str | None = Field(description="渠道交易流水号 (bk_transaction.trade_no)")
    invoice_available: bool = Field(description="是否可发起开票")
    written_off_amount: Money = Field(description="扩展：本次核销到账单的金额合计")
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
    unpaid_amount: Money = Field(description="当前应缴金额（账单金额 - 已缴金额）")
    pay_status: Literal["UNPAID", "PARTIAL", "PAID"] = Field(description="缴费状态：UNPAID、PARTIAL、PAID")
    invoice_status: str = Field(description="开票状态 (biz_charge.invoice_status)")
    due_date: DateStr = Field(description="缴费截止日期")
    live_order: str | None = Field(
        description="持有该账单的进行中线上/扫码订单号 (bizOrderNo)；非空时柜台不能收取该账单（1_002_003_001）"
    )


ChargePage = Page[CounterChargeItem]


# ---- IF-CS-003 在线支付下单 ---------------------------------------------------------------------
class OrderCreate(Model):
    """IF-CS-003 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "chargeIds": [101, 102],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": "58.65",
                    "openId": "o-6Yv5jt4kQpZzq0qQ1",
                    "returnUrl": "https://wx.example.com/pay/done",
                }
            ]
        }
    )

    cust_id: Id = Field(description="客户 ID：须为当前渠道用户已绑定的客户")
    charge_ids: list[Id] = Field(
        min_length=1, max_length=200, description="待支付账单 ID 列表 (biz_charge.id)"
    )
    payment_channel: OnlineChannel = Field(description="支付渠道：WECHAT、ALIPAY")
    payment_amount: Amount = Field(
        description="支付金额 (bk_transaction.trade_amount)：须等于所选账单应缴合计"
    )
    open_id: str | None = Field(
        default=None, max_length=64, description="微信渠道用户标识（传给 SYS-009 buyer.openId）"
    )
    return_url: str | None = Field(
        default=None,
        max_length=512,
        description="前端完成跳转地址（扩展说明：SYS-009 下单不接收，当前不使用）",
    )
    notify_url: str | None = Field(
        default=None,
        max_length=512,
        description="支付结果通知地址（扩展说明：不采用调用方地址，SYS-009 一律回调本系统配置的 IF-EXT-005 地址）",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _distinct(self.charge_ids)
        if self.payment_amount <= Decimal("0"):
            raise ValueError("paymentAmount 须大于 0")
        return self

    def command(self) -> commands.CreateOnlineOrder:
        return commands.CreateOnlineOrder(
            cust_id=self.cust_id,
            charge_ids=tuple(self.charge_ids),
            payment_channel=self.payment_channel,
            payment_amount=self.payment_amount,
            open_id=self.open_id,
        )


class OrderReply(Reply):
    """IF-CS-003 响应参数 (bizOrderNo ... expireTime) and our additions."""

    biz_order_no: str = Field(description="SYS-002 业务订单号（SYS-009 businessOrderNo）")
    trade_no: str | None = Field(
        description="渠道交易流水号 (bk_transaction.trade_no)；支付平台受理前为 null"
    )
    order_status: OrderStatus = Field(
        description="订单状态：INIT、PAYING、SUCCESS、FAIL（已关闭、已超时的订单为 FAIL）"
    )
    pay_url: str | None = Field(description="支付链接或二维码地址（SYS-009 payUrl）")
    prepay_info: dict[str, Any] | None = Field(description="预支付参数对象（SYS-009 payParams）")
    expire_time: DateTime = Field(description="订单失效时间")
    payment_amount: Money = Field(description="扩展：订单金额（请求的 paymentAmount，SYS-009 tradeAmount）")
    payment_channel: OnlineChannel = Field(description="扩展：支付渠道")
    reused: bool = Field(
        description="扩展：true 表示相同请求（客户、账单、渠道）已有进行中的订单，返回该订单"
    )
    msg: str | None = Field(description="扩展：处理说明；支付平台暂未受理时说明将自动查询补偿，否则为 null")


# ---- IF-CS-007 柜面扫码支付 ---------------------------------------------------------------------
class CounterScanPayCreate(Model):
    """IF-CS-007 请求参数: the customer is the bills' owner; the operator must be the caller."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "counterCode": "GL-01",
                    "chargeIds": [101, 102],
                    "paymentChannel": "WECHAT",
                    "orderAmount": "58.65",
                    "operatorId": 1,
                    "scene": "COUNTER_SCAN_PAY",
                }
            ]
        }
    )

    counter_code: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$", description="柜台编号（柜面终端）"
    )
    charge_ids: list[Id] = Field(
        min_length=1, max_length=200, description="待支付账单 ID 列表：须属于同一客户，且在操作员的数据范围内"
    )
    payment_channel: OnlineChannel = Field(description="支付渠道：WECHAT、ALIPAY")
    order_amount: Amount = Field(description="订单金额 (bk_transaction.trade_amount)：须等于所选账单应缴合计")
    operator_id: Id = Field(description="柜台操作员 ID：须为当前登录用户")
    scene: Literal["COUNTER_SCAN_PAY"] = Field(
        default="COUNTER_SCAN_PAY", description="场景标识，默认 COUNTER_SCAN_PAY"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _distinct(self.charge_ids)
        if self.order_amount <= Decimal("0"):
            raise ValueError("orderAmount 须大于 0")
        return self

    def command(self) -> commands.CreateCounterOrder:
        return commands.CreateCounterOrder(
            counter_code=self.counter_code,
            charge_ids=tuple(self.charge_ids),
            payment_channel=self.payment_channel,
            order_amount=self.order_amount,
            operator_id=self.operator_id,
            scene=self.scene,
        )


class RenewRequest(Model):
    """IF-CS-007 扩展：重新生成二维码（关闭原订单，为同一批账单在同一柜台重新下单）."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"bizOrderNo": "DD2026112200000042"}]})

    biz_order_no: str = Field(pattern=ORDER_NO, description="要重新生成二维码的柜面业务订单号")


class CounterOrderReply(Reply):
    """IF-CS-007 响应参数 (bizOrderNo ... msg) and our additions."""

    biz_order_no: str = Field(description="柜面业务订单号 (biz_collection.code)")
    trade_no: str | None = Field(
        description="渠道交易流水号 (bk_transaction.trade_no)；支付平台受理前为 null"
    )
    qr_code: str | None = Field(description="柜面展示二维码内容（SYS-009 返回的 code URL）")
    order_status: OrderStatus = Field(
        description="当前订单状态：INIT、PAYING、SUCCESS、FAIL（已关闭、已超时的订单为 FAIL）"
    )
    write_back_status: Literal["PENDING", "SUCCESS", "FAIL", "EXCEPTION"] = Field(
        description="营收状态回写结果：PENDING 待支付、SUCCESS 已核销、FAIL 未核销、EXCEPTION 待人工核查"
    )
    msg: str = Field(description="处理说明")
    pay_url: str | None = Field(description="扩展：同 qrCode（SYS-009 payUrl）")
    prepay_info: dict[str, Any] | None = Field(description="扩展：预支付参数对象（SYS-009 payParams）")
    expire_time: DateTime = Field(description="扩展：二维码（订单）失效时间")
    order_amount: Money = Field(description="扩展：订单金额（请求的 orderAmount）")
    payment_channel: OnlineChannel = Field(description="扩展：支付渠道")
    qr_image_path: str = Field(description="扩展：二维码 PNG 图片地址")
    reused: bool = Field(description="扩展：true 表示相同账单已有进行中的订单，沿用原二维码")


class ReceiptBill(Reply):
    charge_code: str = Field(description="账单编号")
    bill_period: str = Field(description="账期 (YYYY-MM)")
    usage_amount: Decimal4 = Field(description="用水量（立方米）")
    amount: Money = Field(description="本次核销金额")


class ReceiptReply(Reply):
    """IF-CS-007 扩展：收费凭证，订单支付成功后可出具。"""

    title: str = Field(description="凭证标题")
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    biz_order_no: str = Field(description="柜面业务订单号")
    trade_no: str | None = Field(description="渠道交易流水号")
    payment_channel: OnlineChannel = Field(description="支付渠道")
    cust_code: str = Field(description="客户编号")
    cust_name: str = Field(description="客户名称")
    address: str | None = Field(description="用水地址")
    paid_amount: Money = Field(description="实付金额")
    written_off_amount: Money = Field(description="核销到账单的金额")
    to_balance: Money = Field(description="转入预存余额的金额")
    pay_time: DateTime | None = Field(description="支付时间")
    bills: list[ReceiptBill] = Field(description="核销明细")


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


# ---- IF-EXT-003 bank real-time charging: requests (signed by the bank) and replies -------------------


class BankQuery(Model):
    """欠费查询."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"bankCode": "ICBC", "custCode": "KH0000000001"}]}
    )

    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$", description="银行编码")
    cust_code: str = Field(min_length=1, max_length=32, description="客户编号 (biz_cust.code)")


class BankPay(Model):
    """缴费：不指定账单时缴清全部欠费（最早账期起）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "bankCode": "ICBC",
                    "bankSerialNo": "ICBC20261122000123",
                    "custCode": "KH0000000001",
                    "chargeIds": [101, 102],
                    "amount": "58.65",
                }
            ]
        }
    )

    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$", description="银行编码")
    bank_serial_no: str = Field(
        pattern=r"^[A-Za-z0-9_\-]{6,64}$", description="银行流水号：幂等键，重复提交返回首次结果"
    )
    cust_code: str = Field(min_length=1, max_length=32, description="客户编号 (biz_cust.code)")
    charge_ids: list[Id] | None = Field(
        default=None, max_length=200, description="缴费账单 ID；不传则缴清全部欠费"
    )
    amount: Amount = Field(description="缴费金额：须等于所缴账单应缴合计")

    def command(self) -> commands.BankPay:
        return commands.BankPay(
            bank_code=self.bank_code,
            bank_serial_no=self.bank_serial_no,
            cust_code=self.cust_code,
            charge_ids=None if self.charge_ids is None else tuple(self.charge_ids),
            amount=self.amount,
        )


class ArrearsBill(Reply):
    charge_id: int = Field(description="账单 ID (biz_charge.id)")
    charge_code: str = Field(description="账单编号")
    bill_period: str = Field(description="账期 (YYYY-MM)")
    amount: Money = Field(description="应缴金额")
    due_date: DateStr = Field(description="缴费截止日期")


class ArrearsReply(Reply):
    cust_code: str = Field(description="客户编号")
    cust_name: str = Field(description="客户名称（脱敏：仅首字）")
    arrears_amount: Money = Field(description="可缴欠费合计（不含进行中线上订单持有的账单）")
    bill_list: list[ArrearsBill] = Field(description="可缴账单，最早账期在前")


class BankPayReply(Reply):
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    write_off_status: Literal["SUCCESS", "PARTIAL", "PENDING"] = Field(description="核销状态")
    paid_amount: Money = Field(description="已支付金额")
    bank_serial_no: str = Field(description="银行流水号")
    duplicate: bool = Field(description="true 表示同一流水号的重复请求，返回首次结果")


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
    refund_status: Literal["PENDING"] | None = Field(
        description="退款状态：PENDING 待退款（由 IF-REV-007 退回）"
    )
    refund_amount: ExactAmount | None = Field(description="退款金额（按平台报告的原值）")
    result: dict[str, Any] | None = Field(description="处理结果（核销、退款、余额变动）")


ExceptionPage = Page[PaymentException]


class ResolvedException(PaymentException):
    replay: bool = Field(description="true 表示同一决定的重复提交，返回首次处理结果")
