"""IF-CS-003 edge models: the online order and its status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import Amount, DateTime, Id, Model, Money, Reply
from waterrev.payments import commands
from waterrev.payments.models import (
    OnlineChannel,
    OrderStatus,
    _distinct,
)


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
        description="支付金额 (bk_transaction.trade_amount)：须等于所选账单应缴合计（未缴本金 + 截至今日的违约金，"
        "见 IF-CS-002 ARREARS 的 dueAmount）；订单金额在下单时确定，次日支付成功也按下单时的金额核销"
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
