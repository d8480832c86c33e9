"""IF-REV-007 账务调整接口 edge models: the seed's request (chargeId, adjustType, adjustAmount, adjustUsage,
sourceTradeNo, reasonCode, remark, attachmentList, operatorId) and response (adjustmentNo, chargeId,
resultStatus, writeBackStatus, approvalRequired, msg), with our additions marked 扩展."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.accounting import commands
from waterrev.fields import DateTime, Decimal4, Id, Model, Money, Page, Reply

AdjustType = Literal["USAGE", "AMOUNT", "REFUND", "REVERSE", "BAD_DEBT"]
ADJUSTMENT_NO = r"^(AJ|JM)\d{16}$"
SignedAmount = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2, ge=Decimal("-999999999999.99"), le=Decimal("999999999999.99")),
]
SignedUsage = Annotated[
    Decimal, Field(max_digits=12, decimal_places=2, ge=Decimal("-9999999999.99"), le=Decimal("9999999999.99"))
]


class AdjustCreate(Model):
    """IF-REV-007 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "chargeId": 101,
                    "adjustType": "AMOUNT",
                    "adjustAmount": "-12.50",
                    "reasonCode": "METER_ERROR",
                    "remark": "表计故障，核减部分水费",
                    "attachmentList": ["file-001"],
                    "operatorId": 1,
                },
                {
                    "chargeId": 101,
                    "adjustType": "USAGE",
                    "adjustUsage": "-3.00",
                    "reasonCode": "READ_ERROR",
                    "operatorId": 1,
                },
                {
                    "chargeId": 101,
                    "adjustType": "REVERSE",
                    "sourceTradeNo": "SF2026120100000001",
                    "reasonCode": "WRONG_CUSTOMER",
                    "operatorId": 1,
                },
                {
                    "chargeId": 101,
                    "adjustType": "REFUND",
                    "adjustAmount": "50.00",
                    "sourceTradeNo": "4200001234202612010000001",
                    "reasonCode": "OVERPAID",
                    "operatorId": 1,
                    "requestNo": "REQ-20261201-001",
                },
                {"chargeId": 101, "adjustType": "BAD_DEBT", "reasonCode": "UNCOLLECTABLE", "operatorId": 1},
            ]
        }
    )

    charge_id: Id = Field(description="目标账单 ID (biz_charge.id)：须在本人数据范围内")
    adjust_type: AdjustType = Field(description="调整类型：USAGE、AMOUNT、REFUND、REVERSE、BAD_DEBT")
    adjust_amount: SignedAmount | None = Field(
        default=None,
        description="调整金额：AMOUNT 必填（正数补收、负数核减，不为 0）；REFUND 必填（大于 0，从余额退回）；"
        "BAD_DEBT 可选（须等于尚欠本金）；USAGE、REVERSE 不填",
    )
    adjust_usage: SignedUsage | None = Field(
        default=None, description="调整水量：USAGE 必填，立方米，正数补计、负数核减（不为 0）；其他类型不填"
    )
    source_trade_no: str | None = Field(
        default=None,
        min_length=1,
        max_length=96,
        description="原交易流水号（bk_transaction.trade_no，或收费编号/订单号）：REFUND、REVERSE 必填，其他类型不得填写",
    )
    reason_code: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]{0,31}$",
        description="调整原因编码（大写字母、数字、下划线，如 METER_ERROR）",
    )
    remark: str | None = Field(default=None, min_length=1, max_length=255, description="调整说明（脱敏保存）")
    attachment_list: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=20, description="依据附件（附件标识）"
    )
    operator_id: Id = Field(description="操作人 ID：须为当前登录用户（申请人）")
    request_no: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,40}$",
        description="扩展：幂等键（同一操作人同一 requestNo 只处理一次）；不填时以请求内容与营业日为键",
    )

    @model_validator(mode="after")
    def _by_type(self) -> Self:
        kind, amount, usage, trade = (
            self.adjust_type,
            self.adjust_amount,
            self.adjust_usage,
            self.source_trade_no,
        )
        if kind in ("REFUND", "REVERSE") and trade is None:
            raise ValueError(f"sourceTradeNo: {kind} 必须提供原交易流水号")
        if kind not in ("REFUND", "REVERSE") and trade is not None:
            raise ValueError(f"sourceTradeNo: 仅用于 REFUND、REVERSE（不得以支付流水替代 {kind} 的业务依据）")
        if kind == "USAGE":
            if usage is None or usage == 0:
                raise ValueError("adjustUsage: USAGE 须填写不为 0 的调整水量")
        elif usage is not None:
            raise ValueError(f"adjustUsage: 仅用于 USAGE（当前 {kind}）")
        if kind == "AMOUNT" and (amount is None or amount == 0):
            raise ValueError("adjustAmount: AMOUNT 须填写不为 0 的调整金额")
        if kind == "REFUND" and (amount is None or amount <= 0):
            raise ValueError("adjustAmount: REFUND 须填写大于 0 的退款金额")
        if kind == "BAD_DEBT" and amount is not None and amount <= 0:
            raise ValueError("adjustAmount: BAD_DEBT 的金额须大于 0")
        if kind in ("USAGE", "REVERSE") and amount is not None:
            raise ValueError(f"adjustAmount: {kind} 不填写调整金额（由系统计算）")
        return self

    def command(self) -> commands.RequestAdjustment:
        return commands.RequestAdjustment(
            charge_id=self.charge_id,
            adjust_type=self.adjust_type,
            adjust_amount=self.adjust_amount,
            adjust_usage=self.adjust_usage,
            source_trade_no=self.source_trade_no,
            reason_code=self.reason_code,
            remark=self.remark,
            attachments=tuple(self.attachment_list),
            operator_id=self.operator_id,
            request_no=self.request_no,
        )


