"""IF-REV-007 账务调整接口: the seed's adjustments (USAGE, AMOUNT, REFUND, REVERSE, BAD_DEBT) with a second
person's approval (approve, reject, the list: 扩展), and the late-payment penalty waiver (违约金减免)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.accounting import adjust, waiver
from waterrev.accounting.commands import FindAdjustments, FindWaivers
from waterrev.accounting.models.adjust import (
    AdjustApprove,
    AdjustCreate,
    AdjustPage,
    AdjustReject,
    AdjustReply,
)
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
    "/admin-api/revenue/accounting/adjust",
    **doc(
        AdjustReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.PRICE_OR_COMPONENT_MISSING,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="账务调整（IF-REV-007）：水量调整、金额调整、退款、冲正、坏账",
        description="每次调整都是新的账务记录，从不修改已入账金额。调整类型属于须审批类型（revenue.adjust.approval-types）"
        "或涉及金额超过阈值（revenue.adjust.approval-threshold）时返回 PENDING_APPROVAL，须由申请人以外、具有"
        " revenue:adjust:approve 权限的人审批后执行。同一请求（requestNo，或同一营业日内相同内容）重复提交返回已有的调整"
        "（replay）；requestNo 相同而内容不同答复 409。目标状态不允许变更（已冲正、已开票、余额不足、已核销坏账等）答复 1_002_004_001"
        "并返回当前状态。",
    ),
)
def create_adjustment(body: AdjustCreate) -> dict:
    return ok(adjust.request(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/accounting/adjust/approve",
    **doc(
        AdjustReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="账务调整审批通过（扩展，第二人审批）",
        description="申请人本人不能审批（403）。通过时按当时的账务重新校验并执行；已不能执行时调整以 FAIL 结束（failReason）。"
        "JM 开头的编号为违约金减免申请，按同一机制审批（须 revenue:penalty:approve）。重复审批返回已作出的决定。",
    ),
)
def approve_adjustment(body: AdjustApprove) -> dict:
    return ok(adjust.approve(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/accounting/adjust/reject",
    **doc(
        AdjustReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.ADJUST_STATE_NOT_ALLOWED,
        summary="账务调整驳回（扩展，第二人审批）",
    ),
)
def reject_adjustment(body: AdjustReject) -> dict:
    return ok(adjust.reject(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/accounting/adjust/page",
    **doc(
        AdjustPage, summary="账务调整分页查询（扩展，本人数据范围内；resultStatus=PENDING_APPROVAL 为待审批）"
    ),
)
def adjustment_page(
    cust_id: Annotated[int | None, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")] = None,
    charge_id: Annotated[
        int | None, Query(alias="chargeId", gt=0, le=BIGINT_MAX, description="账单 ID")
    ] = None,
    adjust_type: Annotated[
        Literal["USAGE", "AMOUNT", "REFUND", "REVERSE", "BAD_DEBT", "PENALTY_WAIVER"] | None,
        Query(alias="adjustType", description="调整类型（PENALTY_WAIVER：违约金减免申请）"),
    ] = None,
    result_status: Annotated[
        Literal["SUCCESS", "PENDING_APPROVAL", "FAIL"] | None,
        Query(alias="resultStatus", description="处理状态"),
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    query = FindAdjustments(cust_id, charge_id, adjust_type, result_status, page_no, page_size)
    return ok(adjust.find(request_context(app), query))


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
