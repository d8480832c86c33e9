"""IF-REV-005 账单生成接口 edge models: requests (seed field names) and replies. The use cases take
billing.commands, never these. (billing/history.py, IF-CS-002, keeps its own models.)"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.billing.commands import PriceDiff
from waterrev.fields import BIGINT_MAX, BillPeriod, DateStr, DateTime, Decimal4, Model, Money, Reply

PositiveId = Annotated[int, Field(gt=0, le=BIGINT_MAX)]
RunStatus = Literal["RUNNING", "SUCCEEDED", "PARTIAL", "FAILED"]


class GenerateRequest(Model):
    """IF-REV-005 请求参数：按账期开账，可按抄表批次、客户集合或抄表任务集合缩小范围。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"billPeriod": "2026-03", "dueDate": "2026-04-15"},
                {
                    "billPeriod": "2026-03",
                    "readingBatchNo": "RB202603-01",
                    "customerIds": [1001, 1002],
                    "meterReadIds": [50001, 50002],
                    "dueDate": "2026-04-15",
                    "operatorId": 1,
                },
            ]
        }
    )

    bill_period: BillPeriod = Field(description="账期，如 2026-03")
    reading_batch_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]{1,40}$", description="抄表批次号（IF-REV-003 下发任务时所填）"
    )
    customer_ids: list[PositiveId] = Field(default_factory=list, max_length=10000, description="指定客户范围")
    meter_read_ids: list[PositiveId] = Field(
        default_factory=list, max_length=10000, description="指定抄表任务范围"
    )
    due_date: dt.date = Field(description="应收截止日期（不得早于账期首日）")
    operator_id: PositiveId | None = Field(
        default=None, description="发起操作人（须为当前登录用户；操作以登录用户记审计）"
    )


class BillRunRequest(Model):
    """扩展：整期开账（Step Functions 工作流），立即返回批次号，结果按批次号查询。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"billPeriod": "2026-03", "dueDate": "2026-04-15"}, {}]}
    )

    bill_period: BillPeriod | None = Field(default=None, description="账期；缺省为上一个自然月（北京时间）")
    due_date: dt.date | None = Field(default=None, description="应收截止日期；缺省为次月 15 日")


class PriceDiffRequest(Model):
    """扩展（价差调整）：某账期已出账单按价格编码的现行版本重新计价，差额另出 PRICE_DIFF 账单（关联原账单），
    从不修改已出账单。同一更正重复执行不再出账。字段沿用 IF-REV-005 与 IF-REV-012 的名称。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"billPeriod": "2026-03", "configCode": "RESIDENT", "dueDate": "2026-05-15"},
                {
                    "billPeriod": "2026-03",
                    "configCode": "NON_RESIDENT",
                    "customerIds": [1001],
                    "dueDate": "2026-05-15",
                    "operatorId": 1,
                    "remark": "物价局批复追溯调价",
                },
            ]
        }
    )

    bill_period: BillPeriod = Field(description="已出账的账期，如 2026-03")
    config_code: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{1,31}$",
        description="更正了价格的价格模板编码（IF-REV-012 configCode）",
    )
    customer_ids: list[PositiveId] = Field(default_factory=list, max_length=10000, description="指定客户范围")
    due_date: dt.date = Field(description="价差账单的应收截止日期（不得早于账期首日）")
    operator_id: PositiveId | None = Field(
        default=None, description="发起操作人（须为当前登录用户；操作以登录用户记审计）"
    )
    remark: str | None = Field(
        default=None, min_length=1, max_length=200, description="调整原因（记入操作日志）"
    )

    def command(self) -> PriceDiff:
        return PriceDiff(
            bill_period=self.bill_period,
            config_code=self.config_code,
            due_date=self.due_date,
            customer_ids=tuple(self.customer_ids),
            operator_id=self.operator_id,
            remark=self.remark,
        )


# ---- replies -------------------------------------------------------------------------------------
class ChargeSuccess(Reply):
    charge_id: int = Field(description="账单主键（biz_charge.id）")
    charge_code: str = Field(description="账单编号（biz_charge.code）")
    cust_id: int = Field(description="客户 ID")
    total_amount: Money = Field(description="账单总金额")