class AdjustApprove(Model):
    """审批通过：由申请人以外、具有审批权限的人执行；通过时重新校验并执行调整。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"adjustmentNo": "AJ2026120100000001", "remark": "同意"}]}
    )

    adjustment_no: str = Field(
        pattern=ADJUSTMENT_NO, description="调整业务编号（AJ…；JM… 为违约金减免申请，同一审批机制）"
    )
    remark: str | None = Field(default=None, min_length=1, max_length=200, description="审批意见")

    def command(self) -> commands.DecideAdjustment:
        return commands.DecideAdjustment(adjustment_no=self.adjustment_no, remark=self.remark)


class AdjustReject(Model):
    """驳回：调整结束，账务不变。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"adjustmentNo": "AJ2026120100000001", "remark": "依据不足"}]}
    )

    adjustment_no: str = Field(pattern=ADJUSTMENT_NO, description="调整业务编号")
    remark: str = Field(min_length=1, max_length=200, description="驳回原因（必填）")

    def command(self) -> commands.DecideAdjustment:
        return commands.DecideAdjustment(adjustment_no=self.adjustment_no, remark=self.remark)


class AdjustItem(Reply):
    """One adjustment: IF-REV-007 响应参数 and what it is (扩展)."""

    adjustment_no: str = Field(description="调整业务编号")
    charge_id: int = Field(description="目标账单 ID")
    result_status: Literal["SUCCESS", "PENDING_APPROVAL", "FAIL"] = Field(
        description="处理状态：SUCCESS 已执行、PENDING_APPROVAL 待审批、FAIL 已驳回或审批时已不能执行"
    )
    write_back_status: Literal["PENDING", "SUCCESS", "NONE"] = Field(
        description="账单回写状态：PENDING 待审批未回写、SUCCESS 账单已回写（冲正、坏账、调整账单）、NONE 未回写（驳回、失败、退款不改账单）"
    )
    approval_required: bool = Field(description="是否进入审批")
    msg: str = Field(description="处理说明")
    adjust_type: Literal["USAGE", "AMOUNT", "REFUND", "REVERSE", "BAD_DEBT", "PENALTY_WAIVER"] = Field(
        description="扩展：调整类型（PENALTY_WAIVER：违约金减免申请，同一审批机制）"
    )
    adjust_status: Literal["PENDING_APPROVAL", "SUCCESS", "REJECTED", "FAIL"] = Field(
        description="扩展：调整状态（REJECTED 驳回、FAIL 审批时已不能执行）"
    )
    cust_id: int = Field(description="扩展：客户 ID")
    adjust_amount: Money | None = Field(description="扩展：申请的调整金额")
    adjust_usage: Decimal4 | None = Field(description="扩展：申请的调整水量（立方米）")
    source_trade_no: str | None = Field(description="扩展：原交易流水号")
    effect_amount: Money = Field(description="扩展：调整涉及的金额（与审批阈值比较）")
    new_charge_id: int | None = Field(description="扩展：生成的调整账单 ID（USAGE、AMOUNT）")
    refund_no: str | None = Field(description="扩展：退款单号（REFUND、REVERSE 退回付款方时）")
    refund_status: Literal["PENDING", "PROCESSING", "SUCCESS", "FAIL"] | None = Field(
        description="扩展：退款状态"
    )
    refund_method: Literal["SYS009", "COUNTER"] | None = Field(
        description="扩展：退款方式：SYS009 原路退回、COUNTER 柜台付现"
    )
    reason_code: str = Field(description="扩展：调整原因编码")
    remark: str | None = Field(description="扩展：调整说明（已脱敏）")
    attachment_list: list[str] = Field(description="扩展：依据附件")
    requested_by: int = Field(description="扩展：申请人用户 ID")
    requested_by_name: str | None = Field(description="扩展：申请人用户名")
    request_time: DateTime = Field(description="扩展：申请时间")
    decided_by: int | None = Field(description="扩展：审批人用户 ID（不得为申请人）")
    decided_by_name: str | None = Field(description="扩展：审批人用户名")
    decision_remark: str | None = Field(description="扩展：审批意见（已脱敏）")
    decided_time: DateTime | None = Field(description="扩展：审批时间")
    fail_reason: str | None = Field(description="扩展：审批时不能执行的原因")


class AdjustReply(AdjustItem):
    replay: bool = Field(description="扩展：true 表示重复提交，返回已有的调整或已作出的决定")


AdjustPage = Page[AdjustItem]
