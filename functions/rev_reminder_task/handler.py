"""IF-REV-013 催缴任务生成与结果承接接口: reminder tasks (one, or an office at once), their query and 人工核查;
the dead letters a person replays; and SYS-010's signed delivery-result callback (IF-EXT-008 回传执行结果),
which the tasks' four states are承接 from."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, raw_body, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.notifications import dead_letters, reminders, results
from waterrev.notifications.commands import FindDeadLetters, FindSkipped
from waterrev.notifications.models.dead_letter import (
    DeadLetterPage,
    DeadLetterResolve,
    ExceptionStatus,
    ExceptionType,
    ResolveReply,
)
from waterrev.notifications.models.reminder import (
    ManualVerifyRequest,
    MessageResult,
    ReminderGenerateReply,
    ReminderGenerateRequest,
    ResultAck,
    SkippedPage,
    TaskCreate,
    TaskPage,
    TaskQuery,
    TaskReply,
)

app = new_app()


@app.post(
    "/admin-api/revenue/reminder/task",
    **doc(
        TaskReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.TOO_MANY_REQUESTS,
        ErrorCode.MESSAGE_TEMPLATE_OR_CONTACT_MISSING,
        summary="生成催缴任务",
        description="校验欠费前提（该客户已过缴费截止日的未缴账单、欠费金额汇总）、频控（同一账期同一模板在窗口内已催缴："
        "409，data 给出已有任务）与当日短信上限（429），按 微信（已绑定）→短信 选择渠道并在同一事务中排队消息；"
        "夜间静默时段的短信顺延发送。无可用联系方式时任务记为 FAIL 并答复 1_002_008_001（data 为该任务），补齐后可补发。",
    ),
)
def create(body: TaskCreate) -> dict:
    return ok(reminders.create_task(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/reminder/task/query",
    **doc(TaskPage, summary="查询催缴任务（分页，含四态统计）"),
)
def query(body: TaskQuery) -> dict:
    return ok(reminders.find_tasks(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/reminder/task/manual-verify",
    **doc(
        TaskReply,
        ErrorCode.MANUAL_VERIFY_CONTEXT_MISSING,
        ErrorCode.CONFLICT,
        summary="人工核查补记",
        description="仅 PENDING 任务可补记为 MANUAL_VERIFIED；缺少核查说明或任务不存在答复 1_002_008_003，其他状态 409。",
    ),
)
def manual_verify(body: ManualVerifyRequest) -> dict:
    return ok(reminders.manual_verify(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/reminder/task/generate",
    **doc(
        ReminderGenerateReply,
        ErrorCode.NOT_FOUND,
        summary="按营业所批量生成催缴任务（扩展）",
        description="与每月计划任务相同：逾期满 revenue.reminder.overdue-days 天且欠费不少于 revenue.reminder.min-arrears 的客户，"
        "按逾期天数选择策略；返回被跳过的对象与原因。",
    ),
)
def generate(body: ReminderGenerateRequest) -> dict:
    return ok(reminders.generate(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/reminder/task/skipped",
    **doc(SkippedPage, ErrorCode.NOT_FOUND, summary="批量生成被跳过的对象与原因（扩展）"),
)
def skipped(
    run_no: Annotated[str, Query(alias="runNo", pattern=r"^RR\d{8}-\d{6,}$", description="生成批次号")],
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 20,
) -> dict:
    return ok(reminders.skipped(request_context(app), FindSkipped(run_no, page_no, page_size)))


@app.get(
    "/admin-api/revenue/reminder/dead-letter/page",
    **doc(DeadLetterPage, summary="消息异常（死信、无对应消息的回执）分页查询（扩展）"),
)
def dead_letter_page(
    status: Annotated[ExceptionStatus | None, Query(description="OPEN 待处理、RESOLVED 已处理")] = None,
    exception_type: Annotated[
        ExceptionType | None, Query(alias="exceptionType", description="异常类型")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(
        dead_letters.find(request_context(app), FindDeadLetters(status, exception_type, page_no, page_size))
    )


@app.post(
    "/admin-api/revenue/reminder/dead-letter/replay",
    **doc(
        ResolveReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        summary="消息异常重发或放弃（扩展）",
        description="REPLAY：死信消息回到待发送，由管道重新投递，同一接收方只送达一次；DISMISS：放弃，消息记 FAIL。",
    ),
)
def dead_letter_replay(body: DeadLetterResolve) -> dict:
    return ok(dead_letters.resolve(request_context(app), body.command()))


# Validation is off for this route: the raw body is verified and read by notifications.results (a
# signature covers the exact bytes). `body` is declared only so /openapi.json shows the result.
@app.post(
    "/open-api/message/result",
    enable_validation=False,
    **doc(
        ResultAck,
        ErrorCode.UNAUTHORIZED,
        summary="SYS-010 发送结果回写（IF-EXT-008 回传执行结果，签名回调）",
        description="签名：X-Waterrev-Key-Id / Timestamp / Nonce / Signature（HMAC-SHA256，原始报文）；结果映射为四态，"
        "重复回执不改变状态，晚到的 FAIL 不覆盖 SUCCESS 或 MANUAL_VERIFIED，无对应消息的回执记为异常。",
    ),
)
def message_result(body: MessageResult = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(results.accept(request_context(app), dict(event.headers), raw_body(event.raw_event)))


handler = lambda_handler(app)
