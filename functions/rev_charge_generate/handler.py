"""IF-REV-005 账单生成接口: bills from VALID readings (success and failure lists), and whole-period
bill runs on the Step Functions workflow (start one, read its summary)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.billing import bill_run
from waterrev.billing.commands import GenerateBills
from waterrev.billing.models import (
    BillRunReply,
    BillRunRequest,
    BillRunStarted,
    GenerateReply,
    GenerateRequest,
    PriceDiffReply,
    PriceDiffRequest,
)
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.workflows import starter

app = new_app()


@app.post(
    "/admin-api/revenue/charge/generate",
    **doc(
        GenerateReply,
        summary="按账期生成账单（成功清单、失败清单与汇总）",
        description="价格模板、阶梯规则或费用组成缺失的客户不生成账单，列入 failureList（errorCode 1_002_002_003）。",
    ),
)
def generate(body: GenerateRequest) -> dict:
    # billing.generate (pricing, deduction) only where bills are written: the bill-run status polls and
    # starts of this function do not pay for it at their cold start
    from waterrev.billing import generate as billing

    command = GenerateBills(
        bill_period=body.bill_period,
        due_date=body.due_date,
        reading_batch_no=body.reading_batch_no,
        customer_ids=tuple(body.customer_ids),
        meter_read_ids=tuple(body.meter_read_ids),
        operator_id=body.operator_id,
    )
    return ok(billing.generate(request_context(app), command))


@app.post(
    "/admin-api/revenue/charge/price-diff",
    **doc(
        PriceDiffReply,
        ErrorCode.NOT_FOUND,
        summary="扩展：价差调整（已出账单按现行价格重算，差额另出 PRICE_DIFF 账单）",
        description=(
            "某账期、某价格编码的已出账单按现行价格版本重新计价，每张有差额的账单出一张 PRICE_DIFF 账单（关联原账单，"
            "明细逐行关联原账单行），原账单不变；同一更正重复执行不再出账。补收为未缴账单（预存余额自动抵扣），"
            "退差为负额账单并即时转入账户余额。现行版本缺少原账单的费用组成或阶梯单价时该账单列入 failureList"
            "（errorCode 1_002_002_003）。"
        ),
    ),
)
def run_price_diff(body: PriceDiffRequest) -> dict:
    from waterrev.billing import price_diff  # a rare back-office route: not every cold start pays for it

    return ok(price_diff.price_diff(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/charge/bill-run",
    **doc(BillRunStarted, ErrorCode.CONFLICT, summary="扩展：发起整期开账（工作流）"),
)
def start_run(body: BillRunRequest) -> dict:
    return ok(starter.start_bill_run(request_context(app), body.bill_period, body.due_date))


@app.get(
    "/admin-api/revenue/charge/bill-run/<runNo>",
    **doc(BillRunReply, ErrorCode.NOT_FOUND, summary="扩展：查询整期开账批次的结果"),
)
def get_run(
    runNo: Annotated[str, Path(pattern=r"^BR\d{6}-\d{2,}$", max_length=40, description="开账批次号")],
) -> dict:
    return ok(bill_run.get_run(request_context(app), runNo))


handler = lambda_handler(app)
