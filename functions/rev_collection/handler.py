"""IF-REV-006 缴费处理接口: counter collection and write-off (CASH, WECHAT, ALIPAY, BANK, PREPAY), the bills a
counter can collect, and the review of payment exceptions (人工复核入口)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX
from waterrev.payments import charges, collection
from waterrev.payments import review as payment_review
from waterrev.payments.commands import FindCharges
from waterrev.payments.models.collection import (
    ChargePage,
    CollectionCreate,
    CollectionReply,
    ExceptionPage,
    ExceptionResolve,
    ExceptionStatus,
    ExceptionType,
    ResolvedException,
)

app = new_app()


@app.post(
    "/admin-api/revenue/collection/create",
    **doc(
        CollectionReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        summary="柜台收费与核销",
    ),
)
def create(body: CollectionCreate) -> dict:
    return ok(collection.collect(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/collection/charge/page",
    **doc(
        ChargePage,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="柜台待缴账单查询（扩展）",
        description="按客户（custId 或 custCode，至少一个）查询可在柜台收取的账单：未缴、部分缴费的账单在前且最早账期在前，"
        "其后为已缴账单（最近账期在前）；每张账单给出应缴金额和持有它的进行中线上/扫码订单。"
        "数据范围外的客户与不存在的客户同样答复 1_002_001_001。",
    ),
)
def charge_page(
    cust_id: Annotated[int | None, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")] = None,
    cust_code: Annotated[
        str | None, Query(alias="custCode", min_length=1, max_length=32, description="客户编号")
    ] = None,
    bill_period: Annotated[
        str | None, Query(alias="billPeriod", pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="账期 YYYY-MM")
    ] = None,
    charge_status: Annotated[
        Literal["UNPAID", "PARTIAL", "PAID"] | None,
        Query(alias="chargeStatus", description="缴费状态：UNPAID、PARTIAL、PAID；不传为全部"),
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    query = FindCharges(cust_id, cust_code, bill_period, charge_status, page_no, page_size)
    return ok(charges.find(request_context(app), query))


# ---- payment exception review (人工复核入口): the exceptions the settlement raised, a person's decision ----
@app.get(
    "/admin-api/revenue/collection/exception/page",
    **doc(ExceptionPage, summary="支付异常分页查询（人工复核入口）"),
)
def exception_page(
    status: Annotated[ExceptionStatus | None, Query(description="处理状态")] = None,
    exception_type: Annotated[
        ExceptionType | None, Query(alias="exceptionType", description="异常类型")
    ] = None,
    biz_order_no: Annotated[str | None, Query(alias="bizOrderNo", max_length=40)] = None,
    trade_no: Annotated[str | None, Query(alias="tradeNo", max_length=64)] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(
        payment_review.page_exceptions(
            request_context(app),
            status=status,
            exception_type=exception_type,
            biz_order_no=biz_order_no,
            trade_no=trade_no,
            page_no=page_no,
            page_size=page_size,
        )
    )


@app.post(
    "/admin-api/revenue/collection/exception/resolve",
    **doc(ResolvedException, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="支付异常人工处理"),
)
def exception_resolve(body: ExceptionResolve) -> dict:
    return ok(payment_review.resolve(request_context(app), body.command()))


handler = lambda_handler(app)