class ChargeFailure(Reply):
    reason: str = Field(description="失败原因")
    reading_id: int = Field(description="扩展：未开账的抄表数据 ID（仍为待开账，补齐配置后可再开账）")
    meter_read_id: int = Field(description="扩展：抄表任务 ID")
    cust_id: int = Field(description="扩展：客户 ID")
    error_code: int = Field(description="扩展：原因码（1_002_002_003 价格模板或费用组成缺失）")


class GenerateReply(Reply):
    """IF-REV-005 响应参数 (generateCount, successList, failureList) and our additions."""

    generate_count: int = Field(description="成功生成账单数量")
    success_list: list[ChargeSuccess] = Field(description="成功明细列表")
    failure_list: list[ChargeFailure] = Field(description="失败明细列表")
    total_amount: Money = Field(description="扩展：本次生成账单的总金额")
    reading_count: int = Field(description="扩展：本次处理的待开账抄表数据条数")
    failure_count: int = Field(description="扩展：失败条数")


class PriceDiffSuccess(Reply):
    charge_id: int = Field(description="价差账单主键（biz_charge.id，sourceType PRICE_DIFF）")
    charge_code: str = Field(description="价差账单编号（JC 开头）")
    cust_id: int = Field(description="客户 ID")
    total_amount: Money = Field(
        description="价差金额：正为补收（未缴，预存余额自动抵扣），负为退差（即时转入账户余额）"
    )
    source_charge_id: int = Field(description="扩展：被调整的原账单 ID（原账单不修改）")
    price_template_id: int = Field(description="扩展：计价所用的现行价格版本（biz_price_template.id）")
    line_count: int = Field(description="扩展：价差明细行数（每行关联原账单的一行）")


class PriceDiffFailure(Reply):
    reason: str = Field(description="失败原因")
    charge_id: int = Field(description="扩展：未能计算价差的原账单 ID")
    cust_id: int = Field(description="扩展：客户 ID")
    error_code: int = Field(description="扩展：原因码（1_002_002_003 价格模板或费用组成缺失）")


class PriceDiffReply(Reply):
    """The seed's IF-REV-005 reply fields (generateCount, successList, failureList) for the price-difference
    bills, and our additions."""

    generate_count: int = Field(description="生成的价差账单数量")
    success_list: list[PriceDiffSuccess] = Field(description="成功明细列表")
    failure_list: list[PriceDiffFailure] = Field(description="失败明细列表")
    total_amount: Money = Field(description="扩展：价差合计（补收为正、退差为负）")
    checked_count: int = Field(description="扩展：核对的原账单数量（含价差为零者）")
    failure_count: int = Field(description="扩展：失败条数")


class BillRunStarted(Reply):
    execution_arn: str = Field(description="扩展：工作流执行 ARN")
    run_no: str = Field(description="开账批次号，用于查询结果")
    bill_period: str = Field(description="账期")
    due_date: DateStr = Field(description="应收截止日期")
    status: Literal["RUNNING"] = Field(description="批次状态：已启动")


class FailedChunk(Reply):
    after_id: int | None = Field(description="失败分片的客户 ID 下界（不含）")
    upto_id: int | None = Field(description="失败分片的客户 ID 上界（含）")
    error: str = Field(description="重试后仍失败的原因")


class RunFailure(Reply):
    reading_id: int = Field(description="未开账的抄表数据 ID")
    cust_id: int | None = Field(description="客户 ID")
    error_code: int = Field(description="原因码")
    reason: str = Field(description="失败原因")


class BillRunSummary(Reply):
    run_no: str = Field(description="开账批次号")
    bill_period: str = Field(description="账期")
    reading_count: int = Field(description="批次开始时的待开账读数")
    success_count: int = Field(description="成功生成账单数量")
    failure_count: int = Field(description="失败读数条数")
    total_amount: Money = Field(description="账单总金额")
    unbilled_left: int = Field(description="本账期仍待开账的读数")
    failed_chunks: list[FailedChunk] = Field(description="重试后仍失败的分片（其读数仍待开账）")
    failures: list[RunFailure] = Field(description="失败明细（最多 200 条）")


