"""IF-REV-011 银行代收协同接口, with the seed's 扩展 table 银行签约、状态查询与批次控制扩展接口: signing,
termination and the customer check; the batch (送盘 / RECONCILE / SETTLEMENT), its status (送盘 and 回盘
状态, with the differences), cancel and return; for withholding (代扣) and collection (托收) alike (the kind is
a field: agreementType, bizKind); the differences a person resolves; the file transfer configuration."""

import datetime as dt
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.banking import agreements, batch, daily_recon, reconcile, transfer, workflow
from waterrev.banking.commands import CustomerCheck
from waterrev.banking.models import (
    BackDiscRequest,
    BatchRequest,
    BatchStartReply,
    BatchStatusReply,
    CancelRequest,
    CheckReply,
    DiffReply,
    ResolveRequest,
    ReturnReply,
    SignReply,
    SignRequest,
    TerminateRequest,
    TransferConfigList,
    TransferConfigReply,
    TransferConfigRequest,
)
from waterrev.banking.models.daily import (
    DailyDiff,
    DailyReport,
    DailyResolveRequest,
    DailyRunItem,
    DailyRunRequest,
)
from waterrev.envelope import ok
from waterrev.errors import AppError, ErrorCode
from waterrev.fields import BIGINT_MAX, Page

app = new_app()
BASE = "/admin-api/revenue/bank/withholding"
_BATCH_NO = r"^[A-Za-z0-9_\-]{1,24}$"
BatchNoQuery = Annotated[str, Query(alias="batchNo", pattern=_BATCH_NO, description="批次号")]


@app.post(
    f"{BASE}/signing",
    **doc(SignReply, ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, ErrorCode.CONFLICT, summary="代扣 / 托收签约"),
)
def signing(body: SignRequest) -> dict:
    return ok(agreements.sign(request_context(app), body.command()))


@app.post(
    f"{BASE}/termination",
    **doc(SignReply, ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, ErrorCode.NOT_FOUND, summary="代扣 / 托收解约"),
)
def termination(body: TerminateRequest) -> dict:
    return ok(agreements.terminate(request_context(app), body.command()))


