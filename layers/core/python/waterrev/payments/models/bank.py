"""IF-EXT-003 edge models: bank real-time charging, requests signed by the bank and replies."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Amount, DateStr, Id, Model, Money, Reply
from waterrev.payments import commands

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
    amount: Amount = Field(description="缴费金额：须等于所缴账单应缴合计（本金 + 截至今日的违约金）")

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
    amount: Money = Field(description="应缴金额：未缴本金（水费）+ 截至今日的违约金；银行按此金额缴费")
    principal_amount: Money = Field(description="扩展：未缴本金（水费）")
    penalty_amount: Money = Field(description="扩展：截至今日（北京时间）的违约金")
    due_date: DateStr = Field(description="缴费截止日期")


class ArrearsReply(Reply):
    cust_code: str = Field(description="客户编号")
    cust_name: str = Field(description="客户名称（脱敏：仅首字）")
    arrears_amount: Money = Field(
        description="可缴合计：各账单应缴金额之和（本金 + 违约金；不含进行中线上订单持有的账单），即缴费时的 amount"
    )
    principal_amount: Money = Field(description="扩展：其中未缴本金（水费）")
    penalty_amount: Money = Field(description="扩展：其中违约金（截至 penaltyAsOf）")
    penalty_as_of: DateStr = Field(description="扩展：违约金计算截至日（北京时间今日）；次日应缴金额可能变化")
    penalty_exemption: Literal["WITHHOLDING", "LOW_INCOME"] | None = Field(
        description="扩展：客户按参数免收违约金的原因（WITHHOLDING 已签代扣协议、LOW_INCOME 低保户），不免收为 null"
    )
    bill_list: list[ArrearsBill] = Field(description="可缴账单，最早账期在前")


class BankPayReply(Reply):
    collection_code: str = Field(description="收费业务编号 (biz_collection.code)")
    write_off_status: Literal["SUCCESS", "PARTIAL", "PENDING"] = Field(description="核销状态")
    paid_amount: Money = Field(description="已支付金额")
    bank_serial_no: str = Field(description="银行流水号")
    duplicate: bool = Field(description="true 表示同一流水号的重复请求，返回首次结果")
