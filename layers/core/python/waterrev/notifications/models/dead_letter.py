"""扩展 under IF-REV-013: the message exceptions (dead letters, results for unknown messages) a person
lists and replays or dismisses."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateTime, Id, Model, Page, Reply
from waterrev.notifications import commands
from waterrev.notifications.models import FourStates

ExceptionStatus = Literal["OPEN", "RESOLVED"]
ExceptionType = Literal["DEAD_LETTER", "UNKNOWN_RESULT"]


class DeadLetterResolve(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ids": [7], "action": "REPLAY", "remark": "SYS-010 已恢复，重发"},
                {"ids": [8], "action": "DISMISS", "remark": "号码已停机，放弃发送"},
            ]
        }
    )

    ids: list[Id] = Field(min_length=1, max_length=100, description="异常记录 ID (biz_message_exception.id)")
    action: Literal["REPLAY", "DISMISS"] = Field(
        description="REPLAY 重发（死信消息回到待发送，送达一次）；DISMISS 放弃（消息记 FAIL）"
    )
    remark: str = Field(min_length=1, max_length=200, description="处理说明（1-200 字）")

    def command(self) -> commands.ResolveDeadLetters:
        return commands.ResolveDeadLetters(tuple(self.ids), self.action, self.remark)


class DeadLetter(Reply):
    id: int = Field(description="异常记录 ID")
    exception_type: ExceptionType = Field(
        description="DEAD_LETTER 重试耗尽进入死信队列、UNKNOWN_RESULT 回执无对应消息"
    )
    status: ExceptionStatus = Field(description="OPEN 待处理、RESOLVED 已处理")
    message_id: int | None = Field(description="消息 ID")
    event_no: str | None = Field(description="业务事件号 (messageBizNo)")
    template_code: str | None = Field(description="消息模板编码")
    channel: str | None = Field(description="渠道")
    receiver: str | None = Field(description="接收方（手机号脱敏）")
    source: str | None = Field(description="来源：REMINDER、PAYMENT_RESULT、VERIFY_CODE 等")
    cust_id: int | None = Field(description="客户标识")
    message_status: FourStates | None = Field(description="消息四态")
    dispatch_state: str | None = Field(description="投递进度")
    attempts: int | None = Field(description="调用 SYS-010 次数")
    receive_count: int | None = Field(description="队列投递次数")
    last_error: str | None = Field(description="最近一次失败原因")
    sqs_message_id: str | None = Field(description="队列消息 ID")
    resolution: Literal["REPLAYED", "DISMISSED"] | None = Field(description="处理结果")
    resolver_name: str | None = Field(description="处理人")
    resolve_remark: str | None = Field(description="处理说明")
    resolve_time: DateTime | None = Field(description="处理时间")
    create_time: DateTime = Field(description="记录时间")


class Resolved(DeadLetter):
    replay: bool = Field(description="true：重复提交，返回已记录的处理")


class ResolveReply(Reply):
    results: list[Resolved] = Field(description="每条异常的处理结果")


DeadLetterPage = Page[DeadLetter]
