"""IF-CS-007 edge models: the counter QR order, its renewal, status and receipt."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import Amount, DateTime, Decimal4, Id, Model, Money, Reply
from waterrev.payments import commands
from waterrev.payments.models import (
    ORDER_NO,
    OnlineChannel,
    OrderStatus,
    _distinct,
)


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
    order_amount: Amount = Field(
        description="订单金额 (bk_transaction.trade_amount)：须等于所选账单应缴合计（未缴本金 + 截至今日的违约金，"
        "见柜台待缴账单查询的 dueAmount）；订单金额在下单时确定，次日支付成功也按下单时的金额核销"
    )
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
    amount: Money = Field(description="本次核销的水费（本金）")
    penalty_amount: Money = Field(description="扩展：本次缴纳的违约金（单独入账，不计入水费）")


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
    written_off_amount: Money = Field(description="核销到账单的金额（水费 + 违约金）")
    penalty_amount: Money = Field(description="扩展：其中违约金")
    to_balance: Money = Field(description="转入预存余额的金额")
    pay_time: DateTime | None = Field(description="支付时间")
    bills: list[ReceiptBill] = Field(description="核销明细")