class BillRunReply(Reply):
    run_id: int = Field(description="开账批次 ID（biz_bill_run.id）")
    run_no: str = Field(description="开账批次号")
    bill_period: str = Field(description="账期")
    due_date: DateStr = Field(description="应收截止日期")
    status: RunStatus = Field(description="批次状态：RUNNING、SUCCEEDED、PARTIAL、FAILED")
    reading_count: int = Field(description="批次开始时的待开账读数")
    success_count: int = Field(description="成功生成账单数量")
    failure_count: int = Field(description="失败读数条数")
    total_amount: Money = Field(description="账单总金额")
    summary: BillRunSummary | None = Field(description="结束时的汇总；运行中为 null")
    start_time: DateTime = Field(description="开始时间")
    end_time: DateTime | None = Field(description="结束时间；运行中为 null")


# ---- IF-CS-002 历史账单查询: the rows of each queryType (IF-CS-002 响应参数) --------------------------------

QueryType = Literal["BILL", "PAYMENT", "USAGE", "ARREARS", "INVOICE", "REMINDER"]  # REMINDER: 扩展
ChargeStatus = Literal["UNPAID", "PARTIAL", "PAID", "BAD_DEBT"]  # BAD_DEBT: 扩展 (IF-REV-007 坏账)


class BillLineItem(Reply):
    """A bill's line (biz_charge_detail) as IF-CS-002 shows it with its bill."""

    line_no: int = Field(description="明细行号")
    cost_component: str = Field(description="费用组成编码（如 WATER_FEE；固定费用如 METER_FEE）")
    tier_no: int = Field(description="阶梯级次（固定费用为 0）")
    usage_amount: Decimal4 = Field(description="数量（m³；固定费用为 1）")
    unit_price: Decimal4 = Field(description="单价（价差行为调整的单价差）")
    amount: Money = Field(description="金额")
    tax_rate: Decimal4 = Field(description="税率")
    line_kind: Literal["USAGE", "MINIMUM", "FIXED", "PRICE_DIFF"] = Field(
        description="USAGE 抄见水量、MINIMUM 最低计量水量补足、FIXED 固定费用、PRICE_DIFF 价差调整"
    )
    part_no: int = Field(description="一表多价的分项序号（不分项为 1）")
    price_code: str | None = Field(description="计价的价格编码（价格家族）")
    config_version: str | None = Field(description="计价的价格模板版本（IF-REV-012 configVersion）")
    price_template_id: int | None = Field(description="计价的价格模板版本 ID（biz_price_template.id）")
    segment_no: int = Field(description="调价分段序号（未分段为 1）")
    segment_from: DateStr | None = Field(description="分段首日（未分段为 null）")
    segment_to: DateStr | None = Field(description="分段截止日的次日（未分段为 null）")
    ref_line_no: int | None = Field(description="价差行所调整的原账单行号（其他为 null）")


