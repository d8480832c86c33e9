"""IF-REV-006 缴费处理接口: counter collection and write-off (CASH, WECHAT, ALIPAY, BANK, PREPAY), and the
review of payment exceptions (人工复核入口)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.payments import collection
from waterrev.payments import review as payment_review
from waterrev.payments.models import CollectionCreate, CollectionReply
from waterrev.payments.review_models import (
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
