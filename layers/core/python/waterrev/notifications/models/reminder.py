"""IF-REV-013 催缴任务生成与结果承接接口 edge models: the seed's request and response fields (请求参数 /
响应参数), our additions marked 扩展, and SYS-010's result callback (IF-EXT-008 回传执行结果)."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from waterrev.fields import Amount, BillPeriod, DateStr, DateTime, Id, Model, Money, Page, Reply
from waterrev.notifications import commands
from waterrev.notifications.models import (
    EVENT_NO,
    TASK_NO,
    ChannelType,
    FourStates,
    StrategyCode,
    TriggerType,
)

DisposalRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_\-/]+$")]


# ---- requests ------------------------------------------------------------------------------------
class TaskCreate(Model):
    """IF-REV-013 请求参数（生成任务）: one customer's overdue bills, one strategy, the preferred channel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "chargeIds": [101],
                    "billPeriod": "2026-10",
                    "arrearsAmount": "58.65",
                    "strategyCode": "FIRST_NOTICE",
                    "channelType": "WECHAT",
                    "triggerType": "MANUAL",
                },
                {
                    "custId": 1,
                    "chargeIds": [101, 102],
                    "billPeriod": "2026-09",
                    "arrearsAmount": "117.30",
                    "strategyCode": "PRE_STOP_NOTICE",
                    "channelType": "SMS",
                    "triggerType": "MANUAL",
                    "eventNo": "OA-20261120-0001",
                    "relatedDisposalRef": "TS-20261120-0007",
                },
            ]
        }
    )

    cust_id: Id = Field(description="客户标识 (biz_charge.cust_id)")
    charge_ids: list[Id] = Field(
        min_length=1,
        max_length=200,
        description="欠费账单集合 (biz_charge.id)：须为该客户已过缴费截止日的未缴账单",
    )
    bill_period: BillPeriod = Field(
        description="账期 (biz_charge.bill_period)：所选账单之一的账期，频控按它计"
    )
    arrears_amount: Amount = Field(description="欠费金额汇总：所选账单当前应缴之和（不符时拒绝并返回实际值）")
    strategy_code: StrategyCode = Field(
        description="命中的催缴策略编码：FIRST_NOTICE 首次催缴、SECOND_NOTICE 二次催缴、PRE_STOP_NOTICE 停水预告"
    )
    channel_type: ChannelType = Field(
        description="触达渠道：SMS 短信、WECHAT 微信公众号模板消息、INBOX 站内信；所选渠道不可用时按 微信→短信 回退"
    )
    trigger_type: TriggerType = Field(description="触发方式：AUTO / MANUAL（人工补发记 MANUAL）")
    event_no: str | None = Field(
        default=None,
        pattern=EVENT_NO,
        description="业务事件号；不填由系统生成并返回。同一 eventNo 重复提交返回已生成的任务（幂等）",
    )
    related_disposal_ref: DisposalRef | None = Field(default=None, description="关联停复水或工单引用")

    def command(self) -> commands.CreateTask:
        return commands.CreateTask(
            cust_id=self.cust_id,
            charge_ids=tuple(self.charge_ids),
            bill_period=self.bill_period,
            arrears_amount=self.arrears_amount,
            strategy_code=self.strategy_code,
            channel_type=self.channel_type,
            trigger_type=self.trigger_type,
            event_no=self.event_no,
            related_disposal_ref=self.related_disposal_ref,
        )


class TaskQuery(Model):
    """IF-REV-013 请求参数（任务查询）: every filter optional; a page and the counts per state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"taskNo": "CT202611200000000001"},
                {"custId": 1, "billPeriod": "2026-10", "status": "PENDING", "pageNo": 1, "pageSize": 20},
            ]
        }
    )

    task_no: str | None = Field(default=None, pattern=TASK_NO, description="催缴任务号")
    event_no: str | None = Field(default=None, pattern=EVENT_NO, description="业务事件号")
    cust_id: Id | None = Field(default=None, description="客户标识")
    bill_period: BillPeriod | None = Field(default=None, description="账期")
    status: FourStates | None = Field(
        default=None, description="状态：PENDING、SUCCESS、FAIL、MANUAL_VERIFIED"
    )
    strategy_code: StrategyCode | None = Field(default=None, description="催缴策略编码")
    channel_type: ChannelType | None = Field(default=None, description="触达渠道")
    trigger_type: TriggerType | None = Field(default=None, description="触发方式")
    run_no: str | None = Field(default=None, pattern=r"^RR\d{8}-\d{6,}$", description="扩展：生成批次号")
    page_no: int = Field(default=1, ge=1, le=10000, description="页码")
    page_size: int = Field(default=10, ge=1, le=100, description="每页数量")

    def command(self) -> commands.FindTasks:
        return commands.FindTasks(
            task_no=self.task_no,
            event_no=self.event_no,
            cust_id=self.cust_id,
            bill_period=self.bill_period,
            status=self.status,
            strategy_code=self.strategy_code,
            channel_type=self.channel_type,
            trigger_type=self.trigger_type,
            run_no=self.run_no,
            page_no=self.page_no,
            page_size=self.page_size,
        )


class ManualVerifyRequest(Model):
    """IF-REV-013 请求参数（人工核查）: taskNo and a note are both needed (1_002_008_003 otherwise)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "taskNo": "CT202611200000000001",
                    "manualVerifyNote": "电话联系客户确认已收到催缴通知",
                    "relatedDisposalRef": "TS-20261120-0007",
                }
            ]
        }
    )

    task_no: str | None = Field(default=None, max_length=32, description="催缴任务号；人工核查时必填")
    manual_verify_note: str | None = Field(
        default=None, max_length=500, description="人工核查说明；人工核查时必填（为空答复 1_002_008_003）"
    )
    related_disposal_ref: DisposalRef | None = Field(default=None, description="关联停复水或工单引用")

    def command(self) -> commands.ManualVerify:
        return commands.ManualVerify(self.task_no, self.manual_verify_note, self.related_disposal_ref)