class HistoryItem(Reply):
    """One row of the history. Every row has the seed's five fields (null where the queryType has no
    such value); the extensions of its queryType come with it, the others are left out.

    - BILL / ARREARS: one bill (biz_charge), newest period first; ARREARS only UNPAID and PARTIAL ones.
    - USAGE: one valid reading (biz_reading_data) with its bill, if billed; periods migrated without a
      reading show their bill's usage (readType HISTORY).
    - PAYMENT: one payment (biz_collection), newest first, with the bills it wrote off.
    - INVOICE: one invoice (biz_invoice), newest first.
    - REMINDER (扩展): one reminder task (biz_reminder_task, IF-REV-013), newest first, in the seed's 历史查询
      terms for 催缴: 账期、催缴方式、消息状态、执行人、执行时间、处置引用.
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
            "开票状态：BILL、ARREARS、USAGE 为账单的开票状态（NONE 未开票、PENDING 开票申请中、SUCCESS 已开票；"
            "作废或红冲成功后回到 NONE；USAGE 未开账为 null）；"
            "INVOICE 为发票状态 SUBMITTED、PENDING、SUCCESS、FAIL、REJECTED、INVALID、RED_INK；PAYMENT 为 null"
        )
    )
    # BILL / ARREARS
    charge_code: str | None = Field(default=None, description="扩展（BILL、ARREARS）：账单编号")
    total_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：账单金额")
    paid_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：已缴金额")
    unpaid_amount: Money | None = Field(default=None, description="扩展（BILL、ARREARS）：未缴金额")
    due_date: DateStr | None = Field(default=None, description="扩展（BILL、ARREARS）：缴费截止日")
    arrears_amount: Money | None = Field(
        default=None, description="扩展（ARREARS、REMINDER）：欠费金额（未缴本金，即水费）"
    )
    penalty_amount: Money | None = Field(
        default=None,
        description="扩展（ARREARS）：截至今日（北京时间，penaltyAsOf）的违约金；免收的客户为 0.00",
    )
    due_amount: Money | None = Field(
        default=None,
        description="扩展（ARREARS）：应缴合计 = 欠费金额 + 违约金；在线支付（IF-CS-003）的 paymentAmount 即所选账单的 dueAmount 之和",
    )
    penalty_as_of: DateStr | None = Field(default=None, description="扩展（ARREARS）：违约金计算截至日")
    penalty_exemption: Literal["WITHHOLDING", "LOW_INCOME"] | None = Field(
        default=None,
        description="扩展（ARREARS）：客户按参数免收违约金的原因（WITHHOLDING 已签代扣协议、LOW_INCOME 低保户）；不免收为 null",
    )
    source_type: Literal["READING", "PRICE_DIFF"] | None = Field(
        default=None,
        description="扩展（BILL、ARREARS）：来源类型 READING（抄表开账）、PRICE_DIFF（价差调整）",
    )
    source_charge_id: int | None = Field(
        default=None, description="扩展（BILL、ARREARS）：价差账单所调整的原账单 ID"
    )
    line_list: list[BillLineItem] | None = Field(
        default=None, description="扩展（BILL、ARREARS）：账单明细（分项、调价分段、版本与明细类型）"
    )
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
    charge_ids: list[int] | None = Field(
        default=None, description="扩展（PAYMENT）：本次缴费核销的账单 ID；（REMINDER）：催缴的欠费账单 ID"
    )
    # REMINDER (扩展): the seed's 历史查询 rows for 催缴、停复水
    task_no: str | None = Field(default=None, description="扩展（REMINDER）：催缴任务号")
    event_no: str | None = Field(default=None, description="扩展（REMINDER）：业务事件号")
    strategy_code: str | None = Field(default=None, description="扩展（REMINDER）：催缴策略")
    reminder_channel: str | None = Field(
        default=None, description="扩展（REMINDER）：催缴方式（实际触达渠道，未有结果时为选定渠道）"
    )
    message_status: str | None = Field(
        default=None, description="扩展（REMINDER）：消息状态 PENDING、SUCCESS、FAIL、MANUAL_VERIFIED"
    )
    executor: str | None = Field(default=None, description="扩展（REMINDER）：执行人（自动生成为 SYSTEM）")
    execute_time: DateTime | None = Field(
        default=None, description="扩展（REMINDER）：执行时间（任务生成时间）"
    )
    result_time: DateTime | None = Field(default=None, description="扩展（REMINDER）：结果时间")
    related_disposal_ref: str | None = Field(
        default=None, description="扩展（REMINDER）：关联停复水或工单引用"
    )
    # INVOICE
    invoice_id: int | None = Field(default=None, description="扩展（INVOICE）：发票记录 ID")
    application_no: str | None = Field(default=None, description="扩展（INVOICE）：开票申请单号")
    invoice_type: str | None = Field(default=None, description="扩展（INVOICE）：发票类型")
    invoice_code: str | None = Field(default=None, description="扩展（INVOICE）：发票代码")
    invoice_number: str | None = Field(default=None, description="扩展（INVOICE）：发票号码")
    file_url: str | None = Field(
        default=None,
        description="扩展（INVOICE）：已开具发票的限时下载链接（不暴露发票平台地址；文件未就绪为 null）",
    )
    create_time: DateTime | None = Field(default=None, description="扩展（INVOICE）：申请时间")
    # PAYMENT / INVOICE
    amount: Money | None = Field(default=None, description="扩展（PAYMENT、INVOICE）：实收金额 / 开票金额")
