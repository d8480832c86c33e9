"""IF-REV-006 / IF-CS-003 / IF-CS-007 request models (seed field names)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from waterrev.fields import Amount, Model, Money, Reply

Channel = Literal["CASH", "WECHAT", "ALIPAY", "BANK", "PREPAY"]


class CollectionCreate(Model):
    cust_id: int = Field(gt=0)
    charge_ids: list[int] = Field(min_length=1, max_length=200)
    payment_channel: Channel
    payment_amount: Amount
    actual_amount: Amount | None = None
    trade_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{4,64}$")
    outlet_code: str | None = Field(default=None, max_length=32)
    remark: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.payment_amount <= 0:
            raise ValueError("paymentAmount 须大于 0")
        if len(set(self.charge_ids)) != len(self.charge_ids):
            raise ValueError("chargeIds 中有重复账单")
        if (
            self.payment_channel == "CASH"
            and self.actual_amount is not None
            and self.actual_amount < self.payment_amount
        ):
            raise ValueError("actualAmount 不得小于 paymentAmount")
        if self.payment_channel != "CASH" and self.actual_amount is not None:
            raise ValueError("actualAmount 仅用于现金收费")
        return self


class OrderCreate(Model):
    cust_id: int = Field(gt=0)
    charge_ids: list[int] = Field(min_length=1, max_length=200)
    payment_channel: Literal["WECHAT", "ALIPAY"]
    payment_amount: Amount
    open_id: str | None = Field(default=None, max_length=64)
    return_url: str | None = Field(default=None, max_length=512)
    notify_url: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.charge_ids)) != len(self.charge_ids):
            raise ValueError("chargeIds 中有重复账单")
        if self.payment_amount <= Decimal("0"):
            raise ValueError("paymentAmount 须大于 0")
        return self


class CounterScanPayCreate(Model):
    """IF-CS-007 请求参数: the customer is the bills' owner; the operator must be the caller."""

    counter_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    charge_ids: list[int] = Field(min_length=1, max_length=200)
    payment_channel: Literal["WECHAT", "ALIPAY"]
    order_amount: Amount
    operator_id: int = Field(gt=0)
    scene: Literal["COUNTER_SCAN_PAY"] = "COUNTER_SCAN_PAY"

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.charge_ids)) != len(self.charge_ids):
            raise ValueError("chargeIds 中有重复账单")
        if self.order_amount <= Decimal("0"):
            raise ValueError("orderAmount 须大于 0")
        return self


# ---- replies -------------------------------------------------------------------------------------


class ChargeWriteOff(Reply):
    charge_id: int = Field(description="账单 ID (biz_charge.id)")
    amount: Money = Field(description="本次核销到该账单的金额")
    remain_amount: Money = Field(description="该账单仍待支付的金额")
    pay_status: str = Field(description="该账单的缴费状态：UNPAID、PARTIAL、PAID")


class CollectionReply(Reply):
    """IF-REV-006 响应参数 (collectionId ... invoiceAvailable) and our additions."""

    collection_id: int = Field(description="收费记录 ID (biz_collection.id)")
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    write_off_status: Literal["SUCCESS", "PARTIAL", "PENDING"] = Field(description="核销状态")
    paid_amount: Money = Field(description="已支付金额")
    remain_amount: Money = Field(description="剩余待支付金额（所选账单合计）")
    trade_no: str | None = Field(description="渠道交易流水号 (bk_transaction.trade_no)")
    invoice_available: bool = Field(description="是否可发起开票")
    written_off_amount: Money = Field(description="扩展：本次核销到账单的金额合计")
    balance_added: Money = Field(description="扩展：转入预存余额的金额")
    change_amount: Money = Field(description="扩展：现金找零 (actualAmount - paymentAmount)")
    charge_list: list[ChargeWriteOff] = Field(description="扩展：每张所选账单的核销结果")
    replay: bool = Field(description="扩展：true 表示同一 tradeNo 的重复请求，返回首次结果")