@app.get(
    f"{BASE}/customer-check",
    **doc(
        CheckReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="客户状态查询（代扣 / 托收）",
        description="按 custId 查询客户协议状态；或按 bankAccount 经盲索引查找持有该账号协议的客户（账号从不明文比较）。",
    ),
)
def customer_check(
    cust_id: Annotated[int | None, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")] = None,
    bank_account: Annotated[
        str | None, Query(alias="bankAccount", pattern=r"^\d{8,30}$", description="银行账号（按盲索引查找）")
    ] = None,
    agreement_type: Annotated[
        Literal["WITHHOLDING", "COLLECTION"], Query(alias="agreementType", description="协议类型：代扣、托收")
    ] = "WITHHOLDING",
) -> dict:
    return ok(agreements.check(request_context(app), CustomerCheck(agreement_type, cust_id, bank_account)))


@app.post(
    f"{BASE}/batch",
    **doc(
        BatchStartReply,
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        ErrorCode.RECONCILE_DIFF_UNRESOLVED,
        ErrorCode.BANK_RETURN_FILE_INVALID,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        ErrorCode.CONFLICT,
        summary="代扣 / 托收批次：创建并送盘（WITHHOLDING）、对账（RECONCILE）、结算（SETTLEMENT）",
        description="WITHHOLDING：立即解析文件传输配置（配置错误立即返回，不回退到其他租户或通道），创建批次并启动批次工作流"
        "（选单、送盘、等待回盘、核销、对账、结算）；同一 batchNo 已发送则 1_002_006_001。RECONCILE：与银行对账文件核对。"
        "SETTLEMENT：结算确认，存在未处置差异时 1_002_006_003。",
    ),
)
def create_batch(body: BatchRequest) -> dict:
    ctx = request_context(app)
    if body.business_type == "RECONCILE":
        return ok({**reconcile.reconcile(ctx, body.batch_no), "executionArn": None})
    if body.business_type == "SETTLEMENT":
        return ok({**reconcile.settle(ctx, body.batch_no), "executionArn": None})
    if body.bill_period is None:
        raise AppError(ErrorCode.BAD_REQUEST, "billPeriod: WITHHOLDING 必填")
    reply, _created = batch.create(ctx, body.command())
    arn = None
    if reply["batchStatus"] == "CREATED":
        arn = workflow.start(body.batch_no)
        batch.record_execution(body.batch_no, arn)
    return ok({"returnList": [], **reply, "executionArn": arn})


@app.get(
    f"{BASE}/send-disc-check",
    **doc(
        BatchStatusReply,
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        summary="送盘 / 回盘状态查询",
        description="批次状态、送盘文件、回盘文件处理记录（returnList）与对账差异（diffList）。",
    ),
)
def send_disc_check(batch_no: BatchNoQuery) -> dict:
    return ok(batch.status(request_context(app), batch_no))


@app.post(
    f"{BASE}/cancel-disc",
    **doc(
        BatchStatusReply,
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        ErrorCode.CONFLICT,
        summary="取消送盘",
        description="仅在银行取走送盘文件之前：CREATED 直接取消；SENT 先从送盘目录删除文件，文件已不在（银行已取走）则拒绝。",
    ),
)
def cancel_disc(body: CancelRequest) -> dict:
    ctx = request_context(app)
    _reply, token = batch.cancel(ctx, body.batch_no, body.reason)
    workflow.resume(token, "CANCELLED")
    return ok(batch.status(ctx, body.batch_no))


@app.post(
    f"{BASE}/back-disc",
    **doc(
        ReturnReply,
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        ErrorCode.BANK_RETURN_FILE_INVALID,
        ErrorCode.CONFLICT,
        summary="回盘",
        description="处理一份回盘文件：同一 batchNo + fileSerialNo 只处理一次；格式非法或批次不符 1_002_006_002 并记录待人工核查。",
    ),
)
def back_disc(body: BackDiscRequest) -> dict:
    ctx = request_context(app)
    reply = batch.apply_return(ctx, body.batch_no, body.file_serial_no, body.back_file_path)
    found = batch.status(ctx, body.batch_no)
    workflow.resume(batch.waiting_token(body.batch_no), found["batchStatus"])
    return ok(reply)


@app.post(
    f"{BASE}/reconcile/diff/resolve",
    **doc(
        DiffReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        summary="对账差异处置",
        description="WRITE_OFF 补核销（银行已扣、我方未销）；REVERSE 冲正（我方已销、银行未扣或金额不符）；IGNORE 忽略（须说明原因）。",
    ),
)
def diff_resolve(body: ResolveRequest) -> dict:
    return ok(reconcile.resolve(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/bank/transfer-config",
    **doc(
        TransferConfigList,
        ErrorCode.CONFLICT,
        summary="文件传输配置与解析预览（扩展）",
        description="全部配置行；给出 channelCode 时另答该租户与通道的解析结果（TENANT_CHANNEL > TENANT > CHANNEL > DEFAULT，"
        "按字段回退；缺 host/port/username/credentialRef、阶段目录为空或模板变量非法时立即返回配置错误）。",
    ),
)
def config_list(
    channel_code: Annotated[
        str | None, Query(alias="channelCode", pattern=r"^[A-Z0-9]{2,8}$", description="渠道编码：给出则解析")
    ] = None,
    tenant_id: Annotated[int | None, Query(alias="tenantId", gt=0, le=BIGINT_MAX, description="租户")] = None,
    bill_period: Annotated[
        str, Query(alias="billPeriod", pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="账期（代入模板）")
    ] = "2026-01",
    batch_no: Annotated[
        str, Query(alias="batchNo", pattern=_BATCH_NO, description="批次号（代入模板）")
    ] = "PREVIEW",
) -> dict:
    ctx = request_context(app)
    resolved = (
        None
        if channel_code is None
        else transfer.preview(ctx, tenant_id, channel_code, bill_period, batch_no)
    )
    return ok({**transfer.list_rows(ctx), "resolved": resolved})


@app.post(
    "/admin-api/revenue/bank/transfer-config",
    **doc(TransferConfigReply, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="保存文件传输配置行（扩展）"),
)
def config_save(body: TransferConfigRequest) -> dict:
    return ok(transfer.save_row(request_context(app), body.command()))


# ---- 扩展：每日三方对账（各渠道：我方收款、渠道对账单、银行入账；docs/BANK.md） ----------------------------
DAILY = "/admin-api/revenue/bank/daily-reconcile"
BizDateQuery = Annotated[
    str, Query(alias="bizDate", pattern=r"^\d{4}-\d{2}-\d{2}$", description="营业日（北京时间）")
]


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AppError(ErrorCode.BAD_REQUEST, f"bizDate: {text} 不是有效日期") from None


@app.get(f"{DAILY}/page", **doc(Page[DailyRunItem], summary="每日对账批次分页（扩展）"))
def daily_page(
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页条数")] = 20,
) -> dict:
    return ok(daily_recon.runs(request_context(app), page_no, page_size))


@app.get(
    f"{DAILY}/report",
    **doc(
        DailyReport,
        ErrorCode.NOT_FOUND,
        summary="每日对账报告（扩展）",
        description="该营业日的合计、各渠道、各文件（未送达或无法解析的为待人工处理的异常）与差异。",
    ),
)
def daily_report(biz_date: BizDateQuery) -> dict:
    return ok(daily_recon.report(request_context(app), _day(biz_date)))


@app.post(
    f"{DAILY}/run",
    **doc(
        DailyReport,
        summary="重新对账某营业日（扩展）",
        description="与每日定时任务相同：幂等，已处置的差异保持已处置，不再出现的未处置差异关闭。",
    ),
)
def daily_run(body: DailyRunRequest) -> dict:
    return ok(daily_recon.run(request_context(app), _day(body.biz_date)))


@app.post(
    f"{DAILY}/diff/resolve",
    **doc(DailyDiff, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="处置每日对账差异（扩展，须说明理由）"),
)
def daily_resolve(body: DailyResolveRequest) -> dict:
    return ok(daily_recon.resolve(request_context(app), body.diff_id, body.reason))


handler = lambda_handler(app)
