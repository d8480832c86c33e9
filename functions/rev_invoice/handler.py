"""IF-REV-008 发票申请接口: apply for an invoice of paid bills, and the back office's void / red-ink."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.invoices import apply as invoice_apply
from waterrev.invoices import modify as invoice_modify
from waterrev.invoices.models.apply import (
    ApplyReply,
    ApplyRequest,
    InvalidateRequest,
    ModifyReply,
    RedInkRequest,
)

app = new_app()


@app.post(
    "/business/invoice/apply",
    **doc(
        ApplyReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.INVOICE_NOT_ELIGIBLE,
        ErrorCode.CONFLICT,
        summary="发票申请",
        description="对客户已收费、未开票、未作废的整张账单申请开票；按费用组成与税率分行（多税率拆票）。"
        "幂等：applicationNo，或 custId + chargeIds（同一组账单的第二次申请返回第一次的申请）。",
    ),
)
def apply(body: ApplyRequest) -> dict:
    return ok(invoice_apply.apply(request_context(app), body.command()))


@app.post(
    "/business/invoice/invalidate",
    **doc(ModifyReply, ErrorCode.INVOICE_NOT_ELIGIBLE, ErrorCode.NOT_FOUND, summary="发票作废（后台）"),
)
def invalidate(body: InvalidateRequest) -> dict:
    return ok(invoice_modify.modify(request_context(app), body.command()))


@app.post(
    "/business/invoice/red-ink",
    **doc(
        ModifyReply,
        ErrorCode.INVOICE_NOT_ELIGIBLE,
        ErrorCode.NOT_FOUND,
        summary="发票红冲（后台）",
        description="数电票红冲经红字确认单；即时返回仅表示已受理，终态经 IF-REV-009 查询或 IF-EXT-007 回写收口。",
    ),
)
def red_ink(body: RedInkRequest) -> dict:
    return ok(invoice_modify.modify(request_context(app), body.command()))


handler = lambda_handler(app)
