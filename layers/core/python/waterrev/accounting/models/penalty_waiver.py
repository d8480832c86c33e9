"""IF-REV-007 edge models for the penalty waiver (违约金减免): the request takes IF-REV-007's request fields
with adjustType PENALTY_WAIVER (扩展), the replies answer IF-REV-007's response fields and what the waiver
is (扩展)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.accounting import commands
from waterrev.fields import Amount, DateStr, DateTime, Id, Model, Money, Page, Reply

WaiverStatus = Literal["PENDING", "APPROVED", "REJECTED"]
WAIVER_NO = r"^JM\d{16}$"


class PenaltyWaiverCreate(Model):
    """IF-REV-007 请求参数（adjustType 为扩展值 PENALTY_WAIVER：减免账单的违约金）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "chargeId": 101,
                    "adjustType": "PENALTY_WAIVER",
                    "adjustAmount": "3.50",
                    "reasonCode": "HARDSHIP",
                    "remark": "客户家庭困难，减免部分违约金",
                    "attachmentList": ["file-001"],
                    "operatorId": 1,
                },
                {
                    "chargeId": 101,
                    "adjustType": "PENALTY_WAIVER",
                    "reasonCode": "SYSTEM_ERROR",
                    "operatorId": 1,
                },
            ]
        }
    )

    charge_id: Id = Field(
        description="目标账单 ID (biz_charge.id)：须在本人数据范围内，且截至今日仍有应缴违约金"
    )
    adjust_type: Literal["PENALTY_WAIVER"] = Field(
        description="调整类型：扩展值 PENALTY_WAIVER（违约金减免）；USAGE、AMOUNT、REFUND、REVERSE、BAD_DEBT 走 "
        "/admin-api/revenue/accounting/adjust（尚未建设）"
    )
    adjust_amount: Amount | None = Field(
        default=None,
        description="减免金额：不超过截至今日的应缴违约金；不传为全部减免（按审批当日的应缴违约金）",
    )
    reason_code: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]{0,31}$", description="调整原因编码（大写字母、数字、下划线，如 HARDSHIP）"
    )
    remark: str | None = Field(default=None, min_length=1, max_length=255, description="调整说明（脱敏保存）")
    attachment_list: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=20, description="依据附件（附件标识）"
    )
    operator_id: Id = Field(description="操作人 ID：须为当前登录用户（申请人）")

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if self.adjust_amount is not None and self.adjust_amount <= 0:
            raise ValueError("adjustAmount 须大于 0")
        return self

    def command(self) -> commands.RequestWaiver:
        return commands.RequestWaiver(
            charge_id=self.charge_id,
            amount=self.adjust_amount,
            reason_code=self.reason_code,
            remark=self.remark,
            attachments=tuple(self.attachment_list),
            operator_id=self.operator_id,
        )


class PenaltyWaiverApprove(Model):
    """审批通过：由申请人以外、具有审批权限的人执行后，减免才生效。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"adjustmentNo": "JM2026112200000001", "remark": "同意减免"}]}
    )

    adjustment_no: str = Field(pattern=WAIVER_NO, description="减免申请编号（申请时返回的 adjustmentNo）")
    remark: str | None = Field(default=None, min_length=1, max_length=200, description="审批意见")

    def command(self) -> commands.DecideWaiver:
        return commands.DecideWaiver(waiver_no=self.adjustment_no, remark=self.remark)


class PenaltyWaiverReject(Model):
    """驳回：申请结束，违约金不变。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"adjustmentNo": "JM2026112200000001", "remark": "依据不足"}]}
    )

    adjustment_no: str = Field(pattern=WAIVER_NO, description="减免申请编号")
    remark: str = Field(min_length=1, max_length=200, description="驳回原因（必填）")

    def command(self) -> commands.DecideWaiver:
        return commands.DecideWaiver(waiver_no=self.adjustment_no, remark=self.remark)


class PenaltyWaiverItem(Reply):
    """One waiver request: IF-REV-007 响应参数 (adjustmentNo ... msg) and what it is (扩展)."""

    adjustment_no: str = Field(description="调整业务编号（减免申请编号）")
    charge_id: int = Field(description="目标账单 ID")
    result_status: Literal["SUCCESS", "PENDING_APPROVAL", "FAIL"] = Field(
        description="处理状态：PENDING_APPROVAL 待审批、SUCCESS 已审批生效、FAIL 已驳回"
    )
    write_back_status: Literal["PENDING", "SUCCESS", "NONE"] = Field(
        description="账单回写状态：PENDING 待审批未生效、SUCCESS 已减免（账单应缴违约金相应减少）、NONE 驳回未回写"
    )
    approval_required: bool = Field(description="是否进入审批：违约金减免一律须第二人审批")
    msg: str = Field(description="处理说明")
    adjust_type: Literal["PENALTY_WAIVER"] = Field(description="扩展：调整类型")
    waiver_status: WaiverStatus = Field(description="扩展：申请状态 PENDING、APPROVED、REJECTED")
    cust_id: int = Field(description="扩展：客户 ID")
    charge_code: str = Field(description="扩展：账单编号")
    bill_period: str = Field(description="扩展：账期")
    pay_status: str = Field(description="扩展：账单当前缴费状态")
    adjust_amount: Money | None = Field(description="扩展：申请减免金额；null 为全部减免")
    penalty_owed: Money = Field(description="扩展：申请时的应缴违约金")
    waived_amount: Money | None = Field(description="扩展：审批减免的金额（审批通过后）")
    penalty_as_of: DateStr | None = Field(description="扩展：减免金额的计算截至日（审批当日）")
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


class PenaltyWaiverReply(PenaltyWaiverItem):
    replay: bool = Field(description="扩展：true 表示重复提交，返回已有的申请或已作出的决定")


PenaltyWaiverPage = Page[PenaltyWaiverItem]
