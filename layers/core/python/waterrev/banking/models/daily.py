"""扩展：每日三方对账（各渠道：我方收款、渠道对账单、银行入账）的请求与应答模型（docs/BANK.md）."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateStr, DateTime, Id, Model, Money, Reply

Channel = Literal["COUNTER", "ONLINE", "COUNTER_QR", "BANK_REALTIME", "WITHHOLDING"]


class DailyRunRequest(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"bizDate": "2026-12-04"}]})

    biz_date: DateStr = Field(description="营业日（北京时间，须已结束）")


class DailyResolveRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"diffId": 1, "reason": "渠道次日补记，已与渠道确认"}]}
    )

    diff_id: Id = Field(description="差异 ID")
    reason: str = Field(min_length=1, max_length=200, description="处置理由（必填）")


class DailyRunItem(Reply):
    biz_date: DateStr = Field(description="营业日")
    recon_status: Literal["BALANCED", "DIFFERENT", "INCOMPLETE"] = Field(
        description="BALANCED 平；DIFFERENT 有未处置差异；INCOMPLETE 有文件未送达或无法解析"
    )
    our_count: int = Field(description="我方收款笔数")
    our_amount: Money = Field(description="我方收款金额")
    channel_count: int = Field(description="渠道对账单笔数（可读的对账单）")
    channel_amount: Money = Field(description="渠道对账单金额")
    credited_amount: Money = Field(description="银行入账金额")
    open_diff_count: int = Field(description="未处置差异数")
    file_error_count: int = Field(description="缺失或无法解析的文件数")
    run_count: int = Field(description="该营业日已对账次数")
    last_run_time: DateTime = Field(description="最近一次对账时间")


class DailyChannel(Reply):
    channel: Channel = Field(description="渠道")
    open_diff_count: int = Field(description="未处置差异数")
    statement_status: Literal["OK", "MISSING", "INVALID", "NONE"] = Field(
        description="对账单状态（NONE：柜台无外部对账单，只与银行入账两方核对）"
    )


class DailyFile(Reply):
    channel: str = Field(description="渠道（银行入账文件为 BANK）")
    file_kind: Literal["STATEMENT", "CREDIT"] = Field(description="对账单 / 银行入账文件")
    file_name: str = Field(description="文件名")
    file_status: Literal["OK", "MISSING", "INVALID"] = Field(
        description="OK；MISSING 未送达；INVALID 无法解析"
    )
    error: str | None = Field(description="原因（MISSING / INVALID）")
    line_count: int = Field(description="明细行数")


class DailyDiff(Reply):
    diff_id: int = Field(description="差异 ID")
    channel: Channel = Field(description="渠道")
    diff_type: Literal["OURS_ONLY", "CHANNEL_ONLY", "AMOUNT_DIFFERS", "CREDIT_DIFFERS", "CROSS_DAY"] = Field(
        description="仅我方有、仅渠道有、金额不符、银行入账与渠道结算不符；CROSS_DAY（扩展）跨日时间差："
        "对方在前一日或后一日有同一笔同金额交易，仅供参考"
    )
    match_key: str = Field(description="交易键：我方订单号 / 收费单号，或银行流水号；入账差异为渠道")
    our_amount: Money | None = Field(description="我方金额")
    channel_amount: Money | None = Field(description="渠道金额（入账差异：渠道结算合计）")
    credited_amount: Money | None = Field(description="银行入账金额（入账差异）")
    status: Literal["OPEN", "RESOLVED", "INFO"] = Field(
        description="处置状态：OPEN 待处置；RESOLVED 已处置（之后对账金额变化则重新 OPEN）；INFO 跨日时间差，仅供参考"
    )
    reason: str | None = Field(description="处置理由（INFO：对方所在日期）")
    resolved_time: DateTime | None = Field(description="处置时间")


class DailyReport(DailyRunItem):
    channels: list[DailyChannel] = Field(description="各渠道")
    files: list[DailyFile] = Field(description="各文件（缺失、无法解析的为待人工处理的异常）")
    diff_list: list[DailyDiff] = Field(description="差异（不含后续对账已消失的）")
