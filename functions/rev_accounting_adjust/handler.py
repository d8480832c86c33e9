"""IF-REV-007 账务调整接口: so far the late-payment penalty waiver (违约金减免) - a request, a second person's
approval or rejection, and the list. The seed's /admin-api/revenue/accounting/adjust (USAGE, AMOUNT,
REFUND, REVERSE, BAD_DEBT) is not built yet."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.accounting import waiver
from waterrev.accounting.commands import FindWaivers
from waterrev.accounting.models.penalty_waiver import (
    PenaltyWaiverApprove,
    PenaltyWaiverCreate,
    PenaltyWaiverPage,
    PenaltyWaiverReject,
    PenaltyWaiverReply,
)
from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX

app = new_app()


@app.post(
    "/admin-api/revenue/accounting/penalty-waiver",
    **doc(
        PenaltyWaiverReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="违约金减免申请（扩展，IF-REV-007 账务调整）",
        description="登记对一张账单违约金的全部或部分减免；须由申请人以外、具有审批权限（revenue:penalty:approve）的人审批后生效。"
        "同一账单同时只有一个待审批申请：相同的申请重复提交返回该申请（replay），不同的申请答复 1_002_004_001。",
    ),
)
def create(body: PenaltyWaiverCreate) -> dict:
    return ok(waiver.request(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/accounting/penalty-waiver/approve",
    **doc(
        PenaltyWaiverReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="违约金减免审批通过（第二人审批）",
        description="申请人本人不能审批（403）。减免金额按审批当日的应缴违约金确定（不超过申请金额）；"
        "账单在进行中的线上/扫码订单中时不能审批（1_002_004_001）。重复审批返回已作出的决定。",
    ),
)
def approve(body: PenaltyWaiverApprove) -> dict:
    return ok(waiver.approve(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/accounting/penalty-waiver/reject",
    **doc(
        PenaltyWaiverReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="违约金减免驳回（第二人审批）",
    ),
)
def reject(body: PenaltyWaiverReject) -> dict:
    return ok(waiver.reject(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/accounting/penalty-waiver/page",
    **doc(PenaltyWaiverPage, summary="违约金减免申请分页查询（本人数据范围内）"),
)
def page(
    cust_id: Annotated[int | None, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")] = None,
    charge_id: Annotated[
        int | None, Query(alias="chargeId", gt=0, le=BIGINT_MAX, description="账单 ID")
    ] = None,
    status: Annotated[
        Literal["PENDING", "APPROVED", "REJECTED"] | None, Query(description="申请状态")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    query = FindWaivers(cust_id, charge_id, status, page_no, page_size)
    return ok(waiver.find(request_context(app), query))


handler = lambda_handler(app)