class ReminderGenerateRequest(Model):
    """扩展：按营业所批量生成催缴任务（每月计划任务同此，triggerType AUTO）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"deptId": 2},
                {"deptId": 2, "strategyCode": "PRE_STOP_NOTICE", "channelType": "SMS"},
            ]
        }
    )

    dept_id: Id = Field(description="营业所（部门）ID：含其下级部门的客户")
    strategy_code: StrategyCode | None = Field(
        default=None,
        description="催缴策略；不填按最早欠费账单逾期天数（IF-REV-012 revenue.reminder.*）自动选择",
    )
    channel_type: ChannelType | None = Field(default=None, description="首选渠道；不填为 微信（已绑定）→短信")
    trigger_type: TriggerType = Field(default="MANUAL", description="触发方式：按需生成为 MANUAL")
    on_date: dt.date | None = Field(default=None, description="逾期天数计至该日（默认今天）")

    def command(self) -> commands.Generate:
        return commands.Generate(
            dept_id=self.dept_id,
            trigger_type=self.trigger_type,
            strategy_code=self.strategy_code,
            channel_type=self.channel_type,
            on_date=self.on_date,
        )


# ---- replies -------------------------------------------------------------------------------------
class TaskReply(Reply):
    """IF-REV-013 响应参数, and our additions (扩展)."""

    task_no: str = Field(description="催缴任务号")
    interface_code: Literal["IF-REV-013"] = Field(description="固定返回 IF-REV-013")
    event_no: str = Field(description="业务事件号（= SYS-010 eventNo，回写承接时作为关联键）")
    status: FourStates = Field(description="状态：PENDING、SUCCESS、FAIL、MANUAL_VERIFIED")
    result_time: DateTime | None = Field(description="最近结果时间")
    failure_reason: str | None = Field(description="失败原因")
    result_channel: str | None = Field(description="实际触达渠道（如微信未送达改发短信，则为 SMS）")
    related_disposal_ref: str | None = Field(description="关联停复水或工单引用")
    msg: str = Field(description="处理说明")
    cust_id: int = Field(description="扩展：客户标识")
    charge_ids: list[int] = Field(description="扩展：欠费账单集合")
    bill_period: str = Field(description="扩展：账期")
    arrears_amount: Money = Field(description="扩展：欠费金额汇总")
    strategy_code: str = Field(description="扩展：催缴策略编码")
    template_code: str = Field(description="扩展：SYS-010 消息模板编码")
    channel_type: str = Field(description="扩展：选定的触达渠道")
    trigger_type: str = Field(description="扩展：触发方式")
    error_code: int | None = Field(description="扩展：未能发送的原因码（1_002_008_001 目标联系方式缺失）")
    run_no: str | None = Field(description="扩展：生成批次号（单个生成为 null）")
    manual_verify_note: str | None = Field(description="扩展：人工核查说明")
    verifier_name: str | None = Field(description="扩展：核查人")
    verify_time: DateTime | None = Field(description="扩展：核查时间")
    create_time: DateTime = Field(description="扩展：生成时间")


class Delivery(Reply):
    """One message of a task on its way to SYS-010 (扩展)."""

    message_id: int = Field(description="消息 ID (biz_message.id)")
    channel: str = Field(description="渠道 SMS、WECHAT、INBOX")
    receiver: str = Field(description="接收方（手机号脱敏）")
    status: FourStates = Field(description="消息四态")
    dispatch_state: str = Field(description="投递进度：NEW、QUEUED、SENDING、ACCEPTED、DEAD、CLOSED")
    attempts: int = Field(description="调用 SYS-010 次数")
    not_before: DateTime = Field(description="最早发送时间（短信静默时段顺延）")
    last_error: str | None = Field(description="最近一次调用失败原因（超时、5xx 保持 PENDING 并重试）")
    reach_status: str | None = Field(description="触达/阅读状态（SYS-010 reachStatus）")
    result_time: DateTime | None = Field(description="结果时间")


class TaskItem(TaskReply):
    deliveries: list[Delivery] = Field(description="扩展：任务的消息（首选渠道及回退短信）")


class StateCounts(Reply):
    pending: int = Field(alias="PENDING", description="PENDING 任务数")
    success: int = Field(alias="SUCCESS", description="SUCCESS 任务数")
    fail: int = Field(alias="FAIL", description="FAIL 任务数")
    manual_verified: int = Field(alias="MANUAL_VERIFIED", description="MANUAL_VERIFIED 任务数")


class TaskPage(Reply):
    """The seed's page of tasks, with the counts per state (扩展) of every task matching the filters
    other than status."""

    list: builtins.list[TaskItem] = Field(description="任务列表（新生成的在前）")
    total: int = Field(description="总记录数")
    page_no: int = Field(description="页码")
    page_size: int = Field(description="每页数量")
    counts: StateCounts = Field(description="扩展：按四态统计（不含 status 条件）")


class SkippedItem(Reply):
    cust_id: int = Field(description="客户标识")
    bill_period: str = Field(description="账期")
    strategy_code: str = Field(description="催缴策略编码")
    arrears_amount: Money = Field(description="欠费金额汇总")
    reason_code: Literal["FREQUENCY", "DAILY_CAP"] = Field(
        description="跳过原因：FREQUENCY 频控、DAILY_CAP 当日短信上限"
    )
    reason: str = Field(description="原因说明")
    existing_task_no: str | None = Field(description="FREQUENCY：窗口内已有的任务号")


class SkipCounts(Reply):
    frequency: int = Field(alias="FREQUENCY", description="频控跳过")
    daily_cap: int = Field(alias="DAILY_CAP", description="当日短信上限跳过")
    contact_missing: int = Field(
        alias="CONTACT_MISSING", description="无可用联系方式（任务记 FAIL，1_002_008_001）"
    )


class ReminderGenerateReply(Reply):
    """扩展：一次批量生成的汇总，被跳过对象与原因（前 100 条；全部见 .../task/skipped）。"""

    run_no: str = Field(description="生成批次号")
    dept_id: int = Field(description="营业所（部门）ID")
    on_date: DateStr = Field(description="逾期天数计至该日")
    trigger_type: TriggerType = Field(description="触发方式")
    candidate_count: int = Field(description="满足欠费前提的客户数")
    created_count: int = Field(description="已生成并排队发送的任务数")
    blocked_count: int = Field(description="无可用联系方式的任务数（记 FAIL，补齐后可补发）")
    skipped_count: int = Field(description="被跳过的客户数（频控、当日上限）")
    skipped_by_reason: SkipCounts = Field(description="按原因统计")
    queued_count: int = Field(description="排队发送的消息数")
    arrears_amount: Money = Field(description="已生成任务的欠费金额合计")
    sms_held_until: DateTime | None = Field(
        description="短信静默时段：短信顺延至该时间发送（不在静默时段为 null）"
    )
    parameter_problems: list[str] = Field(description="无法解析、按默认值处理的 IF-REV-012 参数")
    skipped_list: list[SkippedItem] = Field(description="被跳过的对象与原因（前 100 条）")


class ResultAck(Reply):
    """What a result callback came to (IF-EXT-008 回传执行结果)."""

    outcome: Literal["APPLIED", "RECEIPT", "DUPLICATE", "IGNORED", "UNKNOWN"] = Field(
        description="APPLIED 已更新四态、RECEIPT 补写回执、DUPLICATE 重复回执、IGNORED 不回退已确认状态、UNKNOWN 无对应消息（已记异常）"
    )
    message_status: FourStates | None = Field(description="消息当前四态")


SkippedPage = Page[SkippedItem]


class MessageResult(BaseModel):
    """What SYS-010 posts (SYS-002 <-> SYS-010 发送结果回写 mapping: eventNo, sendStatus, reachStatus, sendTime,
    resultMsg), signed. Documentation only: the route verifies the signature on the raw bytes and reads
    these fields itself (notifications/results.py)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "eventNo": "RT2026032000000001",
                    "templateCode": "ARREARS_FIRST_NOTICE",
                    "channel": "SMS",
                    "receiver": {"customerId": 1, "mobile": "13800138000"},
                    "messageId": "M20260320090000001",
                    "sendStatus": "DELIVERED",
                    "reachStatus": "REACHED",
                    "sendTime": "2026-03-20T09:00:05+08:00",
                    "resultMsg": "已送达",
                }
            ]
        },
    )

    eventNo: str = Field(description="消息事件编号：SYS-002 的 messageBizNo")
    templateCode: str = Field(description="消息模板编码")
    channel: str | None = Field(default=None, description="实际触达渠道：SMS、WECHAT、INBOX、EMAIL")
    receiver: dict[str, Any] | None = Field(
        default=None, description="接收方：customerId、mobile、openId、email"
    )
    messageId: str | None = Field(default=None, description="SYS-010 的消息 ID")
    sendStatus: str = Field(description="发送状态，映射为 PENDING、SUCCESS、FAIL 四态之一")
    reachStatus: str | None = Field(default=None, description="触达/阅读状态")
    sendTime: str | None = Field(default=None, description="发送时间（ISO 8601）")
    resultMsg: str | None = Field(default=None, description="结果说明")
