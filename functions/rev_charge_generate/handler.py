"""IF-REV-005 账单生成接口: bills from VALID readings (success and failure lists), and whole-period
bill runs on the Step Functions workflow (start one, read its summary)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.billing import bill_run
from waterrev.billing import generate as billing
from waterrev.billing.commands import GenerateBills
from waterrev.billing.models import (
    BillRunReply,
    BillRunRequest,
    BillRunStarted,
    GenerateReply,
    GenerateRequest,
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
